"""Sentence scores side by side on the same cross-validated pred_probs: which ranking of
sentences finds the injected errors?

The audit's sentence score is the lowest margin-weighed span-issue score of the sentence (at
most the square root of its lowest training margin) times the square root of cleanlab's
sentence score on the training-time probabilities, floored at 0.05
(`nerqa.auditing.sentence_quality`); before issue 28 cleanlab's
score on the mixed probabilities was only a tie-break (`before (issue 28)`); before issue 19
it was the span-issue score alone, with the training dynamics at 0.25 (`before (issue 18)`,
rebuilt from its parts as `bench/realsets.py` does). On injected noise the issue score beats cleanlab's; on real errors
(`bench/real_noise.py`) the training margin adds most. The variants here separate what each
part adds:
- `before (issue 18)`: the audit's score before issue 19;
- `nerqa`: the audit's score (corpus weight: the model counts as 1 occurrence);
- `before (issue 28)`: the audit's score without cleanlab's training-time factor;
- `before (issue 29)`: the audit's score without the neighbour issues;
- `model w=N`: span issues with the model counting as N occurrences (`ScoringSettings.model_weight`);
- `model only`: the span issues' model score alone, no corpus weighting;
- `cleanlab types` / `cleanlab default`: cleanlab's sentence score (entity types; IOB tags);
- `rank mean`: the mean of each sentence's rank under `nerqa` and under `cleanlab types`.
Printed per corpus and noise kind: sentence AUROC and AUPRC against the injected errors, and
for the ranking before and now, the recall of the top-k span issues (k = errors injected).

Every score reads the same `both` cross-validation with training dynamics (the audit's
default), from the fold cache `bench/noise.py --cache DIR` leaves (folder NAME-N-KIND-both);
folds not there are computed.

    python bench/scoring.py --cache DIR [--sentences 2000|0] [--corpora ncbi bc5cdr] [--noise random realistic]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from noise import add_corpus_options, noisy_corpora
from realsets import before_ranking
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score

from nerqa.auditing import (
    AuditSettings,
    ScoringSettings,
    fold_config,
    score,
    sentence_quality,
    with_dynamics,
)
from nerqa.auditing.confident import cleanlab_scores
from nerqa.auditing.crossval import cross_validate_once
from nerqa.auditing.issues import SPAN_TYPES
from nerqa.auditing.pipeline import word_features
from nerqa.auditing.scoring import word_margins
from nerqa.auditing.spans import span_issues


def recall_at_k(issues, injected: dict) -> float:
    """The share of the injected errors that the top-k span issues (k = errors injected) point at."""
    k = sum(len(v) for v in injected.values())
    top = [i for i in issues if i.type in SPAN_TYPES][:k]
    found = {i.index for i in top if any(i.start < e and s < i.end for s, e, _ in injected.get(i.index, []))}
    return len(found) / max(k, 1)


def issue_recalls(noisy, crossval, injected: dict, features=None) -> dict[str, float]:
    """recall@k of the span issues, ranked as before issue 19 and as the audit ranks them now."""
    result = score(noisy, crossval.pred_probs, crossval.tags, crossval=crossval, features=features)
    return {
        "before (issue 18)": recall_at_k(before_ranking(noisy, crossval)[1], injected),
        "nerqa": recall_at_k(result.issues, injected),
    }


def variants(noisy, crossval, features=None) -> dict[str, np.ndarray]:
    """Name -> sentence scores `(n_sentences,)`, lower = more suspicious."""
    result = score(noisy, crossval.pred_probs, crossval.tags, crossval=crossval)
    if features is not None:
        # Issue 29 adds the neighbour issues (over the frozen encoder's features).
        now = score(noisy, crossval.pred_probs, crossval.tags, crossval=crossval, features=features)
        out_now = {"nerqa": np.asarray(now.sentence_scores), "before (issue 29)": np.asarray(result.sentence_scores)}
    else:
        out_now = {"nerqa": np.asarray(result.sentence_scores)}
    scoring = ScoringSettings()
    scored = with_dynamics(crossval.pred_probs, crossval.dynamics, scoring.dynamics_weight)
    cleanlab, _, flagged = cleanlab_scores(noisy, scored, crossval.tags)
    default, _, _ = cleanlab_scores(noisy, scored, crossval.tags, level="iob")
    out = {"before (issue 18)": before_ranking(noisy, crossval)[0], **out_now}
    # Issue 19's score, before issue 28 multiplied it by cleanlab's on the training-time probabilities.
    margins = word_margins(noisy, crossval.dynamics, crossval.tags)
    lowest = np.array([m.min() if len(m) else 1.0 for m in margins])
    spans = [i for i in result.issues if i.type in SPAN_TYPES]
    out["before (issue 28)"] = sentence_quality(len(noisy), spans, cleanlab, lowest)
    for weight in (3.0, 10.0):
        out[f"model w={weight:g}"] = sentence_quality(
            len(noisy),
            span_issues(noisy, scored, crossval.tags, flagged=flagged, scoring=scoring.replace(model_weight=weight)),
            cleanlab,
        )
    out["model only"] = sentence_quality(
        len(noisy),
        span_issues(noisy, scored, crossval.tags, flagged=flagged, scoring=scoring.replace(model_weight=1e9)),
        cleanlab,
    )
    out["cleanlab types"] = np.asarray(cleanlab)
    out["cleanlab default"] = np.asarray(default)
    out["rank mean"] = (rankdata(out["nerqa"]) + rankdata(out["cleanlab types"])) / 2
    return out


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_options(parser, sentences=0)
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="bench/noise.py's --cache folder (default: a temporary one, computed here)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=None, help="epochs per full-mode fold (default: the audit's)")
    add_smoke(parser, sentences=60, corpora=["ncbi"], noise=["random"], folds=2, epochs=1)
    args = parse(parser)
    from nerqa.models.runtime import quiet_transformers

    quiet_transformers()
    for label, noisy, injected in noisy_corpora(args):
        cache = args.cache or Path(__import__("tempfile").mkdtemp(prefix="nerqa-scoring-"))
        crossval = cross_validate_once(
            noisy,
            AuditSettings(k=args.folds, mode="both", training=fold_config(epochs=args.epochs)),
            cache_dir=cache / f"{label}-both",
            dynamics=True,
        )
        truth = np.array([i in injected for i in range(len(noisy))], dtype=int)
        print(
            f"\n{label}: {len(noisy):,} sentences, {int(truth.sum())} with an injected error "
            f"({len(crossval.cached_folds)} of {args.folds} folds cached)"
        )
        features = word_features(noisy, fold_config())
        recalls = issue_recalls(noisy, crossval, injected, features)
        for name, scores in variants(noisy, crossval, features).items():
            recall = f"  recall@{int(truth.sum())} of the span issues {recalls[name]:.3f}" if name in recalls else ""
            print(
                f"  {name:17} AUROC {roc_auc_score(truth, -scores):.3f}  AUPRC "
                f"{average_precision_score(truth, -scores):.3f}{recall}",
                flush=True,
            )


if __name__ == "__main__":
    main()
