"""Active learning: which unlabeled sentences a person should annotate next, pre-annotated.

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

import heapq
import itertools
import json
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from nerqa.data.corpus import Corpus, Document, Sentence, text_key
from nerqa.data.formats import ReadOptions
from nerqa.data.probs import tags_from_probs
from nerqa.errors import NerqaError
from nerqa.progress import ProgressCallback, quiet

if TYPE_CHECKING:
    from nerqa.models.classifier import Classifier

Strategy = Literal["mnlp", "margin", "entropy", "least_confidence", "random"]
STRATEGIES: tuple[str, ...] = ("entropy", "least_confidence", "mnlp", "margin", "random")
# The strategy that needed the fewest labels to reach random's F1 in bench/active.py (docs/benchmarks.md).
DEFAULT_STRATEGY: Strategy = "entropy"
Diversity = Literal["near-duplicates", "clusters", "off"]
DIVERSITY: tuple[str, ...] = ("near-duplicates", "clusters", "off")
# Cosine similarity at which two sentence embeddings count as near-copies: far above unrelated
# sentences, below a sentence and itself with a word left out (docs/benchmarks.md).
NEAR_DUPLICATE = 0.9
# Candidates kept per sentence wanted: the diversity guard chooses among this many.
CANDIDATES_PER_PICK = 4
# Cold start samples more of the pool: coverage needs a wider view than uncertainty does.
COLD_CANDIDATES_PER_PICK = 16
CHUNK_SENTENCES = 512
_EPS = 1e-12


# --- scores -----------------------------------------------------------------------------------


def word_uncertainty(probs: np.ndarray, strategy: Strategy) -> np.ndarray:
    """Per-word uncertainty under a strategy's measure, `(n_words,)`; higher = less sure.

    `probs` is one sentence's `(n_words, n_tags)` array. For `mnlp` and `least_confidence`
    this is -log p1, for `margin` 1 - (p1 - p2), for `entropy` the entropy in nats.
    """
    if strategy == "entropy":
        return -(probs * np.log(np.clip(probs, _EPS, 1.0))).sum(axis=1)
    top = np.sort(probs, axis=1)[:, ::-1]
    if strategy == "margin":
        second = top[:, 1] if probs.shape[1] > 1 else np.zeros(len(probs))
        return 1.0 - (top[:, 0] - second)
    return -np.log(np.clip(top[:, 0], _EPS, 1.0))


def sentence_score(probs: np.ndarray, strategy: Strategy) -> float:
    """One sentence's uncertainty score (higher = annotate first); see the module docstring.
    `random` has no score from probabilities: it is drawn by the caller."""
    if strategy == "random":
        raise ValueError("random scores are drawn, not computed from pred_probs")
    if len(probs) == 0:
        return 0.0
    words = word_uncertainty(probs, strategy)
    if strategy == "mnlp":
        return float(words.mean())
    if strategy == "margin":
        return float(words.max())
    if strategy == "entropy":
        return float(words.sum())
    return float(-math.expm1(-words.sum()))  # least confidence: 1 - prod p1 = 1 - exp(sum log p1)


def sentence_scores(pred_probs: Sequence[np.ndarray], strategy: Strategy, *, seed: int = 0) -> np.ndarray:
    """Scores for many sentences, `(n_sentences,)`; `random` draws uniform scores from `seed`."""
    check_strategy(strategy)
    if strategy == "random":
        return np.random.default_rng(seed).random(len(pred_probs))
    return np.array([sentence_score(p, strategy) for p in pred_probs], dtype=float)


def check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise NerqaError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def reason(tokens: Sequence[str], probs: np.ndarray, tags: Sequence[str], strategy: Strategy) -> str:
    """Why a sentence scored as it did, for the annotator: the least certain word and the
    model's two best tags there, e.g. `margin: "ataxia" B-Disease 0.48 vs O 0.41`."""
    if strategy == "random" or len(probs) == 0:
        return "random sample"
    word = int(word_uncertainty(probs, strategy).argmax())
    best = np.argsort(probs[word])[::-1]
    second = f" vs {tags[best[1]]} {probs[word, best[1]]:.2f}" if len(best) > 1 else ""
    return f'{strategy}: "{tokens[word]}" {tags[best[0]]} {probs[word, best[0]]:.2f}{second}'


