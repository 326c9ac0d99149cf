"""JSONL in the shapes annotation tools export.

JSONL, one JSON object a line, in the shapes annotation tools export.

Character-span records (one document each; the text is split into sentences and tokens by
`nerqa.data.segment`, with span edges kept as token boundaries):
- spaCy / Prodigy: `{"text": ..., "spans": [{"start", "end", "label"}]}`
- doccano: `{"text": ..., "entities": [{"start_offset", "end_offset", "label"}]}` or
  `{"text": ..., "label": [[start, end, label], ...]}`
- Label Studio: `{"data": {"text": ...}, "annotations": [{"result": [{"value":
  {"start", "end", "labels": [...]}}]}]}` (the first annotation not cancelled), one task a
  line or its JSON export (one list of tasks)

Tasks nobody annotated are skipped: a Label Studio task whose annotations are all cancelled
(or that has none), a Prodigy task answered `reject` or `ignore`.

Token records (one sentence each): `{"tokens": [...], "tags": [...]}` (or `"ner_tags"`),
consecutive records with the same `doc_id` forming one document.

nerqa also writes `"tokens": [{"text", "start", "end", "id"}, ...]` (as Prodigy does: the
character span of every token), `"sentences": [[start, end], ...]`, the character spans of the
sentences, and, for documents of several passages (a title and an abstract), `"sections"`.
When a record has them, the reader keeps those tokens and boundaries instead of splitting the
text again, so a corpus read from any token format comes back with the same tokens. A span
must start and end on token edges: with `tokens`, on the tokens given; without, it may not
cut a word (`Asp|irin`), an error that names the line rather than a silent split.

Document ids are read from `id`, `doc_id`, `_id` or `meta.id` / `meta.doc_id` / `meta.pmid`.
"""

from __future__ import annotations

import json
from typing import Any

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats.common import (
    ReadOptions,
    document_from_text,
    document_text,
    normalise_tags,
)
from nerqa.data.segment import segment
from nerqa.errors import CorpusFormatError


def json_error(error: json.JSONDecodeError) -> str:
    """A JSON error in words: what and at which column (some of json's messages end in "at")."""
    return f"invalid JSON: {error.msg.removesuffix(' at')} at column {error.colno}"


def _records(text: str, path: str | None) -> list[tuple[int, Any]]:
    """`(line, record)` pairs: one JSON value a line, or one JSON list (Label Studio's export),
    each record numbered by the line it starts on."""
    stripped = text.lstrip()
    if not stripped.startswith("["):
        out = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if raw.strip():
                try:
                    out.append((number, json.loads(raw)))
                except json.JSONDecodeError as error:
                    raise CorpusFormatError(path, number, json_error(error)) from None
        return out
    decoder = json.JSONDecoder()
    records = []
    position = len(text) - len(stripped) + 1

    def skip(position: int, separators: str) -> int:
        while position < len(text) and (text[position].isspace() or text[position] in separators):
            position += 1
        return position

    position = skip(position, "")
    line, counted = 1, 0
    while position < len(text) and text[position] != "]":
        line += text.count("\n", counted, position)  # counted from the last record: linear
        counted = position
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise CorpusFormatError(path, error.lineno, json_error(error)) from None
        records.append((line, record))
        position = skip(position, ",")
    if position >= len(text):
        raise CorpusFormatError(path, text.count("\n") + 1, "invalid JSON: the list is not closed with ]")
    return records


def _not_annotated(record: dict[str, Any]) -> bool:
    """A tool's export record nobody annotated: a Label Studio task whose annotations are
    empty or all cancelled, or a Prodigy task answered `reject` or `ignore`. Reading it as
    a sentence without entities would teach a model that its entities are not entities."""
    if isinstance(record.get("data"), dict) and isinstance(record.get("annotations"), list):
        return not any(isinstance(a, dict) and not a.get("was_cancelled") for a in record["annotations"])
    return record.get("answer") in ("reject", "ignore")


