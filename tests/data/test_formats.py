"""Readers and writers on small hand-written corpora: content, round trips, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import BAD, CONLL, PUBTATOR
from samples import NCBI_SAMPLE as NCBI

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import (
    FORMATS,
    ReadOptions,
    detect_format,
    dump_text,
    parse_text,
    read_corpus,
    read_splits,
    write_corpus,
    write_splits,
)
from nerqa.data.tags import to_iob2
from nerqa.errors import CorpusFormatError, FormatDetectionError, NerqaError


def doc_view(corpus: Corpus) -> list:
    return [(d.id, [(s.tokens, s.tags) for s in d.sentences]) for d in corpus.documents]


def test_conll_reads_documents_ids_and_tags():
    corpus = parse_text(CONLL, "conll")
    assert [d.id for d in corpus.documents] == ["111", "222"]
    assert corpus.sentences[0].tokens == ("Familial", "adenomatous", "polyposis", ".")
    assert corpus.sentences[1].tags == ("B-Disease", "I-Disease", "O")
    assert doc_view(parse_text(dump_text(corpus, "conll"), "conll")) == doc_view(corpus)


def test_conll_picks_columns_and_converts_iob1():
    text = (
        "EU NNP B-NP I-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP I-MISC\n\nPeter NNP B-NP I-PER\nBlackburn NNP "
        "B-NP I-PER\n"
    )
    # IOB1 is detected from its evidence: a B- that separates two adjacent spans of one type.
    separator = "\nin IN B-PP O\nGermany NNP B-NP I-LOC\nFrance NNP B-NP B-LOC\n"
    corpus = parse_text(text + separator, "conll")
    assert corpus.sentences[0].tags == ("B-ORG", "O", "B-MISC")
    assert corpus.sentences[2].tags == ("O", "B-LOC", "B-LOC")
    assert parse_text(text, "conll", options=ReadOptions(scheme="iob1")).sentences[0].tags == ("B-ORG", "O", "B-MISC")
    chunks = parse_text(text, "conll", options=ReadOptions(tag_column=2))
    assert chunks.sentences[0].tags == ("B-NP", "B-VP", "B-NP")


def test_conll_without_docstart_gives_one_document_per_sentence():
    corpus = parse_text("a\tO\n\nb\tB-X\n", "conll")
    assert [(d.id, len(d.sentences)) for d in corpus.documents] == [(None, 1), (None, 1)]
    assert "-DOCSTART-" not in dump_text(corpus, "conll")


def test_ncbi_inline_keeps_categories_offsets_and_sections():
    corpus = parse_text(NCBI, "ncbi")
    (document,) = corpus.documents
    assert document.id == "111"
    spans = [(s.span_text(span), span.label) for s in corpus.sentences for span in s.spans]
    assert spans == [
        ("Huntington disease", "SpecificDisease"),
        ("HD", "Modifier"),
        ("tumours", "DiseaseClass"),
        ("HD", "SpecificDisease"),
    ]
    # Title is its own sentence; "( ref . 3 )" does not split; two abstract sentences.
    assert len(corpus.sentences) == 3
    first = corpus.sentences[1]
    for token, (s, e) in zip(first.tokens, first.offsets):
        assert document.text[s:e] == token
    assert dump_text(corpus, "ncbi") == NCBI


def test_ncbi_merge_types():
    corpus = parse_text(NCBI, "ncbi", options=ReadOptions(merge_type="Disease"))
    assert corpus.entity_types == ("Disease",)
    assert sum(corpus.entity_counts().values()) == 4


def test_pubtator_reads_offsets_skips_relations_and_round_trips():
    corpus = parse_text(PUBTATOR, "pubtator")
    assert [d.id for d in corpus.documents] == ["111", "222"]
    spans = [(s.span_text(span), span.label) for s in corpus.sentences for span in s.spans]
    assert spans == [("Huntington disease", "SpecificDisease"), ("HD", "Modifier"), ("Colon cancer", "DiseaseClass")]
    again = parse_text(dump_text(corpus, "pubtator"), "pubtator")
    assert doc_view(again) == doc_view(corpus)


def test_pubtator_from_tokens_writes_consistent_offsets():
    corpus = parse_text(CONLL, "conll")
    text = dump_text(corpus, "pubtator")
    assert "111\t9\t30\tadenomatous polyposis\tDisease\t-" in text
    assert [s.tags for s in parse_text(text, "pubtator").sentences] == [s.tags for s in corpus.sentences]


def test_nemo_bare_tags_pair_and_label_ids(tmp_path: Path):
    (tmp_path / "text_train.txt").write_text("Colon cancer risk .\nNo disease here .\n")
    (tmp_path / "labels_train.txt").write_text("B I O O \nO O O O \n")
    (tmp_path / "label_ids.csv").write_text("O\nB\nI")
    corpus = read_corpus(tmp_path / "text_train.txt", options=ReadOptions(entity_type="Disease"))
    assert corpus.sentences[0].tags == ("B-Disease", "I-Disease", "O", "O")
    out = tmp_path / "out"
    write_splits({"train": corpus}, out, "nemo", options=ReadOptions(entity_type="Disease"))
    assert (out / "labels_train.txt").read_text().splitlines()[0] == "B I O O"
    assert read_splits(out, options=ReadOptions(entity_type="Disease"))["train"].sentences == corpus.sentences


def test_nemo_typed_tags_are_written_typed(tmp_path: Path):
    corpus = parse_text(CONLL, "conll")
    write_corpus(corpus, tmp_path / "text_dev.txt")
    assert (tmp_path / "labels_dev.txt").read_text().split()[:2] == ["O", "B-Disease"]
    assert (tmp_path / "label_ids.csv").read_text().split() == ["O", "B-Disease", "I-Disease"]


@pytest.mark.parametrize(
    "record",
    [
        {
            "id": "7",
            "text": "Colon cancer and HD.",
            "spans": [{"start": 0, "end": 12, "label": "Disease"}, {"start": 17, "end": 19, "label": "Disease"}],
        },
        {
            "id": "7",
            "text": "Colon cancer and HD.",
            "entities": [
                {"start_offset": 0, "end_offset": 12, "label": "Disease"},
                {"start_offset": 17, "end_offset": 19, "label": "Disease"},
            ],
        },
        {"id": "7", "text": "Colon cancer and HD.", "label": [[0, 12, "Disease"], [17, 19, "Disease"]]},
        {
            "id": 7,
            "data": {"text": "Colon cancer and HD."},
            "annotations": [
                {
                    "result": [
                        {"value": {"start": 0, "end": 12, "labels": ["Disease"]}, "type": "labels"},
                        {"value": {"start": 17, "end": 19, "labels": ["Disease"]}, "type": "labels"},
                    ]
                }
            ],
        },
    ],
    ids=["spacy-prodigy", "doccano", "doccano-old", "label-studio"],
)
def test_jsonl_character_span_records_from_each_tool(record):
    corpus = parse_text(json.dumps(record), "jsonl")
    assert corpus.documents[0].id == "7"
    assert corpus.sentences[0].tags == ("B-Disease", "I-Disease", "O", "B-Disease", "O")


def test_jsonl_token_records_group_by_doc_id_and_round_trip():
    text = "\n".join(
        json.dumps(r)
        for r in [
            {"doc_id": "a", "tokens": ["HD", "gene"], "tags": ["B-D", "O"]},
            {"doc_id": "a", "tokens": ["More", "."], "ner_tags": ["O", "O"]},
            {"tokens": ["x"], "tags": ["O"]},
        ]
    )
    corpus = parse_text(text, "jsonl")
    assert [(d.id, len(d.sentences)) for d in corpus.documents] == [("a", 2), (None, 1)]
    for fmt in ("jsonl", "jsonl-tokens"):
        assert doc_view(parse_text(dump_text(corpus, fmt), fmt)) == doc_view(corpus)


def test_jsonl_records_always_carry_the_document_id_key():
    # CoNLL without -DOCSTART- has no document ids: each record says so with null, and reading
    # the file back (or converting it again) gives the same corpus, with no invented ids.
    corpus = parse_text("HD\tB-D\ngene\tO\n\nmore\tO\n", "conll")
    assert all(d.id is None for d in corpus.documents)
    for fmt, key in (("jsonl", "id"), ("jsonl-tokens", "doc_id")):
        records = [json.loads(line) for line in dump_text(corpus, fmt).splitlines()]
        assert records and all(key in r and r[key] is None for r in records), records
        again = parse_text(dump_text(corpus, fmt), fmt)
        assert doc_view(again) == doc_view(corpus) and dump_text(again, "conll") == dump_text(corpus, "conll")
    named = parse_text(dump_text(corpus, "jsonl").replace('"id": null', '"id": "pmid-1"', 1), "jsonl")
    assert named.documents[0].id == "pmid-1"


def test_detect_format_from_names_and_content(write):
    assert detect_format(write("a.conll", CONLL)) == "conll"
    assert detect_format(write("b.txt", NCBI)) == "ncbi"
    assert detect_format(write("c.txt", PUBTATOR)) == "pubtator"
    assert detect_format(write("d.jsonl", '{"text": "x", "spans": []}\n')) == "jsonl"
    assert detect_format(write("text_train.txt", "a b\n")) == "nemo"
    with pytest.raises(FormatDetectionError, match="pass --format"):
        detect_format(write("e.txt", "just some words\nand more\n"))


# --- bad input: one clear error naming file, line and problem ---------------------------------


@pytest.mark.parametrize(("fmt", "content", "line", "reason"), BAD, ids=[f"{b[0]}-{b[3][:20]}" for b in BAD])
def test_bad_input_names_file_line_and_problem(write, fmt, content, line, reason):
    path = write(f"bad.{fmt}", content)
    with pytest.raises(CorpusFormatError) as caught:
        read_corpus(path, fmt)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}, line {line}: ")


def test_repair_reads_inside_start_as_begin(write):
    path = write("x.tsv", "a\tO\nb\tI-Disease\n\nc\tB-Disease\n")
    assert read_corpus(path, options=ReadOptions(repair=True)).sentences[0].tags == ("O", "B-Disease")


def test_nemo_line_count_and_token_count_mismatch(tmp_path: Path):
    (tmp_path / "text_x.txt").write_text("a b\nc d\n")
    (tmp_path / "labels_x.txt").write_text("O O\n")
    with pytest.raises(CorpusFormatError, match=r"labels_x.txt, line 2: 1 label lines but 2 text lines"):
        read_corpus(tmp_path / "text_x.txt")
    (tmp_path / "labels_x.txt").write_text("O O\nO\n")
    with pytest.raises(CorpusFormatError, match=r"labels_x.txt, line 2: 1 labels for 2 tokens"):
        read_corpus(tmp_path / "labels_x.txt")


def test_undecodable_bytes_and_empty_files(write):
    path = write("x.tsv", b"a\tO\n\nb\tO\nc\xff\tO\n")
    with pytest.raises(CorpusFormatError, match=r"line 4: not valid UTF-8: byte 0xff"):
        read_corpus(path, "conll")
    with pytest.raises(CorpusFormatError, match="the file is empty"):
        read_corpus(write("empty.tsv", "\n\n"), "conll")


def test_write_is_atomic_when_the_writer_fails(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("previous content")
    bad = Corpus((Document("1", (Sentence(("a\tb",), ("O",)),)),))  # a token with CoNLL's column separator
    with pytest.raises(NerqaError, match="holds '\\\\t'"):
        write_corpus(bad, tmp_path / "out.tsv")
    assert not (tmp_path / "out.tsv").exists()
    assert target.read_text() == "previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


# --- property-based round trips ------------------------------------------------------------

token_text = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=8)
tags_for = st.sampled_from(["O", "O", "O", "B-Disease", "I-Disease", "B-Chem", "I-Chem"])


@st.composite
def corpora(draw) -> Corpus:
    documents = []
    for d in range(draw(st.integers(1, 3))):
        sentences = []
        for _ in range(draw(st.integers(1, 3))):
            n = draw(st.integers(1, 8))
            tokens = tuple(draw(token_text) for _ in range(n))
            tags = tuple(to_iob2([draw(tags_for) for _ in range(n)], "iob2", repair=True))
            sentences.append(Sentence(tokens, tags))
        documents.append(Document(f"d{d}", tuple(sentences)))
    return Corpus(tuple(documents))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(corpora(), st.sampled_from(["conll", "jsonl", "jsonl-tokens"]))
def test_token_corpora_round_trip_exactly(corpus, fmt):
    assert doc_view(parse_text(dump_text(corpus, fmt), fmt)) == doc_view(corpus)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(corpora(), st.sampled_from(["ncbi", "pubtator"]))
def test_raw_text_formats_keep_tokens_and_tags(corpus, fmt):
    # Raw-text formats re-split sentences, so compare each document's token and tag stream.
    once = parse_text(dump_text(corpus, fmt), fmt)
    twice = parse_text(dump_text(once, fmt), fmt)
    assert doc_view(twice) == doc_view(once)
    stream = lambda c: [[(t, g) for s in d.sentences for t, g in zip(s.tokens, s.tags)] for d in c.documents]  # noqa: E731
    assert stream(once) == stream(corpus)


def test_every_format_is_writable_and_readable(tmp_path: Path):
    corpus = parse_text(CONLL, "conll")
    for fmt in FORMATS:
        target = tmp_path / ("text_t.txt" if fmt == "nemo" else f"out.{fmt}")
        write_corpus(corpus, target, fmt)
        again = read_corpus(target, fmt)
        assert [s.tags for s in again.sentences] == [s.tags for s in corpus.sentences], fmt
