"""The audit from end to end: pred_probs to scored issues to the audit folder.

The audit from end to end: cross-validated pred_probs -> evidence -> scored, typed issues ->
the audit folder.

`nerqa audit CORPUS --out DIR` writes the stable contract described in `nerqa.auditing.folder` and
the README, plus `report.html`. Cross-validation folds are cached in `DIR/cache/`, so a
killed audit resumes and a repeated one re-reports without training.
"""

from __future__ import annotations

import datetime
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nerqa.auditing.confident import cleanlab_scores, flagged_words
from nerqa.auditing.corpus_checks import inconsistent_issues, sparse_issues
from nerqa.auditing.folder import REPORT_FILE, AuditResult, write_audit
from nerqa.auditing.issues import Issue, with_ids
from nerqa.auditing.neighbours import find_repeated_errors, neighbour_issues
from nerqa.auditing.noise import estimate_noise
from nerqa.auditing.scoring import (
    merge_issues,
    rank_issues,
    sentence_quality,
    weigh_by_margins,
    with_dynamics,
    word_margins,
)
from nerqa.auditing.spans import span_issues
from nerqa.config import AuditSettings, TrainConfig
from nerqa.data.corpus import Corpus
from nerqa.data.metrics import evaluate_tags
from nerqa.data.probs import tags_from_probs
from nerqa.errors import NerqaError
from nerqa.progress import ProgressCallback, quiet

if TYPE_CHECKING:
    from nerqa.auditing.crossval import CrossValResult, FoldExecutor
    from nerqa.models.classifier import Classifier


def check_model_types(corpus: Corpus, tags: tuple[str, ...], model: str | Path) -> None:
    """Raise `NerqaError` unless the model's IOB `tags` cover every entity type of `corpus`.

    Args:
        corpus: the corpus to audit.
        tags: the model's IOB tags.
        model: how to name the model in the error.

    Raises:
        NerqaError: the model cannot tag one of the corpus's types.
    """
    known = {t.split("-", 1)[1] for t in tags if "-" in t}
    missing = sorted(set(corpus.entity_types) - known)
    if missing:
        raise NerqaError(
            f"{model}: the model cannot tag {', '.join(missing)} (its types: {', '.join(sorted(known)) or 'none'}); "
            "audit with a model trained on this corpus's types, or leave out --trained to cross-validate"
        )


def audit(
    corpus: Corpus,
    settings: AuditSettings | None = None,
    *,
    cache_dir: str | Path | None = None,
    classifier: Classifier | None = None,
    reference: Corpus | None = None,
    executor: FoldExecutor | None = None,
    progress: ProgressCallback = quiet,
) -> AuditResult:
    """Audit `corpus` with `settings` (default `AuditSettings()`): cross-validated pred_probs
    (`cross_validate`), scored at `settings.level` (`score`).

    With `classifier`, its predictions replace cross-validation (not out-of-sample for the data
    it was trained on), and `k`, `mode`, `repeats` and `training` are not used. With `reference`,
    a trusted corpus, its sentences are in the training part of every fold and are not audited.
    `executor` runs the folds (see `cross_validate`). With `settings.neighbours`, the audit also
    looks for the errors a corpus repeats (`nerqa.auditing.neighbours`: neighbour issues and
    guideline questions), over the frozen encoder's word features.

    Args:
        corpus: the corpus to audit.
        settings: every setting of the audit (default `AuditSettings()`).
        cache_dir: the fold cache's folder (a killed audit resumes from it).
        classifier: a trained classifier whose predictions replace cross-validation.
        reference: a trusted corpus in the training part of every fold, never audited.
        executor: runs the folds (default: one after another here; `RayFolds`: Ray tasks).
        progress: Progress callback `(task, completed, total, info)`: `fold`, `train`, `epoch`,
            `predict` and `features`.

    Returns:
        The `AuditResult`: ranked issues, sentence scores, pred_probs, summary and questions.

    Raises:
        NerqaError: the corpus has no entities or too few documents for the folds, or the model lacks a type.
    """
    settings = settings or AuditSettings()
    started = time.perf_counter()
    config = settings.training
    if classifier is not None:
        from nerqa.models.predict import predict_probs

        check_model_types(corpus, classifier.tags, "the model")
        probs = predict_probs(classifier, [s.tokens for s in corpus.sentences], progress=progress)
        return score(
            corpus,
            probs,
            classifier.tags,
            settings=settings,
            record={"mode": "model", "level": settings.level},
            started=started,
            features=word_features(corpus, config, progress) if settings.neighbours else None,
        )
    from nerqa.auditing.crossval import cross_validate

    crossval = cross_validate(
        corpus, settings, cache_dir=cache_dir, reference=reference, executor=executor, progress=progress
    )
    weight = settings.scoring.dynamics_weight if crossval.dynamics is not None else 0.0
    recorded = {**settings.to_dict(), "dynamics_weight": weight}
    if reference is not None:
        recorded["reference"] = {
            "name": reference.name,
            "sentences": len(reference),
            "fingerprint": reference.fingerprint(),
        }
    features = None
    if settings.neighbours:
        features = crossval.features if crossval.features is not None else word_features(corpus, config, progress)
    return score(
        corpus,
        crossval.pred_probs,
        crossval.tags,
        settings=settings,
        crossval=crossval,
        record=recorded,
        started=started,
        features=features,
    )