# --- the pool ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSentence:
    """One unlabeled sentence: its tokens, its document's id and where it was read
    (`position`: its number in the pool, counting from 0, repeats and labeled ones included;
    `document`: its document's number in the pool)."""

    tokens: tuple[str, ...]
    doc_id: str | None
    position: int
    document: int = 0


def pool_sentences(documents: Iterable[Document]) -> Iterator[tuple[int, PoolSentence]]:
    """`(document number, sentence)` for every sentence of a stream of documents."""
    position = 0
    for number, document in enumerate(documents):
        for sentence in document.sentences:
            yield number, PoolSentence(sentence.tokens, document.id, position, number)
            position += 1


# --- models -----------------------------------------------------------------------------------


class Predictor(Protocol):
    """What selection needs from a model. `tags` is the column order of the probabilities,
    empty for an encoder without a classifier (cold start)."""

    tags: tuple[str, ...]

    def __call__(self, sentences: Sequence[Sequence[str]]) -> tuple[list[np.ndarray] | None, np.ndarray]:
        """Per sentence, `(n_words, n_tags)` probabilities (None for an encoder alone), and
        an `(n_sentences, dim)` float32 array of L2-normalised sentence embeddings."""
        ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), _EPS)).astype(np.float32)


class _EncoderPass:
    """One forward pass over windows giving word-level outputs and word-mean embeddings: the
    `Predictor` that both predictors below are."""

    tags: tuple[str, ...] = ()

    def __init__(self, model, tokenizer, max_length: int, stride: int, batch_size: int, head: Callable | None) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.max_length, self.stride, self.batch_size = max_length, stride, batch_size
        self.head = head  # hidden states -> probabilities, or None for embeddings only

    def __call__(self, sentences: Sequence[Sequence[str]]) -> tuple[list[np.ndarray] | None, np.ndarray]:
        import torch

        from nerqa.models.classifier import batched_forward
        from nerqa.models.windows import encode

        windows = encode(self.tokenizer, sentences, max_length=self.max_length, stride=self.stride)
        on = next(self.model.parameters()).device
        hidden_size = self.model.config.hidden_size
        sums = np.zeros((len(sentences), hidden_size), dtype=np.float64)
        counts = np.zeros(len(sentences))
        probs = [np.zeros((len(s), 0), dtype=np.float32) for s in sentences] if self.head is None else None
        head = self.head

        def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            # The encoder's last hidden state alone (not every layer's): `base_model` is the
            # encoder inside a token classifier, and the model itself for a bare encoder.
            hidden = self.model.base_model(**batch)[0]
            if head is None:
                return hidden
            return torch.cat([hidden, torch.softmax(head(hidden).float(), dim=-1)], dim=-1)

        outputs: dict[int, np.ndarray] = {}
        for chosen, stacked in batched_forward(
            windows, forward, pad_id=self.tokenizer.pad_token_id or 0, on=on, batch_size=self.batch_size
        ):
            for row, index in enumerate(chosen):
                window = windows[index]
                positions = [p for p, _ in window.owned]
                sums[window.sentence] += stacked[row, positions, :hidden_size].sum(axis=0)
                counts[window.sentence] += len(positions)
                if head is not None:
                    outputs[index] = stacked[row, : len(window), hidden_size:]
        embeddings = _normalised(sums / np.maximum(counts, 1)[:, None])
        if head is None:
            return probs, embeddings
        from nerqa.models.windows import word_probabilities

        return word_probabilities(
            windows, [outputs[i] for i in range(len(windows))], [len(s) for s in sentences]
        ), embeddings


class ClassifierPredictor(_EncoderPass):
    """A trained token classifier (`nerqa train`'s folder): probabilities and embeddings from
    one forward pass (the classification layer is applied to the last hidden state)."""

    def __init__(self, classifier: Classifier, *, batch_size: int = 64) -> None:
        model = classifier.model
        # Token classifiers apply dropout (a no-op in eval) then the linear layer to the last
        # hidden state; calling the layer ourselves gives the logits and the states at once.
        layer = getattr(model, "classifier", None)
        if layer is None:
            raise NerqaError(f"{type(model).__name__}: no `classifier` layer to score with")
        super().__init__(model, classifier.tokenizer, classifier.max_length, classifier.stride, batch_size, layer)
        self.tags = classifier.tags


