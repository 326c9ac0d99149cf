"""The audit: cross-validated pred_probs -> cleanlab scores -> typed issues -> output files.

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

from nerqa.auditing.corpus_checks import inconsistent_issues, sparse_issues
from nerqa.auditing.folder import REPORT_FILE, AuditResult, write_audit
from nerqa.auditing.issues import (
    SPAN_TYPES,
    Issue,
    cleanlab_scores,
    flagged_words,
    merge_issues,
    rank_issues,
    span_issues,
    weigh_by_margins,
    with_ids,
    word_margins,
)
from nerqa.auditing.neighbours import find_repeated_errors, neighbour_issues
from nerqa.auditing.noise import estimate_noise
from nerqa.config import AuditSettings, TrainConfig
from nerqa.data.corpus import Corpus
from nerqa.data.metrics import evaluate_tags
from nerqa.data.probs import tags_from_probs
from nerqa.errors import NerqaError
from nerqa.progress import ProgressCallback, quiet

if TYPE_CHECKING:
    from nerqa.auditing.crossval import CrossValResult, FoldExecutor
    from nerqa.models.classifier import Classifier

# How much the training dynamics weigh against the out-of-sample probabilities in the scores
# (`with_dynamics`): 0.25 gains on BC5CDR and stays within 0.01 on NCBI; 0.5 hurt NCBI (docs/benchmarks.md).
DYNAMICS_WEIGHT = 0.25


def with_dynamics(
    pred_probs: Sequence[np.ndarray], dynamics: Sequence[np.ndarray | None], weight: float = DYNAMICS_WEIGHT
) -> list[np.ndarray]:
    """`(1 - weight) * pred_probs + weight * the mean training-time probabilities`, per
    sentence `(n_words, n_tags)`: a word the model kept reading otherwise while it trained on
    the given label (low data-map confidence) looks more suspicious. Sentences without
    dynamics keep their pred_probs."""
    return [
        p if d is None or not len(d) else (1 - weight) * p + weight * d.astype(np.float32).mean(axis=0)
        for p, d in zip(pred_probs, dynamics)
    ]


def check_model_types(corpus: Corpus, tags: tuple[str, ...], model: str | Path) -> None:
    """Raise `NerqaError` unless the model's IOB `tags` cover every entity type of `corpus`."""
    known = {t.split("-", 1)[1] for t in tags if "-" in t}
    missing = sorted(set(corpus.entity_types) - known)
    if missing:
        raise NerqaError(
            f"{model}: the model cannot tag {', '.join(missing)} (its types: {', '.join(sorted(known)) or 'none'}); "
            "audit with a model trained on this corpus's types, or leave out --trained to cross-validate"
        )


