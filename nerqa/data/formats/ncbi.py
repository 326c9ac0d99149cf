"""NCBI disease corpus inline-tag abstracts.

One abstract a line,
`PMID<TAB>title<TAB>abstract`, mentions tagged inline as
`<category="SpecificDisease">...</category>`.

The text is raw, so it is split into sentences and tokens with `nerqa.data.segment`; the title and
the abstract are separate sections. A few lines of the released corpus hold an extra TAB
inside the abstract: only the first two TABs separate columns.
"""

from __future__ import annotations

import re

from nerqa.data.corpus import Corpus
from nerqa.data.formats.common import (
    ReadOptions,
    document_from_text,
    entity_char_spans,
)
from nerqa.errors import CorpusFormatError, NerqaError

_TAG_RE = re.compile(r'<category="([^"<>]*)">|</category>')


def _strip_tags(marked: str, path: str | None, line: int, column: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Remove inline tags from one column; return its plain text and entity spans."""
    plain: list[str] = []
    entities: list[tuple[int, int, str]] = []
    position = 0  # length of the plain text so far
    cursor = 0
    open_tag: tuple[int, str] | None = None
    for match in _TAG_RE.finditer(marked):
        chunk = marked[cursor : match.start()]
        plain.append(chunk)
        position += len(chunk)
        cursor = match.end()
        if match.group(1) is not None:
            if open_tag is not None:
                raise CorpusFormatError(
                    path,
                    line,
                    f"unbalanced <category> tags in the {column}: {match.group(0)!r} opens inside another mention",
                )
            if not match.group(1):
                raise CorpusFormatError(path, line, f"empty category in the {column}: {match.group(0)!r}")
            open_tag = (position, match.group(1))
        else:
            if open_tag is None:
                raise CorpusFormatError(
                    path,
                    line,
                    f"unbalanced <category> tags in the {column}: '</category>' at character {match.start() + 1} "
                    "closes no mention",
                )
            start, label = open_tag
            if position == start:
                raise CorpusFormatError(path, line, f"empty {label} mention in the {column}")
            entities.append((start, position, label))
            open_tag = None
    if open_tag is not None:
        raise CorpusFormatError(
            path, line, f'unbalanced <category> tags in the {column}: <category="{open_tag[1]}"> is never closed'
        )
    rest = marked[cursor:]
    plain.append(rest)
    text = "".join(plain)
    if "<category" in text or "</category" in text:
        raise CorpusFormatError(path, line, f"malformed <category> tag in the {column}")
    return text, entities


def parse(text: str, *, path: str | None = None, options: ReadOptions = ReadOptions()) -> Corpus:
    """Parse NCBI inline-tag abstracts (one per line) into a corpus."""
    documents = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = raw.split("\t", 2)
        if len(parts) < 3:
            raise CorpusFormatError(path, number, f"expected PMID<TAB>title<TAB>abstract, got {len(parts)} column(s)")
        doc_id, title_marked, abstract_marked = parts
        doc_id = doc_id.strip()
        if not doc_id or any(c.isspace() for c in doc_id):
            raise CorpusFormatError(path, number, f"invalid document id {doc_id!r}")
        title, title_entities = _strip_tags(title_marked, path, number, "title")
        abstract, abstract_entities = _strip_tags(abstract_marked.rstrip("\r\n"), path, number, "abstract")
        # Title and abstract are joined by one space, as PubTator does, so offsets agree.
        shift = len(title) + 1
        full = f"{title} {abstract}"
        entities = title_entities + [(s + shift, e + shift, t) for s, e, t in abstract_entities]
        for s, e, label in entities:
            if not full[s:e].strip():
                raise CorpusFormatError(path, number, f"empty {label} mention")
        documents.append(
            document_from_text(doc_id, full, [(0, len(title)), (shift, len(full))], entities, path=path, line=number)
        )
    if not documents:
        raise CorpusFormatError(path, None, "no abstracts found")
    return Corpus(tuple(documents))


def _mark(text: str, entities: list[tuple[int, int, str]], start: int, end: int) -> str:
    out: list[str] = []
    cursor = start
    for s, e, label in entities:
        if s >= start and e <= end:
            out.append(text[cursor:s])
            out.append(f'<category="{label}">{text[s:e]}</category>')
            cursor = e
    out.append(text[cursor:end])
    return "".join(out)


def dump(corpus: Corpus) -> str:
    """One `PMID<TAB>title<TAB>abstract` line per document, mentions tagged inline."""
    lines = []
    for number, document in enumerate(corpus.documents, start=1):
        text, sections, entities = entity_char_spans(document)
        bad_label = any(c in label for _, _, label in entities for c in '"<>\t\n')
        if "\n" in text or "\r" in text or "\t" in text[: sections[0][1]] or bad_label:
            raise NerqaError(
                f"document {number}: a newline in the text, a TAB in the title or a label holding '\"', '<' or "
                "'>' cannot be written in NCBI inline format"
            )
        title = _mark(text, entities, *sections[0])
        abstract_start = sections[1][0] if len(sections) > 1 else sections[0][1]
        abstract = _mark(text, entities, abstract_start, len(text))
        doc_id = document.id if document.id is not None else f"doc{number}"
        lines.append(f"{doc_id}\t{title}\t{abstract}")
    return "\n".join(lines) + ("\n" if lines else "")
