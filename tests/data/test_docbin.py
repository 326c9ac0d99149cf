"""spaCy DocBin (`.spacy`) in and out: entities, sentence boundaries and text kept."""

from __future__ import annotations

from pathlib import Path

import spacy
from spacy.tokens import Doc, DocBin, Span
from typer.testing import CliRunner

from nerqa.data.formats import read_corpus, write_corpus
from nerqa_cli.main import app


def _spacy_file(path: Path) -> list[tuple]:
    """A DocBin as spaCy writes one: two documents, sentence boundaries, entities; returns
    each document's (text, entities as (start char, end char, label), sentence starts)."""
    nlp = spacy.blank("en")
    docs = []
    words = ["Aspirin", "helps", "in", "Paris", ".", "John", "Smith", "agrees", "."]
    spaces = [True, True, True, False, True, True, True, False, False]
    doc = Doc(nlp.vocab, words=words, spaces=spaces, sent_starts=[1, 0, 0, 0, 0, 1, 0, 0, 0])
    doc.ents = [Span(doc, 0, 1, "CHEM"), Span(doc, 3, 4, "LOC"), Span(doc, 5, 7, "PER")]
    docs.append(doc)
    other = Doc(nlp.vocab, words=["No", "entity", "here"])
    docs.append(other)
    DocBin(docs=docs).to_disk(path)
    return [
        (d.text, [(e.start_char, e.end_char, e.label_) for e in d.ents], [bool(t.is_sent_start) for t in d])
        for d in docs
    ]


def test_a_docbin_spacy_wrote_reads_and_writes_back_the_same_entities(tmp_path: Path):
    expected = _spacy_file(tmp_path / "in.spacy")
    corpus = read_corpus(tmp_path / "in.spacy")
    assert len(corpus.documents) == 2
    first = corpus.documents[0]
    assert [s.tokens for s in first.sentences] == [
        ("Aspirin", "helps", "in", "Paris", "."),
        ("John", "Smith", "agrees", "."),
    ]
    assert first.sentences[1].tags == ("B-PER", "I-PER", "O", "O")
    result = CliRunner().invoke(app, ["convert", str(tmp_path / "in.spacy"), str(tmp_path / "out.spacy")])
    assert result.exit_code == 0, result.output + result.stderr
    nlp = spacy.blank("en")
    back = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(nlp.vocab))
    got = [
        (d.text, [(e.start_char, e.end_char, e.label_) for e in d.ents], [bool(t.is_sent_start) for t in d])
        for d in back
    ]
    assert got == expected  # text, entities and sentence boundaries, as spaCy reads them


def test_a_token_corpus_becomes_a_docbin(tmp_path: Path):
    from samples import TOY

    write_corpus(TOY, tmp_path / "toy.spacy")
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(tmp_path / "toy.spacy").get_docs(nlp.vocab))
    entities = [e.text for d in docs for e in d.ents]
    assert entities == [" ".join(s.tokens[sp.start : sp.end]) for s in TOY.sentences for sp in s.spans]
    assert sum(1 for d in docs for _ in d.sents) == len(TOY)
    back = read_corpus(tmp_path / "toy.spacy").sentences
    assert [(s.tokens, s.tags) for s in back] == [(s.tokens, s.tags) for s in TOY.sentences]
