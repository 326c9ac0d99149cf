"""K-fold cross-validation: out-of-sample word-level `pred_probs` for every sentence.

Folds are grouped by document (`document_folds`), so sentences of one abstract never sit on
both sides of a split. `cross_validate_once` makes one split and runs the fold runners of the
settings' mode on it (`nerqa.auditing.runners`); each finished fold is cached on disk
(`nerqa.auditing.foldcache`). An executor runs the folds: `LocalFolds` one after another here,
`nerqa.auditing.ray_folds.RayFolds` as Ray tasks. The audit's `cross_validate` averages the
repeats of this over other splits and seeds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from nerqa.auditing.foldcache import FoldCache, cache_key
from nerqa.auditing.runners import COMPONENTS, ONCE_MODES, RUNNERS, FoldRunner, FullRunner, OnceRunner, SharedPass
from nerqa.config import AuditSettings, TrainConfig
from nerqa.data.corpus import Corpus
from nerqa.errors import ConfigError, NerqaError
from nerqa.progress import ProgressCallback, quiet


def document_folds(corpus: Corpus, k: int, *, seed: int = 42) -> np.ndarray:
    """Fold number (0..k-1) of each sentence `(n_sentences,)`; a document's sentences share one fold.

    Documents are shuffled with `seed`, then each goes to the fold with the fewest sentences
    so far, largest documents first, which keeps folds within one document of equal size.

    Args:
        corpus: the corpus.
        k: the number of folds, at least 2.
        seed: shuffles the documents.

    Raises:
        ConfigError: `k` is under 2.
        NerqaError: the corpus has fewer documents than folds.
    """
    n_docs = len(corpus.documents)
    if k < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, not {k}")
    if n_docs < k:
        raise NerqaError(f"{n_docs} documents cannot fill {k} folds")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_docs)
    sizes = np.array([len(corpus.documents[i].sentences) for i in order])
    order = order[np.argsort(-sizes, kind="stable")]
    fill = np.zeros(k, dtype=int)
    doc_fold = np.zeros(n_docs, dtype=int)
    for doc in order:
        fold = int(fill.argmin())
        doc_fold[doc] = fold
        fill[fold] += len(corpus.documents[doc].sentences)
    return np.array([doc_fold[i] for i in corpus.sentence_doc_index], dtype=int)


@dataclass
class CrossValResult:
    """`pred_probs[i]` is an `(n_words, n_tags)` array for sentence i (corpus order), columns in
    `tags` order, predicted by a model that never saw sentence i's document. `folds[i]` is its
    fold; `seconds[f]` the wall time of fold f (0 when read from the cache).

    When only some folds were asked for (`folds=`) and others are not in the cache yet,
    `missing_folds` lists them and their sentences' `pred_probs` entries are None.
    """

    pred_probs: list[np.ndarray]
    tags: tuple[str, ...]
    folds: np.ndarray
    seconds: list[float] = field(default_factory=list)
    cached_folds: list[int] = field(default_factory=list)
    feature_seconds: float = 0.0
    missing_folds: list[int] = field(default_factory=list)
    # With `dynamics=True` (full runner): per sentence, `(records, n_words, n_tags)` float16,
    # the tag probabilities while training on it, over the k-1 folds whose training part it is in.
    dynamics: list[np.ndarray | None] | None = None
    # Per sentence, `(n_words, n_features)` float16: the frozen pass's word features, where a
    # runner of this cross-validation ran it (not cached: the pass is seconds).
    features: list[np.ndarray] | None = None
    # Where `pred_probs` is the mean of several cross-validations (the runners of `both`, or
    # repeats): each one's pred_probs, independent views for the noise estimate.
    views: list[list[np.ndarray]] | None = None

    @property
    def complete(self) -> bool:
        return not self.missing_folds


class FoldJob:
    """One fold to compute: its number, the held-out sentences and the training sentences
    (indices into the corpus the runner sees)."""

    __slots__ = ("fold", "held_out", "trained_on")

    def __init__(self, fold: int, held_out: np.ndarray, trained_on: np.ndarray) -> None:
        self.fold, self.held_out, self.trained_on = fold, held_out, trained_on


@dataclass
class FoldOutput:
    """What a fold gives back: per held-out sentence `(n_words, n_tags)` probabilities, the
    training dynamics per training sentence (None unless the runner keeps them), and its wall
    time in seconds."""

    fold: int
    probs: list[np.ndarray]
    dynamics: list[np.ndarray] | None
    seconds: float


class FoldExecutor(Protocol):
    """Runs fold jobs with a runner and yields each `FoldOutput` as it finishes, in any order.
    `LocalFolds` runs them one after another in this process; `nerqa.auditing.ray_folds.RayFolds` runs
    them as Ray tasks."""

    def run(
        self, runner: FoldRunner, corpus: Corpus, tags: tuple[str, ...], jobs: Sequence[FoldJob], progress
    ) -> Iterator[FoldOutput]:
        """Run the fold `jobs` with `runner` and yield each result as it finishes.

        Args:
            runner: trains and predicts each fold.
            corpus: the corpus the runner sees (the reference's documents after the audited ones).
            tags: the tag set every fold shares.
            jobs: the folds to compute (`FoldJob`).
            progress: Progress callback `(task, completed, total, info)`.

        Returns:
            Each fold's `FoldOutput`, in the order they finish.
        """
        ...


def compute_fold(
    runner: FoldRunner, corpus: Corpus, tags: tuple[str, ...], job: FoldJob, progress: ProgressCallback = quiet
) -> FoldOutput:
    """Run one fold job with `runner` (here or in a worker process)."""
    started = time.perf_counter()
    probs = runner.run(corpus, tags, job.trained_on, job.held_out, progress)
    dynamics = runner.take_dynamics() if runner.dynamics else None
    return FoldOutput(job.fold, probs, dynamics, time.perf_counter() - started)


class LocalFolds(FoldExecutor):
    """Folds one after another in this process. Before each fold, torch's thread count is
    re-read from the cores free then (`nerqa.models.runtime.refresh_threads`), so an audit
    gives cores back to work that started after it, and takes them again once it ends."""

    def run(self, runner, corpus, tags, jobs, progress):
        from nerqa.models.runtime import refresh_threads

        for job in jobs:
            refresh_threads()
            yield compute_fold(runner, corpus, tags, job, progress)


@dataclass(frozen=True)
class FoldRun:
    """Where and how the folds of one cross-validation run (`run_folds`).

    Attributes:
        cache_dir: the fold cache's folder (None: no cache).
        reference: a trusted corpus in every fold's training part, never predicted; the runner
            sees the corpus with the reference's documents after its own.
        executor: runs the folds to compute (default `LocalFolds`: one after another here);
            each is written to the cache as it comes back, so a killed run resumes at the folds
            not done.
        progress: `progress("fold", done, total, {"fold", "mode", "cached"})` for each cached
            fold, then each computed one as it finishes.
        fold_offset, fold_total: place these folds in a longer run (`both`: 2 x the folds).
    """

    cache_dir: str | Path | None = None
    reference: Corpus | None = None
    executor: FoldExecutor | None = None
    progress: ProgressCallback = quiet
    fold_offset: int = 0
    fold_total: int | None = None


def run_folds(
    corpus: Corpus,
    config: TrainConfig,
    runner: FoldRunner,
    *,
    k: int,
    folds: Sequence[int] | None = None,
    run: FoldRun | None = None,
) -> CrossValResult:
    """Cross-validate `corpus` in `k` folds with one runner, trained with `config`: compute the
    chosen `folds` (default all) unless cached; read the others from the cache when they are
    there. `run`: where and how (`FoldRun`).

    Args:
        corpus: the corpus to cross-validate.
        config: each fold's training settings (its seed draws the split).
        runner: what trains and predicts a fold (`nerqa.auditing.runners`).
        k: the number of folds.
        folds: compute only these fold numbers (default all).
        run: where and how the folds run (`FoldRun`).

    Raises:
        NerqaError: the corpus has no entities.
    """
    run = run or FoldRun()
    cache_dir, reference, progress = run.cache_dir, run.reference, run.progress
    fold_offset, fold_total = run.fold_offset, run.fold_total
    own_folds = document_folds(corpus, k, seed=config.seed)
    cache = FoldCache(
        Path(cache_dir) / cache_key(corpus, config, k=k, runner=runner, reference=reference) if cache_dir else None
    )
    pred_probs: list[np.ndarray | None] = [None] * len(corpus)
    assignment = own_folds
    if reference is not None and len(reference):
        corpus = Corpus(corpus.documents + reference.documents, name=corpus.name)
        assignment = np.concatenate([own_folds, np.full(len(reference), -1, dtype=int)])  # -1: always trained on
    tags = corpus.tag_set
    if len(tags) < 2:
        raise NerqaError("the corpus has no entities: nothing to cross-validate")
    wanted = sorted(set(range(k) if folds is None else folds))
    result = CrossValResult([], tags, own_folds, [0.0] * k)
    total = fold_total if fold_total is not None else len(wanted)
    with_dynamics = runner.dynamics
    dynamics: list[list[np.ndarray]] = [[] for _ in own_folds]
    jobs = [FoldJob(f, np.flatnonzero(assignment == f), np.flatnonzero(assignment != f)) for f in range(k)]
    done = 0

    def take(job: FoldJob, probs: Sequence[np.ndarray], fold_dynamics: Sequence[np.ndarray] | None) -> None:
        nonlocal done
        for index, p in zip(job.held_out, probs):
            pred_probs[index] = p
        for index, d in zip(job.trained_on, fold_dynamics or []):
            if index < len(own_folds):  # the reference's sentences are not audited
                dynamics[index].append(d)
        if job.fold in wanted:
            done += 1
            cached = job.fold in result.cached_folds
            progress("fold", fold_offset + done, total, {"fold": job.fold, "mode": runner.mode, "cached": cached})

    to_compute = []
    for job in jobs:
        cached = cache.read(job.fold, job.held_out, dynamics=with_dynamics)
        if cached is not None:
            result.cached_folds.append(job.fold)
            take(job, *cached)
        elif job.fold in wanted:
            to_compute.append(job)
        else:
            result.missing_folds.append(job.fold)
    if to_compute:
        for output in (run.executor or LocalFolds()).run(runner, corpus, tags, to_compute, progress):
            job = jobs[output.fold]
            result.seconds[output.fold] = output.seconds
            cache.write(output.fold, job.held_out, output.probs, output.dynamics)
            take(job, output.probs, output.dynamics)
    result.pred_probs = pred_probs  # type: ignore[assignment]
    result.feature_seconds = runner.feature_seconds
    if with_dynamics:
        result.dynamics = [np.concatenate(d) if d else None for d in dynamics]
    return result


def cross_validate_once(
    corpus: Corpus,
    settings: AuditSettings,
    *,
    folds: Sequence[int] | None = None,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback = quiet,
    reference: Corpus | None = None,
    dynamics: bool = False,
    executor: FoldExecutor | None = None,
) -> CrossValResult:
    """Out-of-sample `pred_probs` for every sentence of `corpus` from one split into
    `settings.k` folds, trained with `settings.training` (whose seed also draws the split);
    `settings.repeats`, `settings.level` and `settings.scoring` are not read here.

    `settings.mode` picks the runner (`full`, `fast`, `top`) or a mean of two (`both`: full and
    fast; `top+fast`), each runner cached as its own mode; the fold count in progress then runs
    to 2 x the folds. `folds` restricts the work to some folds, e.g. one per process sharing
    `cache_dir`; a later call without `folds` reads them all from the cache. Training and
    prediction inside a fold report as `nerqa.models.training.train` does.

    `dynamics`: also keep the full runner's training dynamics (`CrossValResult.dynamics`).
    `reference`: a trusted corpus whose sentences join the training part of every fold and are
    never predicted (its tags join the tag set); only `corpus` is split into folds.
    `executor`: where the folds run (default: one after another in this process).

    Args:
        corpus: the corpus to cross-validate.
        settings: the audit's settings (`k`, `mode`, `training`).
        folds: compute only these fold numbers.
        cache_dir: the fold cache's folder.
        progress: Progress callback `(task, completed, total, info)`.
        reference: a trusted corpus in the training part of every fold.
        dynamics: keep the training dynamics.
        executor: runs the folds (default `LocalFolds`).

    Raises:
        ConfigError: a fold number is outside 0..k-1.
    """
    k, config = settings.k, settings.training
    if folds is not None:
        bad = [f for f in folds if not 0 <= f < k]
        if bad:
            raise ConfigError(f"folds {bad} are outside 0..{k - 1}")
    modes = COMPONENTS[settings.mode]
    n = len(set(range(k) if folds is None else folds))
    once = settings.mode in ONCE_MODES and dynamics
    total = n * len(modes) + once
    shared = SharedPass(config, states="top" in modes)  # runs only if a runner asks for it
    results = [
        run_folds(
            corpus,
            config,
            FullRunner(config, dynamics=dynamics) if m == "full" else RUNNERS[m](config, shared),
            k=k,
            folds=folds,
            run=FoldRun(cache_dir, reference, executor, progress, fold_offset=i * n, fold_total=total),
        )
        for i, m in enumerate(modes)
    ]
    features = shared.frozen.features if shared.frozen is not None else None
    merged = results[0] if len(results) == 1 else mean_of(results, feature_seconds=shared.seconds)
    merged.features = features
    if once and folds is None:
        merged.dynamics, seconds = run_once(corpus, config, cache_dir=cache_dir, progress=progress, reference=reference)
        merged.seconds = [*merged.seconds, seconds]  # the fine-tuning's time, after the folds'
        progress("fold", total, total, {"fold": "all", "mode": "once", "cached": seconds == 0.0})
    return merged


def run_once(
    corpus: Corpus,
    config: TrainConfig,
    *,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback = quiet,
    reference: Corpus | None = None,
) -> tuple[list[np.ndarray | None], float]:
    """One fine-tuning on every sentence of `corpus` (and `reference`'s, after them), kept for its
    training dynamics: per sentence of `corpus`, `(epochs, n_words, n_tags)` float16, the tag
    probabilities while training on it. Cached under `cache_dir` as a fold of its own; returns
    the dynamics and the wall time in seconds (0 when read from the cache)."""
    runner = OnceRunner(config)
    whole = corpus if reference is None else Corpus(corpus.documents + reference.documents, name=corpus.name)
    cache = FoldCache(
        Path(cache_dir) / cache_key(corpus, config, k=1, runner=runner, reference=reference) if cache_dir else None
    )
    nothing = np.zeros(0, dtype=int)
    cached = cache.read(0, nothing, dynamics=True)
    if cached is not None:
        return list(cached[1] or []), 0.0
    tags = whole.tag_set
    output = compute_fold(runner, whole, tags, FoldJob(0, nothing, np.arange(len(whole))), progress)
    dynamics = (output.dynamics or [])[: len(corpus)]  # the reference's sentences are not audited
    cache.write(0, nothing, [np.zeros((0, len(tags)), dtype=np.float32)], dynamics)
    return list(dynamics), output.seconds


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
    `nerqa.auditing.ray_folds.RayFolds`: Ray tasks).

    Args:
        corpus: the corpus to cross-validate.
        settings: the audit's settings (`k`, `mode`, `repeats`, `training`; default `AuditSettings()`).
        folds: compute only these fold numbers; read the others from the cache.
        cache_dir: the fold cache's folder.
        reference: a trusted corpus in the training part of every fold, never predicted.
        executor: runs the folds (default `LocalFolds`).
        progress: Progress callback `(task, completed, total, info)`.

    Returns:
        The `CrossValResult`: pred_probs per sentence, averaged over the repeats.
    """
    settings = settings or AuditSettings()
    kept = "full" in COMPONENTS[settings.mode] or settings.mode in ONCE_MODES
    dynamics = kept and settings.scoring.dynamics_weight > 0
    return mean_of(
        [
            cross_validate_once(
                corpus,
                # Repeat r trains, and draws its split, with seed + r.
                settings.replace(training=settings.training.replace(seed=settings.training.seed + repeat)),
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


def mean_of(results: Sequence[CrossValResult], *, feature_seconds: float | None = None) -> CrossValResult:
    """One result from several cross-validations of the same corpus (the runners of `both`, or
    repeats over other splits and seeds): per sentence, the mean of their `pred_probs` (None
    where any lacks it) and all their training-dynamics records; per fold number, the sum of
    their `seconds`; the folds every one read from the cache; the fold assignment of the first."""
    if len(results) == 1:
        return results[0]
    n = len(results[0].pred_probs)
    records = [
        [r.dynamics[i] for r in results if r.dynamics is not None and r.dynamics[i] is not None] for i in range(n)
    ]
    return CrossValResult(
        pred_probs=[
            None
            if any(r.pred_probs[i] is None for r in results)
            else sum(r.pred_probs[i] for r in results) / len(results)
            for i in range(n)
        ],  # type: ignore[misc]
        tags=results[0].tags,
        folds=results[0].folds,
        seconds=[sum(r.seconds[f] for r in results) for f in range(len(results[0].seconds))],
        cached_folds=sorted(set.intersection(*(set(r.cached_folds) for r in results))),
        feature_seconds=sum(r.feature_seconds for r in results) if feature_seconds is None else feature_seconds,
        missing_folds=sorted(set().union(*(r.missing_folds for r in results))),
        dynamics=None
        if all(r.dynamics is None for r in results)
        else [np.concatenate(d) if d else None for d in records],
        features=next((r.features for r in results if r.features is not None), None),
        views=[r.pred_probs for r in results],
    )
