"""Span arithmetic for the review loop.

Pure span arithmetic for the review loop: an issue's suggested fix, a decision's change
applied to a sentence, and the other places a change could be propagated to.

Spans are `nerqa.data.tags.Span(start, end, label)` in token offsets (end exclusive); a sentence's
labels are a tuple of non-overlapping spans sorted by start.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from nerqa.auditing.issues import Issue
from nerqa.data.tags import OUTSIDE, Span, ordered
from nerqa.errors import NerqaError


def overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def check_spans(spans: Sequence[Span], length: int, *, where: str) -> None:
    """Raise `NerqaError` (naming `where`) unless the spans lie inside a sentence of `length`
    tokens, are non-empty, labeled, and do not overlap."""
    for span in spans:
        if not 0 <= span.start < span.end <= length:
            raise NerqaError(f"{where}: span {span.start}-{span.end} is outside the sentence ({length} tokens)")
        if not span.label or span.label == OUTSIDE or any(c.isspace() for c in span.label):
            raise NerqaError(f"{where}: span {span.start}-{span.end} has no usable type ({span.label!r})")
    ranked = sorted(spans, key=lambda s: s.start)
    for a, b in zip(ranked, ranked[1:]):
        if overlaps(a, b):
            raise NerqaError(f"{where}: spans {a.start}-{a.end} and {b.start}-{b.end} overlap")


def suggested_fix(spans: Sequence[Span], issue: Issue) -> tuple[Span, ...]:
    """The sentence's spans with the issue's suggestion applied.

    wrong_tag, inconsistent: the span takes the suggested type (or goes, if the suggestion is
    `O`; or appears, if it was untagged); missed_span: the suggested span is added; ghost_span:
    the span is removed; span_shift: the span takes the model's boundaries and type; sparse:
    no change (its suggestion is the given type). Spans that would overlap the new one go.
    """
    start = issue.suggested_start if issue.suggested_start is not None else issue.start
    end = issue.suggested_end if issue.suggested_end is not None else issue.end
    if issue.suggested == issue.given and (start, end) == (issue.start, issue.end):
        return ordered(spans)  # sparse: the suggestion is to look, not to change
    old = Span(issue.start, issue.end, issue.given)
    kept = [s for s in spans if s != old]
    if issue.suggested == OUTSIDE:
        return ordered(kept)
    new = Span(start, end, issue.suggested)
    return ordered([s for s in kept if not overlaps(s, new)] + [new])


@dataclass(frozen=True)
class Change:
    """What a decision does to a sentence, in a window of it: the spans inside
    `[lo, hi)` before and after, relative to `lo`. Spans outside the window are untouched."""

    lo: int
    hi: int
    before: tuple[Span, ...]
    after: tuple[Span, ...]


def change_of(before: Sequence[Span], after: Sequence[Span]) -> Change | None:
    """The smallest window holding every span that differs, widened until no span of
    `before` or `after` crosses its edges; None when nothing differs."""
    removed = set(before) - set(after)
    added = set(after) - set(before)
    if not removed and not added:
        return None
    lo = min(s.start for s in removed | added)
    hi = max(s.end for s in removed | added)
    every = list(before) + list(after)
    while True:
        crossing = [s for s in every if s.start < hi and lo < s.end and (s.start < lo or s.end > hi)]
        if not crossing:
            break
        lo = min([lo] + [s.start for s in crossing])
        hi = max([hi] + [s.end for s in crossing])

    def inside(spans: Sequence[Span]) -> tuple[Span, ...]:
        return ordered(Span(s.start - lo, s.end - lo, s.label) for s in spans if lo <= s.start and s.end <= hi)

    return Change(lo, hi, inside(before), inside(after))


def apply_change(spans: Sequence[Span], removed: Sequence[Span], added: Sequence[Span]) -> tuple[Span, ...] | None:
    """`spans` minus `removed` plus `added`, or None when that does not fit: a span to remove is
    not there, or one to add overlaps a span that stays."""
    current = set(spans)
    if not set(removed) <= current:
        return None
    kept = current - set(removed)
    if any(overlaps(a, k) for a in added for k in kept):
        return None
    return ordered(kept | set(added))


@dataclass(frozen=True)
class Occurrence:
    """A place where a change can be repeated: sentence `index`, window start `at`, and the
    sentence's spans before and after the change."""

    index: int
    at: int
    before: tuple[Span, ...]
    after: tuple[Span, ...]


class FormIndex:
    """Where each token starts a window: finds the other occurrences of a token sequence."""

    def __init__(self, sentences: Sequence[Sequence[str]]) -> None:
        self.sentences = sentences
        self.positions: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for index, tokens in enumerate(sentences):
            for position, token in enumerate(tokens):
                self.positions[token].append((index, position))

    def find(self, tokens: Sequence[str]) -> list[tuple[int, int]]:
        if not tokens:
            return []
        n = len(tokens)
        return [
            (i, p) for i, p in self.positions.get(tokens[0], []) if tuple(self.sentences[i][p : p + n]) == tuple(tokens)
        ]


def same_form(
    change: Change, tokens: Sequence[str], index: int, forms: FormIndex, states: Sequence[Sequence[Span]]
) -> list[Occurrence]:
    """The other occurrences of the changed window's tokens that read as it did before the
    change (the same spans inside the window, none crossing its edges), with the change made.

    `states[i]` is sentence i's current spans. The place the change was made is left out.
    """
    window = tuple(tokens[change.lo : change.hi])
    out = []
    for other, at in forms.find(window):
        if other == index and at == change.lo:
            continue
        spans = states[other]
        hi = at + len(window)
        if any(s.start < hi and at < s.end and (s.start < at or s.end > hi) for s in spans):
            continue
        inside = ordered(Span(s.start - at, s.end - at, s.label) for s in spans if at <= s.start and s.end <= hi)
        if inside != change.before:
            continue
        outside = [s for s in spans if s.end <= at or s.start >= hi]
        out.append(
            Occurrence(
                other,
                at,
                tuple(spans),
                ordered(outside + [Span(s.start + at, s.end + at, s.label) for s in change.after]),
            )
        )
    return out