def cross_validate(
    corpus: Corpus,
    settings: AuditSettings | None = None,
    *,
    folds: Sequence[int] | None = None,
    cache_dir: str | Path | None = None,
    reference: Corpus | None = None,
    executor: FoldExecutor | None = None,
    progress: ProgressCallback = quiet,
) -> CrossValResult:
    """The audit's cross-validation: `settings.repeats` cross-validations
    (`nerqa.auditing.crossval.cross_validate_once`, repeat r with seed `training.seed + r`),
    their pred_probs averaged, with the full runner's training dynamics where the mode has it.
    Each fold is cached under `cache_dir`.

    `folds` computes only those fold numbers (of every repeat and runner) and reads the rest
    from the cache where they are: one job of a batch array (`nerqa audit --fold I`); the
    result then lists the others in `missing_folds`, and a later call without `folds` finds the
    computed ones in the cache. `reference`: a trusted corpus in the training part of every fold,
    never predicted. `executor` runs the folds (default: one after another here;
    `nerqa.auditing.distributed.RayFolds`: Ray tasks)."""
    from nerqa.auditing.crossval import cross_validate_once, mean_of
    from nerqa.auditing.runners import COMPONENTS, ONCE_MODES

    settings = settings or AuditSettings()
    dynamics = ("full" in COMPONENTS[settings.mode] or settings.mode in ONCE_MODES) and DYNAMICS_WEIGHT > 0
    return mean_of(
        [
            cross_validate_once(
                corpus,
                settings,
                repeat=repeat,
                folds=folds,
                cache_dir=cache_dir,
                progress=progress,
                reference=reference,
                dynamics=dynamics,
                executor=executor,
            )
            for repeat in range(settings.repeats)
        ]
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
    guideline questions), over the frozen encoder's word features."""
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
            level=settings.level,
            settings={"mode": "model", "level": settings.level},
            started=started,
            features=word_features(corpus, config, progress) if settings.neighbours else None,
        )
    crossval = cross_validate(
        corpus, settings, cache_dir=cache_dir, reference=reference, executor=executor, progress=progress
    )
    recorded = {**settings.to_dict(), "dynamics_weight": DYNAMICS_WEIGHT if crossval.dynamics is not None else 0.0}
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
        level=settings.level,
        crossval=crossval,
        settings=recorded,
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
    level: str = "types",
    crossval: CrossValResult | None = None,
    settings: dict | None = None,
    started: float | None = None,
    features: Sequence[np.ndarray] | None = None,
) -> AuditResult:
    """Turn pred_probs into scores and issues (no training). With `crossval` holding training
    dynamics, the scores read `with_dynamics(pred_probs, ...)`; the CV metrics and the
    returned pred_probs stay out-of-sample. With `features`, the frozen encoder's word features
    `(n_words, n_features)` per sentence, mentions whose neighbours carry another type are
    issues too, and the guideline questions are found (`nerqa.auditing.neighbours`)."""
    started = started if started is not None else time.perf_counter()
    scoring_started = time.perf_counter()
    scored = (
        with_dynamics(pred_probs, crossval.dynamics, DYNAMICS_WEIGHT)
        if crossval is not None and crossval.dynamics is not None
        else pred_probs
    )
    cleanlab_sentence, _, flagged = cleanlab_scores(corpus, scored, tags, level=level)
    issues = span_issues(corpus, scored, tags, flagged=flagged)
    repeated = None
    if features is not None:
        repeated = find_repeated_errors(corpus, features)
        issues += neighbour_issues(corpus, repeated.mentions, repeated.votes)
    lowest_margins = training_sentence = None
    if crossval is not None and crossval.dynamics is not None:
        margins = word_margins(corpus, crossval.dynamics, tags)
        issues = weigh_by_margins(issues, margins)
        lowest_margins = np.array([m.min() if len(m) else 1.0 for m in margins])
        training = with_dynamics(pred_probs, crossval.dynamics, 1.0)
        training_sentence = cleanlab_scores(corpus, training, tags, level=level)[0]
    sentence_scores = sentence_quality(len(corpus), issues, cleanlab_sentence, lowest_margins, training_sentence)
    issues += inconsistent_issues(corpus)
    issues += sparse_issues(corpus, scored, tags)
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
    summary["settings"] = settings or {}
    summary["created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    summary["about"] = ABOUT
    summary["timings"] = {
        "total_seconds": round(time.perf_counter() - started, 2),
        "scoring_seconds": round(time.perf_counter() - scoring_started, 2),
        "fold_seconds": [round(s, 2) for s in crossval.seconds] if crossval else [],
        "cached_folds": crossval.cached_folds if crossval else [],
        "feature_seconds": round(crossval.feature_seconds, 2) if crossval else 0.0,
        "neighbour_seconds": round(repeated.seconds, 2) if repeated else 0.0,
        "threads": _torch_threads(),
    }
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
            "top": [q.describe() for q in repeated.questions[:QUESTIONS_SHOWN]] if repeated else [],
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
QUESTIONS_SHOWN = 10

# cleanlab's score only orders sentences whose span issues tie (most often: those with none).
_TIE_BREAK = 1e-3
# cleanlab's training-time sentence score enters the sentence score as sqrt(max(score, floor)):
# below the floor a sentence is already as doubted as it gets; the root and the floor keep
# injected errors found as before (why: docs/benchmarks.md, bench/real_noise.py).
TRAINING_FLOOR = 0.05


def sentence_quality(
    n_sentences: int,
    issues: list[Issue],
    cleanlab_sentence: np.ndarray,
    margins: np.ndarray | None = None,
    training_sentence: np.ndarray | None = None,
) -> np.ndarray:
    """Sentence label-quality scores `(n_sentences,)` in [0, 1], lower = more suspicious.

    The lowest span-issue score in the sentence (1 when it has none), with cleanlab's sentence
    score as a tie-break. With `margins`, each sentence's lowest training margin
    `(n_sentences,)` (`word_margins`), a sentence scores at most the square root of it: what an
    issue would score there, its score weighed by the margins (`weigh_by_margins`), had the
    model read any word otherwise. With `training_sentence`, cleanlab's sentence score on the
    training-time probabilities `(n_sentences,)`, the score is multiplied instead by the square
    root of it, floored at `TRAINING_FLOOR`: a sentence that both doubt comes first, and what
    the model never learnt while training on it counts beside what it reads out of sample.
    """
    lowest = np.ones(n_sentences)
    for issue in issues:
        if issue.type in SPAN_TYPES:
            lowest[issue.index] = min(lowest[issue.index], issue.score)
    if margins is not None:
        lowest = np.minimum(lowest, np.sqrt(margins))
    if training_sentence is not None:
        return lowest * np.sqrt(np.maximum(np.asarray(training_sentence, dtype=float), TRAINING_FLOOR))
    return (1 - _TIE_BREAK) * lowest + _TIE_BREAK * np.asarray(cleanlab_sentence, dtype=float)


def write_outputs(result: AuditResult, out_dir: str | Path) -> list[Path]:
    """Write the audit folder: the contract's files and `report.html` (each atomically)."""
    from nerqa.auditing.report import render_html

    return write_audit(result, out_dir, extra={REPORT_FILE: render_html(result)})
