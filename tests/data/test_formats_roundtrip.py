"""Lossless round trips (Hypothesis): a corpus whose tokens are any Unicode without a line break
survives every token format -> nerqa JSONL -> the same format unchanged, and the raw-text
formats keep their text byte for byte through nerqa JSONL."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import (
    ReadOptions,
    dump_text,
    parse_text,
    read_corpus,
    write_corpus,
)
from nerqa.data.formats.common import LINE_BREAKS

# Tokens people meet: emoji ZWJ sequences, combining marks, right-to-left text, no-break,
# zero-width and ideographic spaces, joiners, bidi controls, hyphenated names.
SPECIAL = [
    "👩\u200d👩\u200d👧",
    "e\u0301",
    "שלום",
    "مرحبا",
    "\u00a0",
    "\u200b",
    "a\u00a0b",
    "IL-2",
    "p53-mediated",
    "\u202e",
    "\u3000",
    "\u2060",
    "x\u200dy",
    "🇫🇷",
    "Ⅻ",
    "\x1f",
    "\x00",
    "Ω\u0308",
]
# The column separators: CoNLL splits on a TAB, NeMo on a space; U+FEFF at a file's start is
# read as a byte-order mark. Every other character is fair game.
EXCLUDED = set(LINE_BREAKS) | {"\t", " ", "\ufeff"}

token = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters=EXCLUDED), min_size=1, max_size=5),
).filter(lambda t: t != "-DOCSTART-")


@st.composite
def corpora(draw, *, types: tuple[str, ...] = ("PER", "Gene"), with_ids: bool = True) -> Corpus:
    documents = []
    for d in range(draw(st.integers(1, 3))):
        sentences = []
        for _ in range(draw(st.integers(1, 3))):
            tokens = draw(st.lists(token, min_size=1, max_size=8))
            tags, inside = [], None
            for _ in tokens:
                choice = draw(st.sampled_from(["O", "B", "I"] if inside else ["O", "B"]))
                if choice == "B":
                    inside = draw(st.sampled_from(types))
                    tags.append(f"B-{inside}")
                elif choice == "I":
                    tags.append(f"I-{inside}")
                else:
                    inside = None
                    tags.append("O")
            sentences.append(Sentence(tuple(tokens), tuple(tags)))
        documents.append(Document(f"doc{d}" if with_ids else None, tuple(sentences)))
    return Corpus(tuple(documents))


def shape(corpus: Corpus) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    return [(s.tokens, s.tags) for s in corpus.sentences]


def through_nerqa_jsonl(corpus: Corpus) -> Corpus:
    return parse_text(dump_text(corpus, "jsonl"), "jsonl")


@pytest.mark.parametrize("fmt", ["conll", "jsonl-tokens"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corpus=corpora())
def test_token_formats_survive_nerqa_jsonl(fmt: str, corpus: Corpus):
    text = dump_text(corpus, fmt)
    read = parse_text(text, fmt)
    assert shape(read) == shape(corpus)
    again = through_nerqa_jsonl(read)
    assert shape(again) == shape(corpus) and [d.id for d in again.documents] == [d.id for d in read.documents]
    assert dump_text(again, fmt) == text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corpus=corpora(types=("ENT",), with_ids=False))
# Found by Hypothesis: a last sentence of one ideographic space, read as a blank line.
@example(corpus=Corpus((Document(None, (Sentence(("a",), ("O",)),)), Document(None, (Sentence(("\u3000",), ("O",)),)))))
@example(corpus=Corpus((Document(None, (Sentence(("\u3000",), ("O",)),)),)))
def test_nemo_survives_nerqa_jsonl(corpus: Corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("nemo")
    write_corpus(corpus, folder / "text_train.txt", "nemo")
    original = {p.name: p.read_bytes() for p in folder.iterdir()}
    read = read_corpus(folder / "text_train.txt", "nemo", options=ReadOptions(entity_type="ENT"))
    assert shape(read) == shape(corpus)
    again = through_nerqa_jsonl(read)
    assert shape(again) == shape(corpus)
    out = tmp_path_factory.mktemp("nemo-again")
    write_corpus(again, out / "text_train.txt", "nemo")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == original


# Raw text: words of any characters but separators, joined by ordinary and unusual spaces.
word = st.text(
    st.characters(exclude_categories=("Cs", "Zs", "Cc", "Zl", "Zp"), exclude_characters=EXCLUDED | {"|", "<", ">"}),
    min_size=1,
    max_size=6,
)
gap = st.sampled_from([" ", "  ", "\u00a0", " \u200b", ", ", " - ", ". "])


@st.composite
def raw_documents(draw) -> dict:
    """A title and an abstract joined by one space (the two passages of NCBI and PubTator)."""
    text, spans, sections = "", [], []
    for passage in range(2):
        if passage:
            text += " "
        start = len(text)
        for n, w in enumerate(draw(st.lists(word, min_size=1, max_size=8))):
            if n:
                text += draw(gap)
            if w[0].isalnum() and w[-1].isalnum() and draw(st.booleans()) and (not text or not text[-1].isalnum()):
                spans.append({"start": len(text), "end": len(text) + len(w), "label": "Disease"})
            text += w
        sections.append([start, len(text)])
    return {"id": "123", "text": text, "spans": spans, "sections": sections}


@pytest.mark.parametrize("fmt", ["jsonl", "pubtator", "ncbi"])
@settings(max_examples=100, deadline=None)
@given(record=raw_documents())
def test_raw_text_formats_keep_their_text_byte_for_byte(fmt: str, record: dict):
    corpus = parse_text(json.dumps(record, ensure_ascii=False) + "\n", "jsonl")
    text = dump_text(corpus, fmt)
    read = parse_text(text, fmt)
    assert read.documents[0].text == record["text"]
    assert [(s.tokens, s.tags) for s in read.sentences] == [(s.tokens, s.tags) for s in corpus.sentences]
    again = through_nerqa_jsonl(read)
    assert shape(again) == shape(read) and again.documents[0].text == read.documents[0].text
    assert dump_text(again, fmt) == text
