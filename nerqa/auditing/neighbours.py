"""Errors a corpus repeats: mentions whose nearest neighbours carry another type, and
guideline questions.

Cross-validation sees an error only where the rest of the corpus labels the same thing
otherwise: a mistake the annotators repeat, or a guideline they followed throughout, is
learnt by every fold. Two views that do not ask a model trained on the labels:

- **Neighbours** (`neighbour_issues`): every entity mention is embedded in context
  (`mention_vectors`), and its nearest mentions across the corpus (other sentences, any
  surface form) vote. Where most of them carry another type, that is `wrong_tag` evidence,
  with their type as the suggestion and the neighbours as the reason ("6 of 10 similar
  mentions are ORG: Chelsea (s. 812), ...").
- **Questions** (`guideline_questions`): the mentions of each type are clustered by context.
  A cluster whose neighbours lean to another type much more than the type's other mentions
  do (a country in a sports result, where clubs are ORG) is listed as a question, not an
  error: under the current guideline its labels may be right. A team settles it with one
  decision for the whole cluster.

A mention's vector is the frozen encoder's word features (`nerqa.models.frozen`; the audit's
fast head reads the same): the mean over `CONTEXT` words each side of the mention, the
mention's own words left out, beside the mean over its sentence, each scaled to unit length.
What the mention says of itself (its form) is left out on purpose: the form's other
occurrences are the `inconsistent` check's, and a vote among them would repeat the corpus's
own error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from nerqa.auditing.issues import Issue
from nerqa.data.corpus import Corpus

# Words each side of a mention that make its context vector.
CONTEXT = 3
# Neighbours that vote on each mention.
NEIGHBOURS = 10
# The smallest share of the neighbours, of one other type, that raises a `wrong_tag` issue
# (with NEIGHBOUR_WEIGHT: chosen on bench/real_noise.py's four sets, docs/benchmarks.md).
MIN_SHARE = 0.8
# Up to this many mentions the nearest neighbours are exact (blocks of a matrix product);
# above it the vectors are reduced to REDUCED_DIMS (PCA fitted on a sample) and searched in an
# approximate index (faiss HNSW, where faiss is installed: `pip install 'nerqa[scale]'`). Exact
# search grows with the square of the mentions; the approximate path flags nearly the same
# (bench/neighbours.py, docs/benchmarks.md).
EXACT_LIMIT = 20_000
REDUCED_DIMS = 128
PCA_SAMPLE = 20_000
# Mentions per cluster, on average, when a type's mentions are clustered for questions.
CLUSTER_SIZE = 8
# The smallest cluster that makes a question, and how much more often (a share of the
# neighbours) its neighbours must carry the other type than its type's mentions do overall:
# below it a cluster is only a topic (CoNLL dev's top 20 questions lean 0.10 to 0.24 beyond).
MIN_CLUSTER = 3
MIN_EXCESS = 0.08
# Examples shown per cluster of a question.
EXAMPLES = 5


@dataclass(frozen=True)
class Mention:
    """One given entity span: sentence `index`, token offsets `start`/`end` (end exclusive),
    its type `label` and its words `text`."""

    index: int
    start: int
    end: int
    label: str
    text: str


def mentions_of(corpus: Corpus) -> list[Mention]:
    """Every given entity span of `corpus`, in corpus order."""
    return [
        Mention(index, span.start, span.end, span.label, " ".join(sentence.tokens[span.start : span.end]))
        for index, sentence in enumerate(corpus.sentences)
        for span in sentence.spans
    ]


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def mention_vectors(
    features: Sequence[np.ndarray], mentions: Sequence[Mention], *, context: int = CONTEXT
) -> np.ndarray:
    """`(n_mentions, 2 * n_features)` float32, unit length: per mention, the mean of its
    sentence's word features `(n_words, n_features)` over `context` words each side of it
    (its own words left out; the mention's words when it fills the sentence), beside the mean
    over the whole sentence."""
    if not mentions:
        return np.zeros((0, 2 * (features[0].shape[1] if len(features) else 0)), dtype=np.float32)
    sentence_means = {}
    out = np.empty((len(mentions), 2 * features[mentions[0].index].shape[1]), dtype=np.float32)
    for row, m in enumerate(mentions):
        words = features[m.index].astype(np.float32)
        if m.index not in sentence_means:
            sentence_means[m.index] = _unit(words.mean(axis=0))
        around = np.r_[max(0, m.start - context) : m.start, m.end : min(len(words), m.end + context)]
        local = words[around].mean(axis=0) if len(around) else words[m.start : m.end].mean(axis=0)
        out[row] = np.concatenate([_unit(local), sentence_means[m.index]])
    return _unit(out)


def nearest(vectors: np.ndarray, k: int, *, groups: np.ndarray, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest rows of each row of `vectors` `(n, d)` (unit length) by cosine, leaving
    out rows of the same `groups` value `(n,)` (a sentence); `(n, k)` indices and similarities,
    nearest first. Exact up to `EXACT_LIMIT` rows, approximate (faiss HNSW) above it where faiss
    is installed. Fewer than `k` candidates leave -1 / -inf."""
    n = len(vectors)
    vectors = np.asarray(vectors, dtype=np.float32)  # numpy's float16 matrix product is slow
    if n > EXACT_LIMIT:
        try:
            return _nearest_faiss(vectors, k, groups)
        except ModuleNotFoundError:
            pass
    index = np.full((n, k), -1, dtype=np.int64)
    sims = np.full((n, k), -np.inf, dtype=np.float32)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        s = vectors[lo:hi] @ vectors.T
        s[groups[lo:hi, None] == groups[None, :]] = -np.inf
        top = min(k, n)
        part = np.argpartition(-s, top - 1, axis=1)[:, :top]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1)
        chosen = np.take_along_axis(part, order, axis=1)
        values = np.take_along_axis(s, chosen, axis=1)
        chosen[~np.isfinite(values)] = -1
        index[lo:hi, :top], sims[lo:hi, :top] = chosen, values
    return index, sims