class EncoderPredictor(_EncoderPass):
    """An encoder alone (cold start, before any model is trained): embeddings, no probabilities."""

    def __init__(
        self, path: str | Path | None = None, *, max_length: int = 128, stride: int = 32, batch_size: int = 64
    ) -> None:
        from nerqa.models.loading import load_encoder, window_limit

        encoder, tokenizer = load_encoder(path)
        super().__init__(encoder, tokenizer, window_limit(encoder, max_length), stride, batch_size, None)


# --- choosing ---------------------------------------------------------------------------------


@dataclass
class Choice:
    """A chosen sentence: its rank in the batch (1 = most worth annotating), score, reason,
    the model's tags (its pre-annotation; all `O` at a cold start) and its cluster."""

    sentence: PoolSentence
    score: float
    reason: str
    tags: tuple[str, ...]
    rank: int = 0
    cluster: int | None = None
    cluster_size: int = 1


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


@dataclass(order=True)
class _Candidate:
    score: float
    tiebreak: float
    choice: Choice = field(compare=False)
    embedding: np.ndarray = field(compare=False)


class CandidateBuffer:
    """The `capacity` highest-scoring candidates seen so far (a min-heap): memory stays
    bounded however large the pool."""

    def __init__(self, capacity: int, seed: int) -> None:
        self.capacity = capacity
        self.heap: list[_Candidate] = []
        self.rng = np.random.default_rng(seed + 1)

    def offer(self, choice: Choice, embedding: np.ndarray) -> None:
        # Ties (equal scores) are broken at random rather than by pool order.
        candidate = _Candidate(choice.score, float(self.rng.random()), choice, embedding)
        if len(self.heap) < self.capacity:
            heapq.heappush(self.heap, candidate)
        elif candidate > self.heap[0]:
            heapq.heapreplace(self.heap, candidate)

    def best_first(self) -> list[_Candidate]:
        return sorted(self.heap, reverse=True)


def diverse_picks(
    embeddings: np.ndarray, scores: np.ndarray, budget: int, *, seed: int, representative: bool = False
) -> list[tuple[int, int, int]]:
    """Choose `budget` of the candidates, one per k-means cluster of their embeddings.

    Args:
        embeddings: `(m, dim)` L2-normalised candidate embeddings, m >= budget.
        scores: `(m,)` candidate scores.
        representative: pick the member nearest each cluster's centre (coverage, for a cold
            start) instead of the highest-scoring one.

    Returns:
        `(candidate index, cluster, cluster size)` per pick, highest score first.
    """
    from sklearn.cluster import KMeans

    if len(embeddings) <= budget:
        return [(int(i), int(i), 1) for i in np.argsort(-scores, kind="stable")]
    means = KMeans(n_clusters=budget, n_init=1, random_state=seed).fit(embeddings)
    labels = means.labels_
    distances = np.linalg.norm(embeddings - means.cluster_centers_[labels], axis=1)
    picks = []
    for cluster in range(budget):
        members = np.flatnonzero(labels == cluster)
        if len(members) == 0:
            continue
        best = members[distances[members].argmin()] if representative else members[scores[members].argmax()]
        picks.append((int(best), cluster, len(members)))
    # k-means can leave a cluster empty: fill up with the best candidates not yet picked.
    taken = {p[0] for p in picks}
    for i in np.argsort(-scores, kind="stable"):
        if len(picks) >= budget:
            break
        if int(i) not in taken:
            picks.append((int(i), int(labels[i]), int((labels == labels[i]).sum())))
    return sorted(picks, key=lambda p: -scores[p[0]])


def distinct_picks(embeddings: np.ndarray, budget: int, *, threshold: float = NEAR_DUPLICATE) -> tuple[list[int], int]:
    """Indices of up to `budget` candidates, in their order, leaving out each one whose
    embedding has cosine similarity >= `threshold` with one already picked. When too few are
    left, the near-copies fill the batch, in order, after the others; returns the picks and
    how many near-copies had to fill it.

    Args:
        embeddings: `(m, dim)` L2-normalised candidate embeddings, best candidate first.
    """
    picked: list[int] = []
    passed: list[int] = []
    for i in range(len(embeddings)):
        if len(picked) == budget:
            break
        if picked and float((embeddings[picked] @ embeddings[i]).max()) >= threshold:
            passed.append(i)
        else:
            picked.append(i)
    filled = passed[: budget - len(picked)]
    return picked + filled, len(filled)


