"""PubTator documents and their annotation lines.

PubTator: per document a `PMID|t|title` line, a `PMID|a|abstract` line, then annotation
lines `PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>concept ids]`, and a blank line.

Offsets index the title and abstract joined by one space. Relation lines
(`PMID<TAB>CID<TAB>...`, as in BC5CDR) are skipped. The mention column is checked against
the text at its offsets (ignoring surrounding spaces).
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

_PASSAGE_RE = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")


def parse(text: str, *, path: str | None = None, options: ReadOptions = ReadOptions()) -> Corpus:
    """Parse PubTator text into a corpus; each document's text is title + " " + abstract."""
    documents = []
    # The document being read: id, title, abstract, entities, first line number.
    current: dict | None = None

    def close() -> None:
        nonlocal current
        if current is None:
            return
        title = current["t"] if current["t"] is not None else ""
        abstract = current["a"] if current["a"] is not None else ""
        full = f"{title} {abstract}" if abstract else title
        sections = [(0, len(title))] + ([(len(title) + 1, len(full))] if abstract else [])
        for s, e, label, mention, number in current["entities"]:
            if e <= s:
                what = "are empty" if e == s else "are reversed: the end comes before the start"
                raise CorpusFormatError(path, number, f"offsets {s}-{e} {what}")
            if not 0 <= s < e <= len(full):
                raise CorpusFormatError(
                    path,
                    number,
                    f"offsets {s}-{e} lie outside the text of document {current['id']} ({len(full)} characters)",
                )
            if full[s:e].strip() != mention.strip():
                raise CorpusFormatError(
                    path, number, f"mention {mention!r} does not match the text at {s}-{e}: {full[s:e]!r}"
                )
        entities = [(s, e, label) for s, e, label, _, _ in current["entities"]]
        documents.append(document_from_text(current["id"], full, sections, entities, path=path, line=current["line"]))
        current = None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            close()
            continue
        passage = _PASSAGE_RE.match(line)
        if passage is not None:
            doc_id, kind, content = passage.groups()
            if current is not None and (current["id"] != doc_id or current[kind] is not None):
                close()  # documents not separated by a blank line
            if current is None:
                current = {"id": doc_id, "t": None, "a": None, "entities": [], "line": number}
            current[kind] = content
            continue
        columns = line.split("\t")
        if current is None:
            raise CorpusFormatError(path, number, f"annotation line before any 'PMID|t|' title line: {line[:80]!r}")
        if columns[0] != current["id"]:
            raise CorpusFormatError(
                path, number, f"annotation for document {columns[0]!r} inside document {current['id']!r}"
            )
        if len(columns) >= 2 and not columns[1].isdigit() and len(columns) <= 4:
            continue  # a relation line, e.g. "PMID<TAB>CID<TAB>D1<TAB>D2"
        if len(columns) < 5:
            raise CorpusFormatError(
                path, number, f"expected PMID<TAB>start<TAB>end<TAB>mention<TAB>type, got {len(columns)} column(s)"
            )
        try:
            start, end = int(columns[1]), int(columns[2])
        except ValueError:
            raise CorpusFormatError(
                path, number, f"start and end offsets must be integers, got {columns[1]!r} and {columns[2]!r}"
            ) from None
        label = columns[4].strip()
        if not label:
            raise CorpusFormatError(path, number, f"invalid entity type {columns[4]!r}")
        current["entities"].append((start, end, label, columns[3], number))
    close()
    if not documents:
        raise CorpusFormatError(path, None, "no documents found")
    return Corpus(tuple(documents))


def dump(corpus: Corpus) -> str:
    """PubTator text: title, abstract and annotation lines per document, blank-line separated."""
    blocks = []
    for number, document in enumerate(corpus.documents, start=1):
        text, sections, entities = entity_char_spans(document)
        if "\n" in text or "\r" in text:
            raise NerqaError(f"document {number}: a newline in the text cannot be written in PubTator format")
        doc_id = document.id if document.id is not None else f"doc{number}"
        if "|" in doc_id or "\t" in doc_id:
            raise NerqaError(f"document {number}: id {doc_id!r} holds '|' or a TAB, which PubTator cannot write")
        title_end = sections[0][1]
        abstract_start = sections[1][0] if len(sections) > 1 else len(text)
        # PubTator offsets index title + " " + abstract: move abstract entities there.
        shift = title_end + 1 - abstract_start
        lines = [f"{doc_id}|t|{text[:title_end]}", f"{doc_id}|a|{text[abstract_start:]}"]
        for s, e, label in entities:
            if "\t" in label:
                raise NerqaError(f"document {number}: entity type {label!r} holds a TAB, which PubTator cannot write")
            moved = 0 if s < title_end else shift
            lines.append(f"{doc_id}\t{s + moved}\t{e + moved}\t{text[s:e]}\t{label}\t-")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