def _nearest_faiss(vectors: np.ndarray, k: int, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`nearest` through a faiss HNSW index (inner product on unit vectors): asks for a few
    more than `k`, then drops the same group's rows."""
    import faiss

    extra = 2 * k
    graph = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efSearch = 4 * (k + extra)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    graph.add(data)
    sims, found = graph.search(data, k + extra)
    index = np.full((len(vectors), k), -1, dtype=np.int64)
    out = np.full((len(vectors), k), -np.inf, dtype=np.float32)
    for row in range(len(vectors)):
        keep = [(j, s) for j, s in zip(found[row], sims[row]) if j >= 0 and groups[j] != groups[row]][:k]
        for col, (j, s) in enumerate(keep):
            index[row, col], out[row, col] = j, s
    return index, out


@dataclass(frozen=True)
class Vote:
    """What a mention's neighbours say: `label`, the most common type among them other than
    the mention's own, held by `agree` of the `of` neighbours; `neighbours`: `(sentence index,
    text, type, similarity)` of the neighbours of that type, nearest first."""

    label: str
    agree: int
    of: int
    neighbours: tuple[tuple[int, str, str, float], ...]

    @property
    def share(self) -> float:
        return self.agree / self.of if self.of else 0.0


def votes(mentions: Sequence[Mention], index: np.ndarray, sims: np.ndarray) -> list[Vote | None]:
    """Per mention, its neighbours' vote for another type (`Vote`), or None when none of them
    carries another type."""
    out: list[Vote | None] = []
    for row, m in enumerate(mentions):
        found = [j for j in index[row] if j >= 0]
        others = Counter(mentions[j].label for j in found if mentions[j].label != m.label)
        if not others:
            out.append(None)
            continue
        label, agree = others.most_common(1)[0]
        near = tuple(
            (mentions[j].index, mentions[j].text, label, round(float(s), 4))
            for j, s in zip(index[row], sims[row])
            if j >= 0 and mentions[j].label == label
        )
        out.append(Vote(label, agree, len(found), near))
    return out


def describe_vote(vote: Vote, shown: int = 3) -> str:
    """`6 of 10 similar mentions are ORG: Chelsea (s. 812), Lazio (s. 1204), ...` (sentence
    indices as the audit numbers them, from 0)."""
    examples = ", ".join(f"{text} (s. {index})" for index, text, _, _ in vote.neighbours[:shown])
    more = ", ..." if len(vote.neighbours) > shown else ""
    return f"{vote.agree} of {vote.of} similar mentions are {vote.label}: {examples}{more}"


@dataclass(frozen=True)
class Cluster:
    """Mentions of one question's side: how many, and a few `(sentence index, start, end,
    text)` examples (the nearest to the cluster's centre first)."""

    size: int
    examples: tuple[tuple[int, int, int, str], ...]


@dataclass
class Question:
    """A group of mentions, all given `label`, whose contexts read like `suggested` mentions
    elsewhere in the corpus: a guideline question, not (yet) an error.

    Attributes:
        id: stable within an audit (`q1`, `q2`, ... in rank order).
        label: the type every mention of the group carries.
        suggested: the type their neighbours lean to.
        mentions: `(sentence index, start, end, text)` of every mention of the group.
        clusters: the group itself, then the mentions of `suggested` it resembles most.
        lean: the share of the group's neighbours that carry `suggested`, in [0, 1].
        baseline: the same share over every mention of `label` (how much the type leans
            there anyway).
        score: how strongly the group leans beyond its type, times the log of its size
            (higher = asked first).
    """

    id: str
    label: str
    suggested: str
    mentions: list[tuple[int, int, int, str]]
    clusters: list[Cluster]
    lean: float
    baseline: float
    score: float
    forms: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "suggested": self.suggested,
            "score": round(self.score, 6),
            "lean": round(self.lean, 4),
            "baseline": round(self.baseline, 4),
            "size": len(self.mentions),
            "forms": [{"text": t, "count": c} for t, c in self.forms],
            "clusters": [{"size": c.size, "examples": [_place(e) for e in c.examples]} for c in self.clusters],
            "mentions": [_place(m) for m in self.mentions],
        }

    @classmethod
    def from_dict(cls, record: dict) -> Question:
        """The question a `to_dict` record (a `questions.jsonl` line) describes."""

        def place(r: dict) -> tuple[int, int, int, str]:
            return (int(r["index"]), int(r["start"]), int(r["end"]), str(r["text"]))

        return cls(
            id=record["id"],
            label=record["label"],
            suggested=record["suggested"],
            mentions=[place(r) for r in record["mentions"]],
            clusters=[Cluster(c["size"], tuple(place(e) for e in c["examples"])) for c in record["clusters"]],
            lean=record["lean"],
            baseline=record["baseline"],
            score=record["score"],
            forms=[(f["text"], f["count"]) for f in record.get("forms", [])],
        )

    def describe(self) -> str:
        """One line: `LOC -> ORG? 48 mentions (CALIFORNIA 6, DETROIT 5, ...) read like ORG mentions (37 % of
        their neighbours, against 9 % for LOC)`."""
        forms = ", ".join(f"{t} {c}" for t, c in self.forms[:4]) + (", ..." if len(self.forms) > 4 else "")
        return (
            f"{self.label} -> {self.suggested}? {len(self.mentions)} mentions ({forms}) read like {self.suggested} "
            f"mentions ({self.lean:.0%} of their neighbours, against {self.baseline:.0%} for {self.label})"
        )


