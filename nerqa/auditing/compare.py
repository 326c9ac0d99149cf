"""Comparisons: two audits (which issues were resolved, remain, are new), two models' scores
on one corpus. Two corpora of the same text: `nerqa.data.agreement`."""

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


@dataclass(frozen=True)
class ScoreRow:
    """One line of a model comparison: entity F1 (in [0, 1]) of models A and B for a type
    (or `micro`/`macro`), and the gold support."""

    name: str
    f1_a: float
    f1_b: float
    support: int

    @property
    def delta(self) -> float:
        return self.f1_b - self.f1_a


def compare_evaluations(a, b) -> list[ScoreRow]:
    """Per-type, micro and macro F1 of two `Evaluation`s of the same corpus, side by side."""
    types = sorted(set(a.per_type) | set(b.per_type))
    rows = [
        ScoreRow(
            t,
            a.per_type[t].f1 if t in a.per_type else 0.0,
            b.per_type[t].f1 if t in b.per_type else 0.0,
            (a.per_type.get(t) or b.per_type[t]).support,
        )
        for t in types
    ]
    return rows + [
        ScoreRow("micro", a.micro.f1, b.micro.f1, a.micro.support),
        ScoreRow("macro", a.macro.f1, b.macro.f1, a.macro.support),
    ]