def _doc_id(record: dict[str, Any]) -> str | None:
    data = record.get("data")
    if (
        isinstance(data, dict)
        and isinstance(data.get("doc_id"), (str, int))
        and not isinstance(data.get("doc_id"), bool)
    ):
        return str(data["doc_id"])  # a Label Studio task's own id is the tool's, not the document's
    for key in ("doc_id", "id", "_id"):
        if isinstance(record.get(key), (str, int)) and not isinstance(record.get(key), bool):
            return str(record[key])
    meta = record.get("meta")
    if isinstance(meta, dict):
        for key in ("doc_id", "id", "pmid"):
            if isinstance(meta.get(key), (str, int)) and not isinstance(meta.get(key), bool):
                return str(meta[key])
    return None


def _int(value: Any, what: str, path: str | None, number: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CorpusFormatError(path, number, f"{what} must be an integer, got {value!r}")
    return value


def _label(value: Any, path: str | None, number: int) -> str:
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\t\n\r"):
        raise CorpusFormatError(
            path, number, f"entity label must be a non-empty string without TABs or newlines, got {value!r}"
        )
    return value


def _char_spans(
    record: dict[str, Any], path: str | None, number: int, *, tokenised: bool = False
) -> tuple[str, list[tuple[int, int, str]]]:
    """Text and `(start, end, label)` spans of a character-span record, whatever its tool."""
    text = record.get("text")
    raw_spans: list[tuple[Any, Any, Any]] = []
    if text is None and isinstance(record.get("data"), dict):  # Label Studio task
        text = record["data"].get("text")
        annotations = [a for a in record.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        results = annotations[0].get("result", []) if annotations else []
        if not isinstance(results, list):
            raise CorpusFormatError(path, number, "Label Studio 'result' must be a list")
        for result in results:
            value = result.get("value") if isinstance(result, dict) else None
            if not isinstance(value, dict) or "start" not in value:
                continue  # relations and other result kinds carry no span
            labels = value.get("labels") or value.get("hypertextlabels") or [None]
            raw_spans.append(
                (value.get("start"), value.get("end"), labels[0] if isinstance(labels, list) and labels else None)
            )
    elif isinstance(record.get("spans"), list):
        for span in record["spans"]:
            if not isinstance(span, dict):
                raise CorpusFormatError(
                    path, number, f"each span must be an object with start, end and label, got {span!r}"
                )
            raw_spans.append((span.get("start"), span.get("end"), span.get("label")))
    else:
        entries = record.get("entities", record.get("label", record.get("labels", [])))
        if not isinstance(entries, list):
            raise CorpusFormatError(path, number, "'entities' / 'label' must be a list of spans")
        for entry in entries:
            if isinstance(entry, dict):
                raw_spans.append(
                    (
                        entry.get("start_offset", entry.get("start")),
                        entry.get("end_offset", entry.get("end")),
                        entry.get("label"),
                    )
                )
            elif isinstance(entry, list) and len(entry) == 3:
                raw_spans.append(tuple(entry))  # type: ignore[arg-type]
            else:
                raise CorpusFormatError(path, number, f"a span must be [start, end, label] or an object, got {entry!r}")
    if not isinstance(text, str):
        raise CorpusFormatError(path, number, "record has no 'text' string (nor 'tokens' and 'tags')")
    spans = []
    for start, end, label in raw_spans:
        s, e = _int(start, "span start", path, number), _int(end, "span end", path, number)
        if e <= s:
            what = "is empty" if e == s else "is reversed: its end comes before its start"
            raise CorpusFormatError(path, number, f"span {s}-{e} {what}")
        if not 0 <= s < e <= len(text):
            raise CorpusFormatError(path, number, f"span {s}-{e} lies outside the text ({len(text)} characters)")
        if not tokenised and not text[s:e].strip():
            raise CorpusFormatError(path, number, f"span {s}-{e} covers only whitespace")
        spans.append((s, e, _label(label, path, number)))
    return text, spans


def _char_ranges(
    record: dict[str, Any], key: str, length: int, path: str | None, number: int
) -> list[tuple[int, int]] | None:
    """nerqa's optional `"sections"` / `"sentences"`: ordered `[[start, end], ...]` lists."""
    raw = record.get(key)
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(r, list) and len(r) == 2 for r in raw):
        raise CorpusFormatError(path, number, f"'{key}' must be a list of [start, end] pairs")
    ranges = [(_int(s, f"{key} start", path, number), _int(e, f"{key} end", path, number)) for s, e in raw]
    previous_end = 0
    for s, e in ranges:
        if not previous_end <= s <= e <= length:
            raise CorpusFormatError(
                path, number, f"'{key}' range {s}-{e} is out of order or outside the text ({length} characters)"
            )
        previous_end = e
    return ranges


def parse(text: str, *, path: str | None = None, options: ReadOptions = ReadOptions()) -> Corpus:
    """Parse JSONL records (character-span or token records; see the module docstring)."""
    documents: list[Document] = []
    # Token records are gathered so their tags are normalised together.
    token_sentences: list[tuple[int, str | None, tuple[str, ...], list[str], int]] = []
    for number, record in _records(text, path):
        if not isinstance(record, dict):
            raise CorpusFormatError(path, number, f"expected a JSON object, got {type(record).__name__}")
        if _not_annotated(record):
            continue
        doc_id = _doc_id(record)
        if "tokens" in record and ("tags" in record or "ner_tags" in record):
            tokens, tags = record["tokens"], record.get("tags", record.get("ner_tags"))
            if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
                raise CorpusFormatError(path, number, "'tokens' must be a list of non-empty strings")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise CorpusFormatError(path, number, "'tags' must be a list of strings")
            if len(tokens) != len(tags):
                raise CorpusFormatError(path, number, f"{len(tags)} tags for {len(tokens)} tokens")
            if not tokens:
                raise CorpusFormatError(path, number, "empty sentence")
            token_sentences.append((len(documents), doc_id, tuple(tokens), tags, number))
            documents.append(Document(doc_id, ()))  # placeholder, filled below
        else:
            # Label Studio keeps a task's own fields under `data`.
            fields = record["data"] if isinstance(record.get("data"), dict) and "text" not in record else record
            tokenised = isinstance(fields.get("tokens"), list) and all(isinstance(t, dict) for t in fields["tokens"])
            content, spans = _char_spans(record, path, number, tokenised=tokenised)
            sections = _char_ranges(fields, "sections", len(content), path, number) or [(0, len(content))]
            sentences = _char_ranges(fields, "sentences", len(content), path, number)
            if tokenised:
                documents.append(
                    _tokenised_document(doc_id, content, fields["tokens"], spans, sections, sentences, path, number)
                )
            else:
                check_word_edges(content, spans, path, number)
                documents.append(
                    document_from_text(doc_id, content, sections, spans, path=path, line=number, sentences=sentences)
                )
    if not documents:
        raise CorpusFormatError(path, None, "no annotated records found")
    if token_sentences:
        iob2 = normalise_tags(
            [t[3] for t in token_sentences], [[t[4]] * len(t[3]) for t in token_sentences], path, options
        )
        for (slot, doc_id, tokens, _, _), tags in zip(token_sentences, iob2):
            documents[slot] = Document(doc_id, (Sentence(tokens, tags),))
    return Corpus(tuple(_merge_token_documents(documents)))


def check_word_edges(text: str, spans: list[tuple[int, int, str]], path: str | None, number: int | None) -> None:
    """A span edge between two letters or digits would cut a word in two: refuse it."""
    for start, end, label in spans:
        for edge in (start, end):
            if 0 < edge < len(text) and text[edge - 1].isalnum() and text[edge].isalnum():
                lo, hi = edge, edge
                while lo > 0 and text[lo - 1].isalnum():
                    lo -= 1
                while hi < len(text) and text[hi].isalnum():
                    hi += 1
                side = "starts" if edge == start else "ends"
                raise CorpusFormatError(
                    path,
                    number,
                    f"span {start}-{end} ({label} {text[start:end]!r}) {side} inside the word {text[lo:hi]!r}",
                )


def _tokenised_document(
    doc_id: str | None,
    text: str,
    raw_tokens: list[dict[str, Any]],
    spans: list[tuple[int, int, str]],
    sections: list[tuple[int, int]],
    sentences: list[tuple[int, int]] | None,
    path: str | None,
    number: int,
) -> Document:
    """A document whose tokens the record gives (`tokens` with character offsets): no tokenising."""
    offsets: list[tuple[int, int]] = []
    for n, token in enumerate(raw_tokens):
        start, end = (
            _int(token.get("start"), f"token {n} start", path, number),
            _int(token.get("end"), f"token {n} end", path, number),
        )
        if not (offsets[-1][1] if offsets else 0) <= start < end <= len(text):
            raise CorpusFormatError(
                path, number, f"token {n} ({start}-{end}) is empty, out of order or outside the text"
            )
        if "text" in token and token["text"] != text[start:end]:
            raise CorpusFormatError(
                path, number, f"token {n} reads {token['text']!r}, but the text at {start}-{end} is {text[start:end]!r}"
            )
        offsets.append((start, end))
    if sentences is None:
        # No sentence boundaries given: the text's own sentences, each holding the tokens that start in it.
        sentences = [
            (s[0][0], s[-1][1]) for s in segment(text, sections=sections, protected=[(a, b) for a, b, _ in spans]) if s
        ]
    groups: list[list[tuple[int, int]]] = [[] for _ in sentences]
    where = 0
    for offset in offsets:
        while where < len(sentences) - 1 and offset[0] >= sentences[where + 1][0]:
            where += 1
        if not sentences or not sentences[where][0] <= offset[0]:
            raise CorpusFormatError(path, number, f"token at {offset[0]}-{offset[1]} lies outside every sentence")
        groups[where].append(offset)
    first = {o[0]: (g, i) for g, group in enumerate(groups) for i, o in enumerate(group)}
    last = {o[1]: (g, i) for g, group in enumerate(groups) for i, o in enumerate(group)}
    tags = [["O"] * len(group) for group in groups]
    for start, end, label in sorted(spans):
        if start not in first or end not in last or first[start][0] != last[end][0]:
            inside = next((text[a:b] for a, b in offsets if a < start < b or a < end < b), None)
            cut = (
                f" cuts the token {inside!r}"
                if inside is not None
                else " does not start and end on token edges in one sentence"
            )
            raise CorpusFormatError(path, number, f"span {start}-{end} ({label} {text[start:end]!r}){cut}")
        g, a = first[start]
        b = last[end][1]
        if any(t != "O" for t in tags[g][a : b + 1]):
            raise CorpusFormatError(
                path, number, f"span {start}-{end} ({label}) overlaps another span; IOB tags cannot hold nested spans"
            )
        tags[g][a : b + 1] = [f"B-{label}"] + [f"I-{label}"] * (b - a)
    out = tuple(
        Sentence(tuple(text[a:b] for a, b in group), tuple(t), tuple(group)) for group, t in zip(groups, tags) if group
    )
    return Document(doc_id, out, text, tuple(sections))


def _merge_token_documents(documents: list[Document]) -> list[Document]:
    """Consecutive one-sentence token documents with one id become one document."""
    merged: list[Document] = []
    for doc in documents:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and doc.id is not None
            and doc.id == previous.id
            and doc.text is None
            and previous.text is None
        ):
            merged[-1] = Document(doc.id, previous.sentences + doc.sentences)
        else:
            merged.append(doc)
    return merged