def _place(where: tuple[int, int, int, str]) -> dict:
    index, start, end, text = where
    return {"index": index, "start": start, "end": end, "text": text}


def _where(m: Mention) -> tuple[int, int, int, str]:
    return (m.index, m.start, m.end, m.text)


def _clusters(vectors: np.ndarray, seed: int) -> np.ndarray:
    """k-means labels `(n,)` for one type's mention vectors, about `CLUSTER_SIZE` mentions each."""
    from sklearn.cluster import KMeans

    k = int(np.clip(round(np.sqrt(len(vectors) / CLUSTER_SIZE)), 1, 64))
    if k < 2:
        return np.zeros(len(vectors), dtype=int)
    return KMeans(k, n_init=3, random_state=seed).fit(vectors).labels_


def guideline_questions(
    mentions: Sequence[Mention], vectors: np.ndarray, index: np.ndarray, *, seed: int = 42, limit: int | None = None
) -> list[Question]:
    """Guideline questions, most telling first (at most `limit`): per type, its mentions
    clustered by context (k-means on `vectors`, `CLUSTER_SIZE` mentions a cluster on average);
    a cluster of at least `MIN_CLUSTER` mentions whose neighbours (`index`, from `nearest`)
    carry another type more often, by `MIN_EXCESS` of them at least, than the type's mentions
    do overall. Score: that excess share times log(size)."""
    labels = np.array([m.label for m in mentions])
    out: list[Question] = []
    for label in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == label)
        if len(rows) < MIN_CLUSTER:
            continue
        near = index[rows]
        near_labels = np.where(near >= 0, labels[np.maximum(near, 0)], "")
        assigned = _clusters(vectors[rows], seed)
        for cluster in np.unique(assigned):
            members = rows[assigned == cluster]
            if len(members) < MIN_CLUSTER:
                continue
            theirs = near_labels[assigned == cluster]
            others = Counter(t for t in theirs.ravel().tolist() if t and t != label)
            if not others:
                continue
            suggested, _ = others.most_common(1)[0]
            lean = float((theirs == suggested).sum() / max((theirs != "").sum(), 1))
            baseline = float((near_labels == suggested).sum() / max((near_labels != "").sum(), 1))
            if lean - baseline < MIN_EXCESS:
                continue
            out.append(_question(mentions, vectors, members, index, label, suggested, lean, baseline))
    out.sort(key=lambda q: -q.score)
    for rank, question in enumerate(out[:limit] if limit else out, 1):
        question.id = f"q{rank}"
    return out[:limit] if limit else out


