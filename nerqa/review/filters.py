"""Which issues a review queue holds: the filters of `relabel`, `accept` and `tasks`."""

from __future__ import annotations

from dataclasses import dataclass

from nerqa.auditing.issues import Issue
from nerqa.data.tags import OUTSIDE

STATUSES = ("pending", "accept", "keep", "edit", "skip", "disagreement", "auto")


@dataclass(frozen=True)
class Filters:
    """Which issues the queue holds: issue `types` and entity `classes` (empty: all), scores
    at or below `max_score` (None: any), `statuses` (`pending`, `disagreement`, or an
    action in force; empty: all), and suggestions whose `Issue.confidence` is at least
    `min_confidence` (None: any; an issue without a model confidence, a corpus check's, is
    then left out)."""

    types: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    max_score: float | None = None
    statuses: frozenset[str] = frozenset()
    min_confidence: float | None = None

    def admits(self, issue: Issue) -> bool:
        """Whether the issue passes every filter.

        Args:
            issue: an issue of the session's audit.
        """
        klass = issue.given if issue.given != OUTSIDE else issue.suggested
        return (
            (not self.types or issue.type in self.types)
            and (not self.classes or klass in self.classes)
            and (self.max_score is None or issue.score <= self.max_score)
            and (
                self.min_confidence is None
                or (issue.confidence is not None and issue.confidence >= self.min_confidence)
            )
        )

    def describe(self) -> str:
        parts = []
        if self.types:
            parts.append("type " + ",".join(sorted(self.types)))
        if self.classes:
            parts.append("class " + ",".join(sorted(self.classes)))
        if self.max_score is not None:
            parts.append(f"score <= {self.max_score:g}")
        if self.statuses:
            parts.append("status " + ",".join(sorted(self.statuses)))
        if self.min_confidence is not None:
            parts.append(f"confidence >= {self.min_confidence:g}")
        return "; ".join(parts) or "none"
