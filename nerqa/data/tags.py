"""Pure helpers for IOB-style tag sequences.

nerqa stores every corpus in IOB2 (a span starts with `B-TYPE`, continues with `I-TYPE`).
Other schemes are converted on input: IOB1 (`I-` may start a span; `B-` only separates two
adjacent spans of one type) and BIOES/BILOU. Functions here raise `ValueError` with the
offending position; readers turn that into a `CorpusFormatError` naming file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OUTSIDE = "O"
_TAG_RE = re.compile(r"^(?P<prefix>[BIESLU])-(?P<type>\S.*)$")


@dataclass(frozen=True, order=True)
class Span:
    """An entity over tokens `start` .. `end - 1` (token offsets, `end` exclusive)."""

    start: int
    end: int
    label: str


class TagError(ValueError):
    """An invalid tag or transition at token `position` of a sequence."""

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        self.reason = reason
        super().__init__(f"token {position + 1}: {reason}")


def split_tag(tag: str) -> tuple[str, str | None]:
    """`"B-Disease"` -> `("B", "Disease")`; `"O"` -> `("O", None)`. Raises `ValueError`."""
    if tag == OUTSIDE:
        return OUTSIDE, None
    match = _TAG_RE.match(tag)
    if match is None:
        raise ValueError(f"invalid tag {tag!r}: expected 'O' or PREFIX-TYPE with prefix B, I, E, S, L or U")
    return match.group("prefix"), match.group("type")


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of tag sequences: `"bioes"`, `"iob1"` or `"iob2"`.

    BIOES if any E-/S-/L-/U- prefix occurs. IOB1 needs positive evidence: spans that start
    with `I-`, a `B-` that separates two adjacent spans of one type (the only place IOB1 uses
    `B-`), and no `B-` after `O`. Anything else is IOB2, where an `I-` start is an error to
    report: a file of I- starts alone is more likely broken IOB2 than IOB1.
    """
    saw_i_start = saw_separator = False
    for tags in sequences:
        previous = OUTSIDE
        for tag in tags:
            try:
                prefix, kind = split_tag(tag)
            except ValueError:
                previous = OUTSIDE
                continue
            if prefix in "ESLU":
                return "bioes"
            prev_prefix, prev_kind = split_tag(previous) if previous != OUTSIDE else (OUTSIDE, None)
            if prefix == "B" and prev_prefix == OUTSIDE:
                return "iob2"
            if prefix == "B" and prev_kind == kind:
                saw_separator = True
            if prefix == "I" and (prev_prefix == OUTSIDE or prev_kind != kind):
                saw_i_start = True
            previous = tag
    return "iob1" if saw_i_start and saw_separator else "iob2"


def to_iob2(tags: Sequence[str], scheme: str = "iob2", *, repair: bool = False) -> list[str]:
    """Convert one tag sequence from `scheme` ("iob1", "iob2" or "bioes") to IOB2.

    With `scheme="iob2"` the sequence is validated: an `I-X` that does not continue a span of
    type X raises `TagError`, unless `repair` is set, which turns it into `B-X` (the IOB1
    reading). Invalid tags always raise.
    """
    if scheme not in ("iob1", "iob2", "bioes"):
        raise ValueError(f"unknown tag scheme {scheme!r}")
    out: list[str] = []
    prev_prefix, prev_kind = OUTSIDE, None
    for position, tag in enumerate(tags):
        try:
            prefix, kind = split_tag(tag)
        except ValueError as error:
            raise TagError(position, str(error)) from None
        if prefix != OUTSIDE and scheme != "bioes" and prefix not in "BI":
            raise TagError(position, f"tag {tag!r} has a BIOES prefix in {scheme.upper()} data")
        continues = prev_prefix in ("B", "I") and prev_kind == kind
        if prefix == OUTSIDE:
            new = OUTSIDE
        elif prefix in ("B", "S", "U"):
            new = f"B-{kind}"
        elif continues:  # I, E, L inside a span of the same type
            new = f"I-{kind}"
        elif scheme == "iob1" or repair:
            new = f"B-{kind}"
        else:
            before = "the start of the sentence" if position == 0 else f"'{tags[position - 1]}'"
            raise TagError(
                position,
                f"'{tag}' follows {before}: an I- tag must continue a span of its type (use --repair to read it "
                "as B-, or --scheme iob1 for IOB1 data)",
            )
        # In BIOES, E/S/L/U close the span: what follows cannot continue it.
        if scheme == "bioes" and prefix in ("E", "S", "L", "U"):
            prev_prefix, prev_kind = OUTSIDE, None
        else:
            prev_prefix, prev_kind = (new[0], kind) if new != OUTSIDE else (OUTSIDE, None)
        out.append(new)
    return out


def from_iob2(tags: Sequence[str], scheme: str = "iob2") -> list[str]:
    """One IOB2 tag sequence in `scheme` ("iob1", "iob2" or "bioes"): `to_iob2`'s inverse, so a
    corpus read in IOB1 or BIOES is written back in it. IOB1 starts a span with `B-` only where
    it follows a span of the same type; BIOES marks single-token spans `S-` and last tokens `E-`."""
    if scheme not in ("iob1", "iob2", "bioes"):
        raise ValueError(f"unknown tag scheme {scheme!r}")
    if scheme == "iob2":
        return list(tags)
    out = [OUTSIDE] * len(tags)
    previous: Span | None = None
    for span in spans_from_tags(tags):
        for position in range(span.start, span.end):
            out[position] = f"I-{span.label}"
        if scheme == "iob1":
            if previous is not None and previous.end == span.start and previous.label == span.label:
                out[span.start] = f"B-{span.label}"
        elif span.end - span.start == 1:
            out[span.start] = f"S-{span.label}"
        else:
            out[span.start], out[span.end - 1] = f"B-{span.label}", f"E-{span.label}"
        previous = span
    return out


def ordered(spans: Iterable[Span]) -> tuple[Span, ...]:
    """Spans without repeats, sorted by start, end and type."""
    return tuple(sorted(set(spans), key=lambda s: (s.start, s.end, s.label)))


def spans_from_tags(tags: Sequence[str]) -> list[Span]:
    """Entity spans of an IOB2 sequence, in order. A stray `I-X` starts a new span (lenient).

    Args:
        tags: IOB2 tags, one per token.
    """
    spans: list[Span] = []
    start, kind = -1, None
    for position, tag in enumerate(tags):
        prefix, tag_kind = split_tag(tag)
        if prefix == "I" and kind == tag_kind and start >= 0:
            continue
        if start >= 0:
            spans.append(Span(start, position, kind))  # type: ignore[arg-type]
            start, kind = -1, None
        if prefix != OUTSIDE:
            start, kind = position, tag_kind
    if start >= 0:
        spans.append(Span(start, len(tags), kind))  # type: ignore[arg-type]
    return spans


def tags_from_spans(spans: Iterable[Span], length: int) -> list[str]:
    """IOB2 tags for `length` tokens holding `spans`. Overlapping spans raise `ValueError`.

    Args:
        spans: entity spans in token offsets.
        length: the number of tokens.
    """
    tags = [OUTSIDE] * length
    for span in sorted(spans):
        if not 0 <= span.start < span.end <= length:
            raise ValueError(f"span {span.start}..{span.end} lies outside a sentence of {length} tokens")
        if any(tag != OUTSIDE for tag in tags[span.start : span.end]):
            raise ValueError(f"span {span.start}..{span.end} ({span.label}) overlaps another span")
        tags[span.start] = f"B-{span.label}"
        for position in range(span.start + 1, span.end):
            tags[position] = f"I-{span.label}"
    return tags