def _question(
    mentions: Sequence[Mention],
    vectors: np.ndarray,
    members: np.ndarray,
    index: np.ndarray,
    label: str,
    suggested: str,
    lean: float,
    baseline: float,
) -> Question:
    """The question of one cluster: its mentions, and the `suggested` mentions among their neighbours."""

    def examples(rows: Sequence[int]) -> tuple[tuple[int, int, int, str], ...]:
        rows = list(rows)
        if not rows:
            return ()
        centre = _unit(vectors[rows].mean(axis=0))
        ranked = sorted(rows, key=lambda r: -float(vectors[r] @ centre))
        return tuple(_where(mentions[r]) for r in ranked[:EXAMPLES])

    resembled = sorted({int(j) for j in index[members].ravel() if j >= 0 and mentions[j].label == suggested})
    forms = Counter(mentions[r].text for r in members).most_common()
    return Question(
        id="",
        label=label,
        suggested=suggested,
        mentions=[_where(mentions[r]) for r in members],
        clusters=[Cluster(len(members), examples(members)), Cluster(len(resembled), examples(resembled))],
        lean=round(lean, 4),
        baseline=round(baseline, 4),
        score=round((lean - baseline) * float(np.log(len(members))), 6),
        forms=forms,
    )


@dataclass
class RepeatedErrors:
    """What `find_repeated_errors` returns: the mentions, each one's neighbours' `votes`, and
    the guideline `questions`; `seconds` of the neighbour search and the clustering."""

    mentions: list[Mention]
    votes: list[Vote | None]
    questions: list[Question]
    seconds: float


