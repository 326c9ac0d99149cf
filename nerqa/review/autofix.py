"""Automatic fixes: the audit's confident suggestions where no person decided.

Automatic fixes: the audit's confident suggestions taken where no person decided, on a corpus
the audit finds noisy, each recorded as a decision of its own kind (`nerqa autofix`).

Which suggestions: those of the issue types whose suggestions were mostly right on the real noisy
corpora measured (a span the annotators missed, or one with other bounds), at a confidence of at
least 0.7 (the benchmarks page, "Repair what no one reviews"). Which corpora: those whose audit
finds errors beyond its own fold models' mistakes, a noise estimate whose lower bound is 5 % of
sentences or more (`nerqa.auditing.noise`). On a corpus the audit cannot tell from clean, the
same suggestions are mostly wrong (a clean sentence flagged is a model mistake), so nothing is
changed unless asked for.

Every fix is a decision with source `auto` and reviewer `nerqa-autofix`, on its issue: listed
and exported with the others, undone as one batch (`undo_autofix`), left out of `apply` with
`--no-auto`, and always outvoted by a person's decision on the same issue
(`nerqa.review.decisions.standing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nerqa.review.decisions import AUTO_SOURCE, Decision
from nerqa.review.session import Filters, ReviewSession

AUTOFIX_REVIEWER = "nerqa-autofix"
AUTOFIX_TYPES: tuple[str, ...] = ("missed_span", "span_shift")
AUTOFIX_MIN_CONFIDENCE = 0.7
# The lowest noise estimate (lower bound, share of sentences) at which fixes are made unasked.
AUTOFIX_MIN_NOISE = 0.05


@dataclass(frozen=True)
class AutofixPlan:
    """What `plan_autofix` found: the `decisions` to record (empty when the corpus looks clean
    and `force` was not given), the audit's noise estimate's lower bound (`noise_low`, None when
    the audit has none), and whether the noise gate held the fixes back (`held_back`)."""

    decisions: list[Decision]
    noise_low: float | None
    held_back: bool

    def by_type(self, session: ReviewSession) -> dict[str, int]:
        """The planned fixes per issue type.

        Args:
            session: the session the plan was made in.
        """
        counts: dict[str, int] = {}
        for d in self.decisions:
            issue = session.issue(d.issue_id)
            kind = issue.type if issue is not None else "linked"
            counts[kind] = counts.get(kind, 0) + 1
        return counts


def noise_floor(summary: dict) -> float | None:
    """The lower bound of the audit's noise estimate (share of sentences), or None where the
    audit has none or cannot tell errors from its fold models' own mistakes."""
    try:
        if str(summary["noise"].get("verdict", "")).startswith("cannot tell"):
            return None
        return float(summary["noise"]["sentences"]["low"])
    except (KeyError, TypeError, ValueError):
        return None


def plan_autofix(
    session: ReviewSession,
    *,
    types: Sequence[str] = AUTOFIX_TYPES,
    min_confidence: float = AUTOFIX_MIN_CONFIDENCE,
    force: bool = False,
) -> AutofixPlan:
    """The automatic fixes for the issues no decision covers yet (not recorded). `session` is
    the autofix reviewer's (`AUTOFIX_REVIEWER`); with `force`, the noise gate is ignored.

    Args:
        session: the autofix reviewer's session (`AUTOFIX_REVIEWER`).
        types: the issue types fixed (default: missed spans and span shifts).
        min_confidence: the least suggestion confidence fixed, in [0, 1].
        force: ignore the noise gate (fix a corpus the audit cannot tell from clean).
    """
    floor = noise_floor(session.result.summary)
    if not force and (floor is None or floor < AUTOFIX_MIN_NOISE):
        return AutofixPlan([], floor, True)
    filters = Filters(types=frozenset(types), min_confidence=min_confidence)
    planned = session.bulk_accept(filters, dry_run=True, source=AUTO_SOURCE)
    return AutofixPlan(planned, floor, False)


def record_autofix(session: ReviewSession, plan: AutofixPlan) -> list[Decision]:
    """Record a plan's decisions in one transaction (one batch); returns them as stored.

    Args:
        session: the autofix reviewer's session (`AUTOFIX_REVIEWER`).
        plan: what `plan_autofix` returned.
    """
    if not plan.decisions:
        return []
    recorded = session.store.record_all(plan.decisions)
    session.refresh()
    return recorded


def live_autofix(session: ReviewSession) -> list[Decision]:
    """Every automatic fix no undo has retracted, in recording order.

    Args:
        session: any session of the audit.
    """
    return [d for d in session.standing.live if d.source == AUTO_SOURCE]


def undo_autofix(session: ReviewSession) -> list[Decision]:
    """Retract every live automatic fix with one undo row; returns them (empty: none).

    Args:
        session: the autofix reviewer's session (`AUTOFIX_REVIEWER`).
    """
    fixes = live_autofix(session)
    if not fixes:
        return []
    session.store.undo(fixes, AUTOFIX_REVIEWER)
    session.refresh()
    return fixes
