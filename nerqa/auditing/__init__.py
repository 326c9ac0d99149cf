"""The audit: K-fold cross-validated pred_probs (`crossval`), typed span issues and their scores
(`issues`, `run`), the audit folder other tools read (`folder`), the HTML report (`report`),
and comparisons of two audits (`compare`).

`from nerqa.auditing import audit, score, write_outputs` keeps working: the pipeline's public names
(`nerqa.auditing.run`) are re-exported here.
"""

from nerqa.auditing.run import (
    DYNAMICS_WEIGHT,
    FOLD_EPOCHS,
    FOLD_LEARNING_RATE,
    audit,
    check_model_types,
    cross_validations,
    fold_config,
    score,
    sentence_quality,
    with_dynamics,
    write_outputs,
)

__all__ = [
    "DYNAMICS_WEIGHT",
    "FOLD_EPOCHS",
    "FOLD_LEARNING_RATE",
    "audit",
    "check_model_types",
    "cross_validations",
    "fold_config",
    "score",
    "sentence_quality",
    "with_dynamics",
    "write_outputs",
]
