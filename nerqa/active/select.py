"""Choosing the unlabeled sentences most worth annotating next.

Active learning: which unlabeled sentences a person should annotate next, pre-annotated.

A pool of unlabeled sentences streams through a model in chunks. Each sentence gets an
uncertainty score from its word-level `pred_probs` (higher = more worth a person's time)
and an embedding (the mean of the encoder's last hidden state over its words). Only a
bounded buffer of the best candidates is kept, so memory does not grow with the pool. At the
end a diversity guard picks the batch from the buffer, so a batch is never fifty
near-copies of one sentence:
- `near-duplicates` (the default): candidates are taken most uncertain first, leaving out
  any whose embedding has cosine similarity >= `NEAR_DUPLICATE` with one already taken;
- `clusters`: the candidates are clustered (k-means, one cluster per sentence wanted) and
  each cluster gives its most uncertain sentence, which spreads a batch further at the
  price of taking less uncertain sentences;
- `off`: the most uncertain sentences, as they come.

Strategies (`pred_probs` row i is word i's tag distribution; p1 >= p2 its two largest):
- `mnlp`: maximum normalised log-probability (Shen et al. 2017): -mean_i log p1_i, the
  per-word surprise of the model's best tagging; long sentences are not favoured.
- `margin`: 1 - min_i (p1_i - p2_i), the least decided word.
- `entropy`: sum_i H(p_i) in nats, total token entropy (Settles & Craven 2008).
- `least_confidence`: 1 - prod_i p1_i, one minus the best tagging's probability.
- `random`: a uniform random score (the baseline every strategy must beat).

With no model yet (cold start), sentences are chosen for coverage alone: a random sample of
the pool is clustered and each cluster gives the sentence nearest its centre.

Sentences already labeled (`skip`) and repeats within the pool are never chosen; sentences
are compared by their characters without whitespace, so two tokenisations of one sentence
match.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from nerqa.active.diversity import (
    DIVERSITY,
    CandidateBuffer,
    Diversity,
    distinct_picks,
    diverse_picks,
)
from nerqa.active.pool import Choice, PoolSentence, pool_sentences
from nerqa.active.predictors import Predictor
from nerqa.active.strategies import (
    DEFAULT_STRATEGY,
    Strategy,
    check_strategy,
    reason,
    sentence_score,
)
from nerqa.data.corpus import Corpus, Document, Sentence, text_key
from nerqa.data.probs import tags_from_probs
from nerqa.errors import NerqaError
from nerqa.progress import ProgressCallback, quiet

if TYPE_CHECKING:
    pass


# Candidates kept per sentence wanted: the diversity guard chooses among this many.
CANDIDATES_PER_PICK = 4
# Cold start samples more of the pool: coverage needs a wider view than uncertainty does.
COLD_CANDIDATES_PER_PICK = 16
CHUNK_SENTENCES = 512


@dataclass
class Selection:
    """What `select` chose, and what it read.

    Attributes:
        choices: the batch, rank order.
        strategy: the strategy used (`cold start` when no model scored the pool).
        counts: `read`, `duplicates`, `labeled` (skipped), `scored` sentences, `documents`.
        tags: the model's tag order (empty at a cold start).
    """

    choices: list[Choice]
    strategy: str
    counts: dict[str, int]
    tags: tuple[str, ...]
    diversity: str = "near-duplicates"
    settings: dict = field(default_factory=dict)

    def corpus(self) -> Corpus:
        """The batch as a corpus, pre-annotated: sentences grouped by their document (in
        pool order), so folds grouped by document stay grouped after a merge."""
        ordered = sorted(self.choices, key=lambda c: c.sentence.position)
        documents: list[Document] = []
        # By document number, not id: id-less documents (CoNLL, NeMo) must stay apart.
        for _, group in itertools.groupby(ordered, key=lambda c: c.sentence.document):
            chosen = list(group)
            documents.append(
                Document(chosen[0].sentence.doc_id, tuple(Sentence(c.sentence.tokens, c.tags) for c in chosen))
            )
        return Corpus(tuple(documents), name="batch")

    def records(self) -> list[dict]:
        """One JSON-able record per chosen sentence, rank order: `rank`, `position` (in the
        pool), `doc_id`, `score`, `strategy`, `reason`, `cluster`, `cluster_size`, `text`."""
        return [
            {
                "rank": c.rank,
                "position": c.sentence.position,
                "doc_id": c.sentence.doc_id,
                "score": round(c.score, 6),
                "strategy": self.strategy,
                "reason": c.reason,
                "cluster": c.cluster,
                "cluster_size": c.cluster_size,
                "text": " ".join(c.sentence.tokens),
            }
            for c in self.choices
        ]


@dataclass(frozen=True)
class PoolStream:
    """How a pool streams through `select`: `chunk_sentences` per predictor call, the pool's
    size in `total_documents` when known, and `progress`: task `select`, in documents read,
    info `{"sentences": scored so far}`."""

    chunk_sentences: int = CHUNK_SENTENCES
    total_documents: int | None = None
    progress: ProgressCallback = quiet


def select(
    documents: Iterable[Document],
    predictor: Predictor,
    *,
    budget: int,
    strategy: Strategy = DEFAULT_STRATEGY,
    diversity: Diversity = "near-duplicates",
    skip: Collection[int] = frozenset(),
    seed: int = 0,
    stream: PoolStream | None = None,
) -> Selection:
    """Choose `budget` sentences of a pool to annotate next.

    Args:
        documents: the pool, streamed (tags, if any, are ignored).
        predictor: a `ClassifierPredictor`, or an `EncoderPredictor` for a cold start
            (coverage alone; `strategy` is then not used).
        budget: how many sentences to choose.
        strategy: how a sentence's uncertainty is scored (`nerqa.active.strategies`).
        diversity: the guard against near-copies among the chosen (`DIVERSITY`).
        skip: `text_key`s of sentences already labeled.
        seed: seeds every random choice.
        stream: how the pool streams through the predictor (`PoolStream`), with progress.

    Returns:
        The `Selection`: the chosen sentences, best first, and the counts.

    Raises:
        NerqaError: the budget is under 1, the strategy or guard unknown, or the pool holds
            fewer new sentences than `budget`.
    """
    stream = stream or PoolStream()
    total_documents, chunk_sentences, progress = stream.total_documents, stream.chunk_sentences, stream.progress
    if budget < 1:
        raise NerqaError(f"the budget must be at least 1 sentence, not {budget}")
    check_strategy(strategy)
    if diversity not in DIVERSITY:
        raise NerqaError(f"unknown diversity guard {diversity!r}; choose one of {', '.join(DIVERSITY)}")
    cold = not predictor.tags
    used = "cold start" if cold else strategy
    draw = cold or strategy == "random"
    # Random stays a plain uniform sample: it is the baseline the other strategies must beat.
    # A cold start always clusters: coverage is all it has.
    guarded = "clusters" if cold else "off" if strategy == "random" else diversity
    per_pick = COLD_CANDIDATES_PER_PICK if cold else CANDIDATES_PER_PICK if guarded != "off" else 1
    buffer = CandidateBuffer(budget * per_pick, seed)
    scorer = _Scorer(predictor, buffer, strategy, cold=cold, draw=draw, seed=seed)
    counts = _stream(documents, scorer, skip, chunk_sentences, total_documents, progress)
    if counts["read"] == 0:
        raise NerqaError("the pool holds no sentences")
    if counts["scored"] < budget:
        raise NerqaError(
            f"the pool holds {counts['scored']:,} new sentences ({counts['read']:,} read, {counts['labeled']:,} "
            "already labeled, "
            f"{counts['duplicates']:,} repeats): fewer than the budget of {budget:,}"
        )
    candidates = buffer.best_first()
    choices, near_copies = _pick(candidates, budget, guarded, cold=cold, seed=seed)
    for rank, choice in enumerate(choices, start=1):
        choice.rank = rank
    settings = {
        "budget": budget,
        "strategy": used,
        "diversity": guarded,
        "seed": seed,
        "candidates": len(candidates),
        "near_copies_used": near_copies,
    }
    return Selection(choices, used, counts, tuple(predictor.tags), guarded, settings)


class _Scorer:
    """Scores chunks of pool sentences and offers each, as a `Choice`, to the buffer."""

    def __init__(
        self, predictor: Predictor, buffer: CandidateBuffer, strategy: Strategy, *, cold: bool, draw: bool, seed: int
    ) -> None:
        self.predictor, self.buffer, self.strategy = predictor, buffer, strategy
        self.cold, self.draw = cold, draw
        self.rng = np.random.default_rng(seed)
        self.scored = 0

    def __call__(self, chunk: list[PoolSentence], probs: list[np.ndarray] | None, embeddings: np.ndarray) -> None:
        """Offer a chunk's sentences, given the predictor's output for it."""
        tags = self.predictor.tags
        for row, sentence in enumerate(chunk):
            if self.cold:
                reason_text = "cold start: representative sentence"
                choice = Choice(sentence, float(self.rng.random()), reason_text, ("O",) * len(sentence.tokens))
            else:
                p = probs[row]  # type: ignore[index]
                score = float(self.rng.random()) if self.draw else sentence_score(p, self.strategy)
                predicted = tuple(tags_from_probs([p], tags)[0])
                choice = Choice(sentence, score, reason(sentence.tokens, p, tags, self.strategy), predicted)
            self.buffer.offer(choice, embeddings[row])
        self.scored += len(chunk)


def _predicted(predictor: Predictor, chunks: Iterator[tuple[list[PoolSentence], int]]) -> Iterator[tuple]:
    """`(chunk, document number, probs, embeddings)` per chunk, in pool order. A predictor with
    a `map` method (`nerqa.active.ray_pool.RayPredictor`) scores several chunks at once elsewhere; it
    pulls chunks as it has room for them, so only the chunks in flight are held here."""
    mapper = getattr(predictor, "map", None)
    if mapper is None:
        for chunk, number in chunks:
            yield (chunk, number, *predictor([s.tokens for s in chunk]))
        return
    held: collections.deque = collections.deque()

    def tokens() -> Iterator[list]:
        for chunk, number in chunks:
            held.append((chunk, number))
            yield [s.tokens for s in chunk]

    for probs, embeddings in mapper(tokens()):
        yield (*held.popleft(), probs, embeddings)


def _stream(
    documents,
    scorer: _Scorer,
    skip: Collection[int],
    chunk_sentences: int,
    total_documents: int | None,
    progress: ProgressCallback,
) -> dict[str, int]:
    """Read the pool once, leaving out labeled and repeated sentences, scoring the rest in chunks;
    returns the counts (`documents`, `read`, `duplicates`, `labeled`, `scored`)."""
    seen: set[int] = set()
    counts = {"documents": 0, "read": 0, "duplicates": 0, "labeled": 0, "scored": 0}

    def chunks() -> Iterator[tuple[list[PoolSentence], int]]:
        chunk: list[PoolSentence] = []
        number = -1
        for number, sentence in pool_sentences(documents):
            counts["documents"] = number + 1
            counts["read"] += 1
            key = text_key(sentence.tokens)
            if key in skip:
                counts["labeled"] += 1
                continue
            if key in seen:
                counts["duplicates"] += 1
                continue
            seen.add(key)
            chunk.append(sentence)
            if len(chunk) >= chunk_sentences:
                yield chunk, number
                chunk = []
        if chunk:
            yield chunk, number

    for chunk, number, probs, embeddings in _predicted(scorer.predictor, chunks()):
        scorer(chunk, probs, embeddings)
        progress("select", number + 1, total_documents or 0, {"sentences": scorer.scored})
    counts["scored"] = scorer.scored
    progress("select", counts["documents"], total_documents or counts["documents"], {"sentences": scorer.scored})
    return counts


def _pick(candidates: list, budget: int, guarded: str, *, cold: bool, seed: int) -> tuple[list[Choice], int]:
    """The batch from the best candidates under the diversity guard; returns it and how many
    near-copies the guard passed over."""
    if guarded == "near-duplicates":
        picks, near_copies = distinct_picks(np.stack([c.embedding for c in candidates]), budget)
        return [candidates[i].choice for i in picks], near_copies
    if guarded != "clusters":
        return [c.choice for c in candidates[:budget]], 0
    embeddings = np.stack([c.embedding for c in candidates])
    scores = np.array([c.score for c in candidates])
    choices = []
    for index, cluster, size in diverse_picks(embeddings, scores, budget, seed=seed, representative=cold):
        choice = candidates[index].choice
        choice.cluster, choice.cluster_size = cluster, size
        if cold:
            # The share of the sample its cluster holds: big clusters are what the pool is most about.
            choice.score = size / len(candidates)
            choice.reason = f"cold start: nearest the centre of a cluster of {size} sampled sentences"
        choices.append(choice)
    if cold:
        choices.sort(key=lambda c: -c.score)
    return choices, 0