def select(
    documents: Iterable[Document],
    predictor: Predictor,
    *,
    budget: int,
    strategy: Strategy = DEFAULT_STRATEGY,
    diversity: Diversity = "near-duplicates",
    skip: Collection[int] = frozenset(),
    seed: int = 0,
    total_documents: int | None = None,
    chunk_sentences: int = CHUNK_SENTENCES,
    progress: ProgressCallback = quiet,
) -> Selection:
    """Choose `budget` sentences of a pool to annotate next.

    Args:
        documents: the pool, streamed (tags, if any, are ignored).
        predictor: a `ClassifierPredictor`, or an `EncoderPredictor` for a cold start
            (coverage alone; `strategy` is then not used).
        skip: `text_key`s of sentences already labeled.
        total_documents: the pool's size in documents, when known, for progress.

    Progress task `select`, in documents read; info `{"sentences": scored so far}`.
    Raises `NerqaError` when the pool holds fewer new sentences than `budget`.
    """
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
    rng = np.random.default_rng(seed)
    seen: set[int] = set()
    counts = {"documents": 0, "read": 0, "duplicates": 0, "labeled": 0, "scored": 0}
    outside = ("O",)

    def score_chunk(chunk: list[PoolSentence]) -> None:
        probs, embeddings = predictor([s.tokens for s in chunk])
        for row, sentence in enumerate(chunk):
            if cold:
                choice = Choice(
                    sentence, float(rng.random()), "cold start: representative sentence", outside * len(sentence.tokens)
                )
            else:
                p = probs[row]  # type: ignore[index]
                score = float(rng.random()) if draw else sentence_score(p, strategy)
                predicted = tuple(tags_from_probs([p], predictor.tags)[0])
                choice = Choice(sentence, score, reason(sentence.tokens, p, predictor.tags, strategy), predicted)
            buffer.offer(choice, embeddings[row])
        counts["scored"] += len(chunk)

    chunk: list[PoolSentence] = []
    last_document = -1
    for number, sentence in pool_sentences(documents):
        last_document = number
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
            score_chunk(chunk)
            chunk = []
            progress("select", number + 1, total_documents or 0, {"sentences": counts["scored"]})
    if chunk:
        score_chunk(chunk)
    counts["documents"] = last_document + 1
    progress("select", counts["documents"], total_documents or counts["documents"], {"sentences": counts["scored"]})
    if counts["read"] == 0:
        raise NerqaError("the pool holds no sentences")
    if counts["scored"] < budget:
        raise NerqaError(
            f"the pool holds {counts['scored']:,} new sentences ({counts['read']:,} read, {counts['labeled']:,} "
            "already labeled, "
            f"{counts['duplicates']:,} repeats): fewer than the budget of {budget:,}"
        )
    candidates = buffer.best_first()
    near_copies = 0
    if guarded == "clusters":
        embeddings = np.stack([c.embedding for c in candidates])
        scores = np.array([c.score for c in candidates])
        picks = diverse_picks(embeddings, scores, budget, seed=seed, representative=cold)
        choices = []
        for index, cluster, size in picks:
            choice = candidates[index].choice
            choice.cluster, choice.cluster_size = cluster, size
            if cold:
                # The share of the sample its cluster holds: big clusters are what the pool is most about.
                choice.score = size / len(candidates)
                choice.reason = f"cold start: nearest the centre of a cluster of {size} sampled sentences"
            choices.append(choice)
        if cold:
            choices.sort(key=lambda c: -c.score)
    elif guarded == "near-duplicates":
        picks, near_copies = distinct_picks(np.stack([c.embedding for c in candidates]), budget)
        choices = [candidates[i].choice for i in picks]
    else:
        choices = [c.choice for c in candidates[:budget]]
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


# --- reading the pool and writing the batch ---------------------------------------------------


