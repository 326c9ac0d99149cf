"""The audit: K-fold cross-validated pred_probs (`crossval`, over the fold `runners` and the
`foldcache`), typed span issues and their scores (`issues`, `run`), the errors a corpus repeats
(`neighbours`), the noise estimate (`noise`), the audit folder other tools read (`folder`), the
HTML report (`report`), and comparisons of two audits (`compare`).

`from nerqa.auditing import audit, score, write_outputs` keeps working: the pipeline's public names
(`nerqa.auditing.run`) are re-exported here, with the settings they take.
"""

from nerqa.auditing.run import (
    DYNAMICS_WEIGHT,
    audit,
    check_model_types,
    cross_validate,
    score,
    sentence_quality,
    with_dynamics,
    write_outputs,
)
from nerqa.config import FOLD_EPOCHS, FOLD_LEARNING_RATE, AuditSettings, fold_config

__all__ = [
    "DYNAMICS_WEIGHT",
    "FOLD_EPOCHS",
    "FOLD_LEARNING_RATE",
    "AuditSettings",
    "audit",
    "check_model_types",
    "cross_validate",
    "fold_config",
    "score",
    "sentence_quality",
    "with_dynamics",
    "write_outputs",
]
