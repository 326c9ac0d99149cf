"""The diversity guard: batches free of near-copies and spread over topics.

The diversity guard: a bounded buffer of the best candidates, and the picks that keep a batch
from holding near-copies (near-duplicates) or one region of the pool (clusters).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from nerqa.active.pool import Choice

if TYPE_CHECKING:
    pass


Diversity = Literal["near-duplicates", "clusters", "off"]
DIVERSITY: tuple[str, ...] = ("near-duplicates", "clusters", "off")
# Cosine similarity at which two sentence embeddings count as near-copies: far above unrelated
# sentences, below a sentence and itself with a word left out (docs/benchmarks.md).
NEAR_DUPLICATE = 0.9


@dataclass(order=True)
class Candidate:
    score: float
    tiebreak: float
    choice: Choice = field(compare=False)
    embedding: np.ndarray = field(compare=False)


class CandidateBuffer:
    """The `capacity` highest-scoring candidates seen so far (a min-heap): memory stays
    bounded however large the pool."""

    def __init__(self, capacity: int, seed: int) -> None:
        self.capacity = capacity
        self.heap: list[Candidate] = []
        self.rng = np.random.default_rng(seed + 1)

    def offer(self, choice: Choice, embedding: np.ndarray) -> None:
        # Ties (equal scores) are broken at random rather than by pool order.
        candidate = Candidate(choice.score, float(self.rng.random()), choice, embedding)
        if len(self.heap) < self.capacity:
            heapq.heappush(self.heap, candidate)
        elif candidate > self.heap[0]:
            heapq.heapreplace(self.heap, candidate)

    def best_first(self) -> list[Candidate]:
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
