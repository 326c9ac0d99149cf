"""Mention vectors in context and their nearest neighbours.

Mentions and their vectors in context: every labeled entity span, embedded from the frozen
encoder's word features, and each one's nearest mentions by cosine (exact, or approximate on
large corpora).

A mention's vector is the mean of the word features over a few words each side of it (its own
words left out), beside the mean over its sentence, each scaled to unit length. What the mention
says of itself (its form) is left out on purpose: the form's other occurrences are the
`inconsistent` check's, and a vote among them would repeat the corpus's own error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nerqa.data.corpus import Corpus

# Up to this many mentions the nearest neighbours are exact (blocks of a matrix product);
# above it the vectors are reduced to REDUCED_DIMS (PCA fitted on a sample) and searched in an
# approximate index (faiss HNSW, where faiss is installed: `pip install 'nerqa[scale]'`). Exact
# search grows with the square of the mentions; the approximate path flags nearly the same
# (bench/neighbours.py, docs/benchmarks.md).
EXACT_LIMIT = 20_000
REDUCED_DIMS = 128
PCA_SAMPLE = 20_000


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


def unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def mention_vectors(features: Sequence[np.ndarray], mentions: Sequence[Mention], *, context: int) -> np.ndarray:
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
            sentence_means[m.index] = unit(words.mean(axis=0))
        around = np.r_[max(0, m.start - context) : m.start, m.end : min(len(words), m.end + context)]
        local = words[around].mean(axis=0) if len(around) else words[m.start : m.end].mean(axis=0)
        out[row] = np.concatenate([unit(local), sentence_means[m.index]])
    return unit(out)


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


def reduce(vectors: np.ndarray, dims: int = REDUCED_DIMS, *, seed: int = 42, block: int = 65_536) -> np.ndarray:
    """`(n, dims)` float32, unit length: `vectors` `(n, d)` projected on the `dims` principal
    components of a sample of `PCA_SAMPLE` rows (in blocks, so the float32 copy of a large float16
    input is never whole in memory)."""
    from sklearn.decomposition import PCA

    if vectors.shape[1] <= dims:
        return unit(vectors.astype(np.float32))
    rng = np.random.default_rng(seed)
    sample = vectors[np.sort(rng.choice(len(vectors), min(PCA_SAMPLE, len(vectors)), replace=False))]
    pca = PCA(dims, svd_solver="randomized", random_state=seed).fit(sample.astype(np.float32))
    out = np.empty((len(vectors), dims), dtype=np.float32)
    for lo in range(0, len(vectors), block):
        out[lo : lo + block] = pca.transform(vectors[lo : lo + block].astype(np.float32))
    return unit(out)
