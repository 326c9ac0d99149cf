"""The audit: cross-validated evidence of label errors, scored and written out.

The audit: K-fold cross-validated pred_probs (`crossval`, over the fold `runners` and the
`foldcache`), the evidence (`confident`: cleanlab; `spans`: typed span issues; `corpus_checks`;
`neighbours`, `mentions` and `questions`: the errors a corpus repeats), how the evidence becomes
scores (`scoring`, with `ScoringSettings`), the whole run (`pipeline`), the noise estimate
(`noise`), the audit folder other tools read (`folder`), the HTML report (`report`), and which
issues a re-audit resolved (`diff`).

`from nerqa.auditing import audit, score, write_outputs` keeps working: the pipeline's public names
are re-exported here, with the settings they take.
"""

from nerqa.auditing.crossval import cross_validate
from nerqa.auditing.pipeline import audit, check_model_types, score, write_outputs
from nerqa.auditing.scoring import sentence_quality, with_dynamics
from nerqa.config import FOLD_EPOCHS, FOLD_LEARNING_RATE, AuditSettings, ScoringSettings, fold_config

__all__ = [
    "FOLD_EPOCHS",
    "FOLD_LEARNING_RATE",
    "AuditSettings",
    "ScoringSettings",
    "audit",
    "check_model_types",
    "cross_validate",
    "fold_config",
    "score",
    "sentence_quality",
    "with_dynamics",
    "write_outputs",
]