def word_features(corpus: Corpus, config: TrainConfig, progress: ProgressCallback = quiet) -> list[np.ndarray]:
    """The frozen encoder's word features of every sentence, `(n_words, n_features)` float16
    each (`nerqa.models.frozen.frozen_pass`, without the top layers' states)."""
    from nerqa.models.frozen import frozen_pass

    return frozen_pass(
        [s.tokens for s in corpus.sentences],
        config.model,
        max_length=config.max_length,
        stride=config.stride,
        top_layers=None,
        progress=progress,
    ).features


def score(
    corpus: Corpus,
    pred_probs: list[np.ndarray],
    tags: tuple[str, ...],
    *,
    settings: AuditSettings | None = None,
    crossval: CrossValResult | None = None,
    features: Sequence[np.ndarray] | None = None,
    record: dict | None = None,
    started: float | None = None,
) -> AuditResult:
    """Turn pred_probs into scores and issues (no training).

    Args:
        corpus: the audited corpus.
        pred_probs: per sentence, `(n_words, n_tags)` out-of-sample probabilities, columns in
            `tags` order.
        tags: the IOB tag set.
        settings: the audit's settings (default `AuditSettings()`): its `level` and `scoring`.
        crossval: where the pred_probs come from; with training dynamics the scores read them
            too (the CV metrics and the returned pred_probs stay out-of-sample).
        features: the frozen encoder's word features `(n_words, n_features)` per sentence,
            for the neighbour issues and the guideline questions (`nerqa.auditing.neighbours`).
        record: the settings `summary.json` records (default: none but `scoring`).
        started: `time.perf_counter()` when the audit began (for the summary's total time).

    Returns:
        The `AuditResult`: ranked issues, sentence scores, summary and questions.
    """
    settings = settings or AuditSettings()
    scoring, level = settings.scoring, settings.level
    started = started if started is not None else time.perf_counter()
    scoring_started = time.perf_counter()
    scored = (
        with_dynamics(pred_probs, crossval.dynamics, scoring.dynamics_weight)
        if crossval is not None and crossval.dynamics is not None
        else pred_probs
    )
    cleanlab_sentence, _, flagged = cleanlab_scores(corpus, scored, tags, level=level)
    issues = span_issues(corpus, scored, tags, flagged=flagged, scoring=scoring)
    repeated = None
    if features is not None:
        repeated = find_repeated_errors(corpus, features, scoring=scoring)
        issues += neighbour_issues(corpus, repeated.mentions, repeated.votes, scoring=scoring)
    lowest_margins = training_sentence = None
    if crossval is not None and crossval.dynamics is not None:
        issues, lowest_margins, training_sentence = _training_evidence(
            corpus, pred_probs, tags, crossval, issues, level
        )
    sentence_scores = sentence_quality(
        len(corpus), issues, cleanlab_sentence, lowest_margins, training_sentence, scoring=scoring
    )
    issues += inconsistent_issues(corpus)
    issues += sparse_issues(corpus, scored, tags, scoring=scoring)
    ranked = rank_issues(with_ids(merge_issues(issues), corpus))
    # Confident learning's count on the out-of-sample probabilities, as it is defined: on CoNLL
    # dev and NoiseBench expert it comes nearer the truth than on the mixed ones (docs/benchmarks.md).
    out_of_sample = flagged if scored is pred_probs else flagged_words(corpus, pred_probs, tags, level=level)
    summary = _summary(corpus, ranked, repeated, flagged=len(flagged))
    views = crossval.views if crossval is not None else None
    summary["noise"] = estimate_noise(corpus, out_of_sample, pred_probs, tags, views=views)
    summary["cv_metrics"] = evaluate_tags(
        [s.tags for s in corpus.sentences], tags_from_probs(pred_probs, tags)
    ).to_dict()
    summary["settings"] = {**(record or {}), "scoring": scoring.to_dict()}
    summary["created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    summary["about"] = ABOUT
    summary["timings"] = _timings(started, scoring_started, crossval, repeated)
    # As JSON has it, so that the summary read back from summary.json is equal to this one.
    summary = json.loads(json.dumps(summary, default=str))
    return AuditResult(
        corpus,
        pred_probs,
        tags,
        sentence_scores,
        ranked,
        np.asarray(cleanlab_sentence, dtype=float),
        summary,
        repeated.questions if repeated else [],
    )


def _training_evidence(
    corpus: Corpus,
    pred_probs: list[np.ndarray],
    tags: tuple[str, ...],
    crossval: CrossValResult,
    issues: list[Issue],
    level: str,
) -> tuple[list[Issue], np.ndarray, np.ndarray]:
    """What the training dynamics say: the span issues weighed by the training margins, each
    sentence's lowest margin `(n_sentences,)`, and cleanlab's sentence scores on the
    training-time probabilities `(n_sentences,)`."""
    margins = word_margins(corpus, crossval.dynamics, tags)  # type: ignore[arg-type]
    lowest = np.array([m.min() if len(m) else 1.0 for m in margins])
    training = with_dynamics(pred_probs, crossval.dynamics, 1.0)  # type: ignore[arg-type]
    return weigh_by_margins(issues, margins), lowest, cleanlab_scores(corpus, training, tags, level=level)[0]


def _timings(started: float, scoring_started: float, crossval: CrossValResult | None, repeated) -> dict:
    """The summary's `timings`, in seconds: the whole audit, scoring, each fold, the frozen pass
    and the neighbours; the folds read from the cache and torch's thread count."""
    return {
        "total_seconds": round(time.perf_counter() - started, 2),
        "scoring_seconds": round(time.perf_counter() - scoring_started, 2),
        "fold_seconds": [round(s, 2) for s in crossval.seconds] if crossval else [],
        "cached_folds": crossval.cached_folds if crossval else [],
        "feature_seconds": round(crossval.feature_seconds, 2) if crossval else 0.0,
        "neighbour_seconds": round(repeated.seconds, 2) if repeated else 0.0,
        "threads": _torch_threads(),
    }


def _summary(corpus: Corpus, ranked: list[Issue], repeated, *, flagged: int) -> dict:
    """The summary's corpus, issue and question counts (`score` adds the rest)."""
    return {
        "corpus": {
            "name": corpus.name,
            "fingerprint": corpus.fingerprint(),
            "documents": len(corpus.documents),
            "sentences": len(corpus),
            "tokens": corpus.n_tokens,
            "entities": dict(corpus.entity_counts()),
        },
        "issues": {
            "total": len(ranked),
            "by_type": dict(Counter(i.type for i in ranked)),
            "by_class": dict(Counter(i.given if i.given != "O" else i.suggested for i in ranked)),
        },
        "cleanlab_flagged_tokens": flagged,
        "questions": {
            "total": len(repeated.questions) if repeated else 0,
            "top": [q.describe() for q in repeated.questions[:QUESTIONS_IN_SUMMARY]] if repeated else [],
        },
    }


def _torch_threads() -> int | None:
    """torch's CPU thread count when torch is loaded (it always is after training)."""
    import sys

    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


# What each count of summary.json, and each number of an issue, means: the counts measure
# different things, so they differ (a reader of the file should not have to guess why).
ABOUT = {
    "corpus.entities": "the entities as labeled, per type",
    "issues": "one per suspicious span (span issues, neighbour votes and corpus checks on the same words merged)",
    "cleanlab_flagged_tokens": "words confident learning flags on the out-of-sample probabilities",
    "noise": "the estimated share of sentences and of entities in error, 95 % bootstrap interval over documents; "
    "noise.flagged is the share flagged before the fold models' own mistakes are taken out, noise.entities.total "
    "counts the labeled entities and the missed ones the count adds",
    "issue.score": "0-1, lower = more likely a label error (the ranking)",
    "issue.confidence": "0-1, the model's probability of the reading the suggestion gives the words it touches",
    "issue.model_score": "0-1, the out-of-sample probability of the given labels over the disputed words",
    "issue.margin": "0-1, how well the model fit the given label while trained on it (under 0.5: never)",
    "issue.agree/elsewhere": "of the other occurrences of the words (elsewhere), how many read as here (agree)",
}

# Guideline questions named in summary.json (all of them are in questions.jsonl).
QUESTIONS_IN_SUMMARY = 10


def write_outputs(result: AuditResult, out_dir: str | Path) -> list[Path]:
    """Write the audit folder: the contract's files and `report.html` (each atomically).

    Args:
        result: what `audit` or `score` returned.
        out_dir: the audit folder.

    Returns:
        The files written.
    """
    from nerqa.auditing.report import render_html

    return write_audit(result, out_dir, extra={REPORT_FILE: render_html(result)})
