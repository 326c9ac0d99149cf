"""Two audits of one corpus compared: which issues were resolved, remain, are new.

Two audits of one corpus compared by stable issue id: which issues were resolved, remain, are
new. (Two models' scores: `nerqa.data.metrics.compare_evaluations`; two corpora of the same
text: `nerqa.data.agreement`.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditDiff:
    """How a re-audit's issues relate to an earlier audit's, by stable issue id:
    `resolved` (earlier issues the re-audit no longer raises), `remaining` (raised by both)
    and `new` (raised only by the re-audit). Each is a list of `issues.jsonl` records."""

    resolved: list[dict]
    remaining: list[dict]
    new: list[dict]

    def by_type(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for name in ("resolved", "remaining", "new"):
            for record in getattr(self, name):
                table.setdefault(record["type"], {"resolved": 0, "remaining": 0, "new": 0})[name] += 1
        return dict(sorted(table.items()))


def compare_audits(before: list[dict], after: list[dict]) -> AuditDiff:
    """Compare two audits' issue records (e.g. of a corpus and of its corrected version)."""
    old = {r["id"]: r for r in before}
    new = {r["id"]: r for r in after}
    return AuditDiff(
        resolved=[r for i, r in old.items() if i not in new],
        remaining=[r for i, r in new.items() if i in old],
        new=[r for i, r in new.items() if i not in old],
    )