def open_pool(
    path: str | Path, *, format: str | None = None, options: ReadOptions | None = None, text: bool = False
) -> tuple[Iterator[Document], int]:
    """The pool's documents and how many there are.

    Raw text (`text=True`, or a path whose corpus format cannot be detected) streams a line
    (or, in a folder, a `.txt` file) at a time; a corpus in any format is read whole, its
    labels ignored. Raises `NerqaError` naming the path when it holds no text.
    """
    from nerqa.data.formats import (
        count_text_documents,
        detect_format,
        read_corpus,
        read_text_documents,
    )
    from nerqa.errors import FormatDetectionError

    path = Path(path)
    if not path.exists():
        raise NerqaError(f"{path}: no such file or folder")
    if not text and format is None:
        try:
            format = detect_format(path)
        except FormatDetectionError:
            text = True
    if text:
        total = count_text_documents(path)
        if total == 0:
            raise NerqaError(f"{path}: the pool is empty (no text)")
        return read_text_documents(path), total
    corpus = read_corpus(path, format, options=options or ReadOptions())
    return iter(corpus.documents), len(corpus.documents)


def labeled_keys(corpus: Corpus) -> set[int]:
    """The `text_key`s of a labeled corpus's sentences, for `select(skip=...)`."""
    return {text_key(s.tokens) for s in corpus.sentences}


def selection_tasks(selection: Selection, tool: str) -> str:
    """The batch as annotation-tool tasks, rank order, pre-annotated with the model's spans.

    Each task carries `rank`, `score`, `strategy`, `reason`, `doc_id` and `position` under
    `nerqa` (Prodigy also shows rank, score and reason as `meta`). Label Studio's prediction
    `score` is `(rank - 1) / batch size`: sorting by it ascending follows nerqa's order.
    """
    from nerqa.data.tags import spans_from_tags
    from nerqa.interop.tasks import dump_tasks, task_record

    records = []
    for choice, fields in zip(selection.choices, selection.records()):
        predictions = (
            []
            if not selection.tags
            else [("nerqa", spans_from_tags(choice.tags), (choice.rank - 1) / len(selection.choices))]
        )
        fields = {k: v for k, v in fields.items() if k != "text"}
        meta = {"rank": choice.rank, "score": round(choice.score, 4), "reason": choice.reason}
        records.append(task_record(tool, choice.sentence.tokens, predictions, fields, meta=meta))
    return dump_tasks(records, tool)


SELECTION_FILE = "selection.jsonl"
SUMMARY_FILE = "summary.json"


def batch_files(
    selection: Selection,
    folder: str | Path,
    to: str,
    *,
    types: Sequence[str] = (),
    summary: dict | None = None,
    options: ReadOptions | None = None,
) -> dict[Path, str]:
    """Every file of a batch folder, built in memory (so a failure writes nothing):

    - the batch: `batch.EXT` in a corpus format (`text_batch.txt` + `labels_batch.txt` for
      NeMo), or `tasks.json` (Label Studio; with `labelstudio.xml`, its labeling config,
      when the entity `types` are known) / `tasks.jsonl` (Prodigy, doccano);
    - `selection.jsonl`: `Selection.records()`, one line per chosen sentence;
    - `summary.json`: counts, settings and whatever `summary` adds.
    """
    from nerqa.data.formats import EXTENSIONS, FORMATS, dump_text, nemo_files
    from nerqa.interop.tasks import TOOLS, label_config

    folder = Path(folder)
    files: dict[Path, str] = {}
    if to in TOOLS:
        files[folder / ("tasks.json" if to == "labelstudio" else "tasks.jsonl")] = selection_tasks(selection, to)
        if to == "labelstudio" and types:
            files[folder / "labelstudio.xml"] = label_config(types) + "\n"
    elif to == "nemo":
        files.update(nemo_files(selection.corpus(), folder, "batch", options or ReadOptions()))
    elif to in FORMATS:
        files[folder / f"batch{EXTENSIONS[to]}"] = dump_text(selection.corpus(), to)
    else:
        raise NerqaError(
            f"unknown output {to!r}; choose a format ({', '.join(FORMATS)}) or a tool ({', '.join(TOOLS)})"
        )
    files[folder / SELECTION_FILE] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in selection.records())
    content = {
        "strategy": selection.strategy,
        "diversity": selection.diversity,
        "counts": selection.counts,
        "settings": selection.settings,
        "output": to,
        "tags": list(selection.tags),
        **(summary or {}),
    }
    files[folder / SUMMARY_FILE] = json.dumps(content, indent=1, ensure_ascii=False) + "\n"
    return files
