"""A simulated reviewer who knows the true tags.

A reviewer who knows the true tags: what a review pass over an audit is worth, measured.

`review_with_truth` works down a list of issues as a careful person would, through a real
`ReviewSession`, so every decision is recorded in the decision store and `apply` replays them
as it replays a person's. For each issue it reads the words the issue is about (its span, the
suggested span, and every given, suggested or true span that overlaps them) and:
- accepts, when the suggestion gives the true reading of those words;
- keeps, when the labels there are already the true ones (a false alarm, or an error an
  earlier decision fixed);
- edits them to the true reading otherwise.

With `linked`, each decision that changes labels is offered for its linked mentions (the other
occurrences of the words that read as they did, `ReviewSession.propagation`), and the reviewer
extends it to those it checks in the preview: the ones where the same change gives the true
reading; the others stay as they are.

Used by `bench/real_noise.py` to measure review budgets against each other, and by anyone who
holds a gold-labelled sample and wants to know what a review of the rest would be worth.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import numpy as np

from nerqa.auditing.issues import Issue
from nerqa.data.tags import Span, ordered, spans_from_tags
from nerqa.progress import ProgressCallback, quiet
from nerqa.review.decisions import Action
from nerqa.review.session import ReviewSession
from nerqa.review.spans import Occurrence, change_of, overlaps

ORDERS = ("nerqa", "cleanlab", "random")


def _touching(spans: Sequence[Span], lo: int, hi: int) -> set[Span]:
    return {s for s in spans if s.start < hi and lo < s.end}


def words_of(issue: Issue, *readings: Sequence[Span]) -> tuple[int, int]:
    """The token range `[lo, hi)` an issue is about: its span and suggested span, widened until
    no span of any of `readings` (given, suggested, true) crosses its edges."""
    lo = min(issue.start, issue.suggested_start if issue.suggested_start is not None else issue.start)
    hi = max(issue.end, issue.suggested_end if issue.suggested_end is not None else issue.end)
    while True:
        spans = [s for reading in readings for s in _touching(reading, lo, hi)]
        wider = (min([lo] + [s.start for s in spans]), max([hi] + [s.end for s in spans]))
        if wider == (lo, hi):
            return lo, hi
        lo, hi = wider


def careful_decision(
    issue: Issue, now: Sequence[Span], suggestion: Sequence[Span], truth: Sequence[Span]
) -> tuple[Action, tuple[Span, ...]]:
    """What a careful reviewer who knows `truth` decides on `issue`, given the sentence's spans
    `now` (with every other decision in force) and with the suggestion accepted: the action and
    the spans after it."""
    lo, hi = words_of(issue, now, suggestion, truth)
    wanted = _touching(truth, lo, hi)
    if set(suggestion) != set(now) and _touching(suggestion, lo, hi) == wanted:
        return "accept", ordered(suggestion)
    if _touching(now, lo, hi) == wanted:
        return "keep", ordered(now)
    window = Span(lo, hi, "")
    return "edit", ordered([s for s in now if not overlaps(s, window)] + sorted(wanted))


def checked_occurrences(
    decision_before: Sequence[Span],
    decision_after: Sequence[Span],
    occurrences: Sequence[Occurrence],
    truth: Sequence[Sequence[str]],
) -> list[Occurrence]:
    """Of a decision's linked `occurrences`, those a reviewer who knows `truth` (each sentence's
    true IOB tags) keeps checked in the preview: where the change gives the true reading of the
    words it changes (and no true span crosses them)."""
    change = change_of(decision_before, decision_after)
    if change is None:
        return []
    width = change.hi - change.lo
    out = []
    for occurrence in occurrences:
        lo, hi = occurrence.at, occurrence.at + width
        wanted = _touching(spans_from_tags(truth[occurrence.index]), lo, hi)
        if _touching(occurrence.after, lo, hi) == wanted:
            out.append(occurrence)
    return out


def review_order(session: ReviewSession, order: str, *, seed: int = 0) -> list[Issue]:
    """The issues in the order a reviewer meets them: `nerqa`, the review queue as `nerqa
    relabel` shows it; `cleanlab`, the same issues by the audit's `cleanlab_score` of their
    sentence (lowest first, queue order within a sentence); `random`, shuffled with `seed`."""
    queue = session.queue()
    if order == "nerqa":
        return queue
    if order == "cleanlab":
        scores = np.asarray(session.result.cleanlab_scores)
        return sorted(queue, key=lambda i: scores[i.index])
    if order == "random":
        shuffled = list(queue)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    raise ValueError(f"order {order!r} is not one of {', '.join(ORDERS)}")


def review_with_truth(
    session: ReviewSession,
    truth: Sequence[Sequence[str]],
    issues: Sequence[Issue],
    budget: int,
    *,
    linked: bool = False,
    progress: ProgressCallback = quiet,
) -> Counter[str]:
    """Decide the first `budget` of `issues` as `careful_decision` does, each recorded through
    `session` (so in its store) before the next is read. `truth` holds each sentence's true IOB
    tags. With `linked`, each decision that changes labels is extended to the linked mentions
    the reviewer checks (`checked_occurrences`). Returns how many issues got each action, and
    under `linked` how many mentions the extensions changed and `offered` how many were shown.

    An issue an earlier extension decided is not met again: the budget counts the issues the
    reviewer decided, one by one."""
    counts: Counter[str] = Counter()
    todo = list(issues)
    done = 0
    for issue in todo:
        if done >= budget:
            break
        if session.status(issue) is not None:
            continue  # decided by an extension of an earlier decision
        now = session.base(issue)
        action, after = careful_decision(issue, now, session.suggestion(issue), spans_from_tags(truth[issue.index]))
        decision = session.decide(issue, action, after if action == "edit" else None, source="simulated")
        counts[action] += 1
        done += 1
        if linked and decision.changes:
            occurrences = session.propagation(decision)
            checked = checked_occurrences(decision.before, decision.after, occurrences, truth)
            counts["offered"] += len(occurrences)
            counts["linked"] += len(session.propagate(decision, checked)) if checked else 0
        elif linked and action == "keep":
            same = session.same_issues(issue)
            right = [
                i
                for i in same
                if careful_decision(i, session.base(i), session.suggestion(i), spans_from_tags(truth[i.index]))[0]
                == "keep"
            ]
            counts["offered"] += len(same)
            counts["linked keeps"] += len(session.keep_all(right))
        progress("review", done, budget, {})
    return counts
