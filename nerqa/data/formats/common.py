"""What the format modules share: options, tag normalisation, text building.

Helpers shared by the format modules: options, tag normalisation, text building."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nerqa.data.corpus import Document, Sentence
from nerqa.data.segment import CharSpan, segment, tokenize
from nerqa.data.tags import TagError, detect_scheme, to_iob2
from nerqa.errors import CorpusFormatError, NerqaError


@dataclass(frozen=True)
class ReadOptions:
    """Options every reader accepts (each uses those that apply to its format).

    Attributes:
        scheme: tag scheme of token formats: "auto", "iob1", "iob2" or "bioes".
        repair: read an I- tag that starts a span as B- instead of failing.
        token_column: CoNLL column holding the token (0-based; negative counts from the end).
        tag_column: CoNLL column holding the tag (default: the last).
        entity_type: type given to bare B/I tags (NeMo labels files hold just B, I, O).
        merge_type: if set, every entity type is renamed to this one (e.g. "Disease").
        split: the split of a Hugging Face DatasetDict to read (default: every split).
        tag_names: names of integer tags in a dataset without a `ClassLabel` feature (tag id i
            is `tag_names[i]`).
    """

    scheme: str = "auto"
    repair: bool = False
    token_column: int = 0
    tag_column: int = -1
    entity_type: str = "ENT"
    merge_type: str | None = None
    split: str | None = None
    tag_names: tuple[str, ...] | None = None


def normalise_tags(
    sequences: Sequence[Sequence[str]],
    lines: Sequence[Sequence[int]],
    path: str | None,
    options: ReadOptions,
) -> list[tuple[str, ...]]:
    """Convert token-format tag sequences to IOB2, raising errors that name the line.

    `lines[i][j]` is the 1-based line of token j of sentence i.
    """
    scheme = detect_scheme(sequences) if options.scheme == "auto" else options.scheme
    out = []
    for tags, where in zip(sequences, lines):
        try:
            out.append(tuple(to_iob2(tags, scheme, repair=options.repair)))
        except TagError as error:
            raise CorpusFormatError(path, where[error.position], error.reason) from None
        except ValueError as error:
            raise CorpusFormatError(path, where[0] if where else None, str(error)) from None
    return out


def document_from_text(
    doc_id: str | None,
    text: str,
    sections: Sequence[CharSpan],
    entities: Sequence[tuple[int, int, str]],
    *,
    path: str | None,
    line: int | None,
    sentences: Sequence[CharSpan] | None = None,
) -> Document:
    """Segment raw `text` and tag its `entities` (`(start, end, type)` character spans).

    `sentences`, when the source records them, are the sentence character spans: then the
    text is only tokenised, not split again.

    Raises `CorpusFormatError` (at `line`) for entities that overlap or cover no token.
    """
    ordered = sorted(entities)
    for (s1, e1, t1), (s2, e2, t2) in zip(ordered, ordered[1:]):
        if s2 < e1:
            raise CorpusFormatError(
                path,
                line,
                f"entities overlap: {t1} {text[s1:e1]!r} at {s1}-{e1} and {t2} {text[s2:e2]!r} at {s2}-{e2}; IOB "
                "tags cannot hold nested spans",
            )
    if sentences is None:
        sentences_spans = segment(text, sections=sections, protected=[(s, e) for s, e, _ in ordered])
    else:
        edges = [b for s, e, _ in ordered for b in (s, e)]
        sentences_spans = [spans for s, e in sentences if (spans := tokenize(text, boundaries=edges, start=s, end=e))]
    result: list[Sentence] = []
    placed = 0
    for spans in sentences_spans:
        tags = ["O"] * len(spans)
        first_token = {s: i for i, (s, _) in enumerate(spans)}
        last_token = {e: i for i, (_, e) in enumerate(spans)}
        while placed < len(ordered) and ordered[placed][0] < spans[-1][1]:
            start, end, label = ordered[placed]
            a, b = first_token.get(start), last_token.get(end)
            if a is None or b is None:
                # Leading/trailing spaces in an annotation: tag the tokens it covers.
                inside = [i for i, (s, e) in enumerate(spans) if s >= start and e <= end]
                if not inside:
                    raise CorpusFormatError(
                        path, line, f"entity {label} at {start}-{end} ({text[start:end]!r}) covers no token"
                    )
                a, b = inside[0], inside[-1]
            tags[a] = f"B-{label}"
            for i in range(a + 1, b + 1):
                tags[i] = f"I-{label}"
            placed += 1
        result.append(Sentence(tuple(text[s:e] for s, e in spans), tuple(tags), tuple(spans)))
    if placed < len(ordered):
        start, end, label = ordered[placed]
        raise CorpusFormatError(
            path, line, f"entity {label} at {start}-{end} ({text[start:end]!r}) lies outside every section of the text"
        )
    return Document(doc_id, tuple(result), text, tuple(sections))


def document_text(document: Document) -> tuple[str, tuple[CharSpan, ...], list[list[CharSpan]]]:
    """The raw text of `document`, its sections, and each sentence's token offsets.

    Documents read from raw text keep theirs. Others get a text built from their tokens:
    tokens joined by single spaces, sentences too, each sentence a section of its own (so a
    format that keeps sections, like nerqa's JSONL, keeps the sentence boundaries).
    """
    if document.text is not None and all(s.offsets is not None for s in document.sentences):
        sections = document.sections or ((0, len(document.text)),)
        return document.text, sections, [list(s.offsets) for s in document.sentences]  # type: ignore[arg-type]
    parts: list[str] = []
    offsets: list[list[CharSpan]] = []
    position = 0
    for sentence in document.sentences:
        sentence_offsets = []
        for token in sentence.tokens:
            if parts:
                parts.append(" ")
                position += 1
            parts.append(token)
            sentence_offsets.append((position, position + len(token)))
            position += len(token)
        offsets.append(sentence_offsets)
    text = "".join(parts)
    sections = tuple((o[0][0], o[-1][1]) for o in offsets if o) or ((0, 0),)
    return text, sections, offsets


def entity_char_spans(document: Document) -> tuple[str, tuple[CharSpan, ...], list[tuple[int, int, str]]]:
    """The text, sections and `(start, end, type)` character spans of `document`'s entities."""
    text, sections, offsets = document_text(document)
    entities = []
    for sentence, sentence_offsets in zip(document.sentences, offsets):
        for span in sentence.spans:
            entities.append((sentence_offsets[span.start][0], sentence_offsets[span.end - 1][1], span.label))
    return text, sections, entities


# What `str.splitlines` breaks lines at: no line-based format can hold these in a token.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def check_token(token: str, where: str, *, separators: str = "") -> None:
    """Any non-empty token without a line break is valid, whatever else it holds (no-break and
    zero-width spaces, joiners, combining marks); a format whose columns are split by
    `separators` (CoNLL: a TAB; NeMo: a space) cannot hold those either."""
    bad = next((c for c in token if c in LINE_BREAKS or c in separators), None)
    if not token or bad is not None:
        what = "is empty" if not token else f"holds {bad!r}"
        raise NerqaError(f"{where}: token {token!r} {what}, which this format cannot write")
