"""Guideline questions: clusters of one type's mentions that read like another type.

Guideline questions: clusters of one type's mentions whose contexts read like another
type's mentions elsewhere, much more than the type's other mentions do (a country in a sports
result, where clubs are ORG). Not errors: under the current guideline their labels may be right;
a team settles each with one decision for the whole cluster."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nerqa.auditing.mentions import Mention, unit
from nerqa.config import ScoringSettings

# Examples shown per cluster of a question (and per neighbour issue).
EXAMPLES = 5


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


def _clusters(vectors: np.ndarray, seed: int, size: int) -> np.ndarray:
    """k-means labels `(n,)` for one type's mention vectors, about `size` mentions each."""
    from sklearn.cluster import KMeans

    k = int(np.clip(round(np.sqrt(len(vectors) / size)), 1, 64))
    if k < 2:
        return np.zeros(len(vectors), dtype=int)
    return KMeans(k, n_init=3, random_state=seed).fit(vectors).labels_


def guideline_questions(
    mentions: Sequence[Mention],
    vectors: np.ndarray,
    index: np.ndarray,
    *,
    scoring: ScoringSettings | None = None,
    seed: int = 42,
    limit: int | None = None,
) -> list[Question]:
    """Guideline questions, most telling first (at most `limit`): per type, its mentions
    clustered by context (k-means on `vectors` `(n_mentions, d)`, `scoring.cluster_size`
    mentions a cluster on average); a cluster of at least `scoring.min_cluster` mentions whose
    neighbours (`index` `(n_mentions, k)`, from `nearest`) carry another type more often, by
    `scoring.min_excess` of them at least, than the type's mentions do overall. Score: that
    excess share times log(size)."""
    scoring = scoring or ScoringSettings()
    labels = np.array([m.label for m in mentions])
    out: list[Question] = []
    for label in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == label)
        if len(rows) < scoring.min_cluster:
            continue
        near = index[rows]
        near_labels = np.where(near >= 0, labels[np.maximum(near, 0)], "")
        assigned = _clusters(vectors[rows], seed, scoring.cluster_size)
        for cluster in np.unique(assigned):
            members = rows[assigned == cluster]
            if len(members) < scoring.min_cluster:
                continue
            theirs = near_labels[assigned == cluster]
            others = Counter(t for t in theirs.ravel().tolist() if t and t != label)
            if not others:
                continue
            suggested, _ = others.most_common(1)[0]
            lean = float((theirs == suggested).sum() / max((theirs != "").sum(), 1))
            baseline = float((near_labels == suggested).sum() / max((near_labels != "").sum(), 1))
            if lean - baseline < scoring.min_excess:
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
        centre = unit(vectors[rows].mean(axis=0))
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