def find_repeated_errors(
    corpus: Corpus,
    features: Sequence[np.ndarray],
    *,
    k: int = NEIGHBOURS,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
) -> RepeatedErrors:
    """Neighbour votes and guideline questions for `corpus`, from its frozen-encoder word
    features `(n_words, n_features)` per sentence (`nerqa.models.frozen.frozen_pass`)."""
    import time

    started = time.perf_counter()
    mentions = mentions_of(corpus)
    if len(mentions) < 2:
        return RepeatedErrors(mentions, [None] * len(mentions), [], 0.0)
    if progress:
        progress(f"nearest neighbours of {len(mentions):,} mentions")
    found, questions = repeated_errors(mentions, mention_vectors(features, mentions), k=k, seed=seed)
    return RepeatedErrors(mentions, found, questions, time.perf_counter() - started)


def repeated_errors(
    mentions: Sequence[Mention], vectors: np.ndarray, *, k: int = NEIGHBOURS, seed: int = 42
) -> tuple[list[Vote | None], list[Question]]:
    """The votes and questions of `mentions` from their vectors `(n_mentions, d)` (unit length);
    above `EXACT_LIMIT` mentions the vectors are reduced first (`reduce`)."""
    if len(vectors) > EXACT_LIMIT:
        vectors = reduce(vectors, seed=seed)
    index, sims = nearest(vectors, min(k, len(mentions) - 1), groups=np.array([m.index for m in mentions]))
    return votes(mentions, index, sims), guideline_questions(mentions, vectors, index, seed=seed)


def reduce(vectors: np.ndarray, dims: int = REDUCED_DIMS, *, seed: int = 42, block: int = 65_536) -> np.ndarray:
    """`(n, dims)` float32, unit length: `vectors` `(n, d)` projected on the `dims` principal
    components of a sample of `PCA_SAMPLE` rows (in blocks, so the float32 copy of a large float16
    input is never whole in memory)."""
    from sklearn.decomposition import PCA

    if vectors.shape[1] <= dims:
        return _unit(vectors.astype(np.float32))
    rng = np.random.default_rng(seed)
    sample = vectors[np.sort(rng.choice(len(vectors), min(PCA_SAMPLE, len(vectors)), replace=False))]
    pca = PCA(dims, svd_solver="randomized", random_state=seed).fit(sample.astype(np.float32))
    out = np.empty((len(vectors), dims), dtype=np.float32)
    for lo in range(0, len(vectors), block):
        out[lo : lo + block] = pca.transform(vectors[lo : lo + block].astype(np.float32))
    return _unit(out)


# A neighbour issue's score is 1 - NEIGHBOUR_WEIGHT * share (share >= MIN_SHARE), so at most
# 0.6: the vote alone never outranks a span issue the model is sure of; 1.0 cost crowdbest 0.03
# AUPRC (docs/benchmarks.md).
NEIGHBOUR_WEIGHT = 0.5


def neighbour_issues(
    corpus: Corpus,
    mentions: Sequence[Mention],
    found: Sequence[Vote | None],
    *,
    min_share: float = MIN_SHARE,
    weight: float = NEIGHBOUR_WEIGHT,
) -> list[Issue]:
    """A `wrong_tag` issue (evidence `neighbours`) for each mention whose neighbours' vote
    (`votes`) for another type holds at least `min_share` of them; score `1 - weight * share`,
    the neighbours' type as the suggestion and the nearest of them in `similar`."""
    doc_ids = corpus.sentence_doc_ids
    out = []
    for m, vote in zip(mentions, found):
        if vote is None or vote.share < min_share:
            continue
        out.append(
            Issue(
                id="",
                index=m.index,
                doc_id=doc_ids[m.index],
                start=m.start,
                end=m.end,
                type="wrong_tag",
                given=m.label,
                suggested=vote.label,
                score=round(max(0.0, 1.0 - weight * vote.share), 6),
                text=m.text,
                reason=describe_vote(vote),
                evidence=("neighbours",),
                similar=vote.neighbours[:EXAMPLES],
            )
        )
    return out