def dump(corpus: Corpus) -> str:
    """Character-span records, one per document: `{"id", "text", "spans"}`. Every record has an
    `id`: null where the corpus has no document ids (CoNLL without `-DOCSTART-` lines), since an
    invented one would come back as a document id when the file is read or converted again."""
    lines = []
    for document in corpus.documents:
        text, sections, offsets = document_text(document)
        record: dict[str, Any] = {"id": document.id, "text": text}
        first_id = [0]
        for o in offsets:
            first_id.append(first_id[-1] + len(o))
        record["spans"] = [
            {
                "start": o[span.start][0],
                "end": o[span.end - 1][1],
                "label": span.label,
                "token_start": first + span.start,
                "token_end": first + span.end - 1,
            }  # inclusive, as Prodigy has it
            for sentence, o, first in zip(document.sentences, offsets, first_id)
            for span in sentence.spans
        ]
        if len(sections) > 1:
            record["sections"] = [list(section) for section in sections]
        record["sentences"] = [[o[0][0], o[-1][1]] for o in offsets if o]
        record["tokens"] = [
            {"text": text[a:b], "start": a, "end": b, "id": n}
            for n, (a, b) in enumerate(pair for o in offsets for pair in o)
        ]
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def dump_tokens(corpus: Corpus) -> str:
    """Token records, one per sentence: `{"doc_id", "tokens", "tags"}` (`doc_id` null without document ids)."""
    lines = []
    for document in corpus.documents:
        for sentence in document.sentences:
            record: dict[str, Any] = {
                "doc_id": document.id,
                "tokens": list(sentence.tokens),
                "tags": list(sentence.tags),
            }
            lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")
