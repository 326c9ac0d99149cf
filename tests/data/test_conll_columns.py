"""CoNLL files keep every column: read and written back, only the tags that changed differ
(`nerqa.data.formats.conll.Rows`); a format without a place for them says so."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from conftest import SHARED, needs_shared
from hypothesis import given
from hypothesis import strategies as st
from strategies import conll_files, iob2_tags
from typer.testing import CliRunner

from nerqa.data.corpus import Corpus, Document
from nerqa.data.formats import dump_text, lost_columns, parse_text, read_corpus
from nerqa.data.tags import from_iob2, spans_from_tags, tags_from_spans, to_iob2
from nerqa_cli.main import app


@given(conll_files())
def test_conll_text_comes_back_byte_for_byte(case):
    text, _ = case
    assert dump_text(parse_text(text, "conll"), "conll") == text


@given(conll_files(), st.data())
def test_a_relabel_changes_the_tag_column_alone(case, data):
    text, width = case
    corpus = parse_text(text, "conll")
    # Relabel one sentence: every entity becomes ORG, or the sentence loses its entities.
    target = data.draw(st.integers(0, len(corpus) - 1))
    documents, n = [], 0
    for document in corpus.documents:
        sentences = []
        for sentence in document.sentences:
            if n == target:
                spans = [replace(s, label="ORG") for s in sentence.spans] if data.draw(st.booleans()) else []
                sentence = replace(sentence, tags=tuple(tags_from_spans(spans, len(sentence))))
            sentences.append(sentence)
            n += 1
        documents.append(Document(document.id, tuple(sentences)))
    out = dump_text(Corpus(tuple(documents)), "conll")
    before, after = text.splitlines(), out.splitlines()
    assert len(before) == len(after)
    for old, new in zip(before, after):
        split = (lambda line: line.split("\t") if "\t" in line else line.split(" ")) if old else (lambda line: [])
        assert split(old)[:-1] == split(new)[:-1]  # token and every other column, byte for byte
    assert [s.tags for s in parse_text(out, "conll").sentences] == [s.tags for s in documents_sentences(documents)]


def record_decisions_on(corpus: Corpus, folder: Path) -> tuple[Path, list[tuple[str, ...]]]:
    """An audit of `corpus` in `folder` whose model reads the entities of the first 5 sentences
    that hold one as MISC, every suggestion accepted; and the tags that should result."""
    import numpy as np

    from nerqa.auditing import score, write_outputs
    from nerqa.review.opening import open_review
    from nerqa.review.session import Filters

    tags = ("O",) + tuple(f"{p}-{t}" for t in ("PER", "LOC", "ORG", "MISC") for p in "BI")
    changed = [s.tags for s in corpus.sentences]
    chosen = [i for i, s in enumerate(corpus.sentences) if any(sp.label != "MISC" for sp in s.spans)][:5]
    for i in chosen:
        sentence = corpus.sentences[i]
        changed[i] = tuple(tags_from_spans([replace(sp, label="MISC") for sp in sentence.spans], len(sentence)))
    probs = []
    for reading in changed:
        p = np.full((len(reading), len(tags)), 0.01, dtype=np.float32)
        p[np.arange(len(reading)), [tags.index(t) for t in reading]] = 1 - 0.01 * (len(tags) - 1)
        probs.append(p)
    write_outputs(score(corpus, probs, tags), folder)
    with open_review(corpus, folder, reviewer="tester", filters=Filters(types=frozenset({"wrong_tag"}))) as session:
        session.bulk_accept(session.filters)
    return folder, changed


def documents_sentences(documents):
    return [s for d in documents for s in d.sentences]


@given(st.integers(1, 8).flatmap(iob2_tags), st.sampled_from(["iob1", "iob2", "bioes"]))
def test_from_iob2_is_the_inverse_of_to_iob2(tags, scheme):
    written = from_iob2(tags, scheme)
    assert to_iob2(written, scheme) == tags
    assert spans_from_tags(to_iob2(written, scheme)) == spans_from_tags(tags)


def test_an_iob1_file_is_written_back_in_iob1():
    text = "John I-PER\nSmith I-PER\nMary B-PER\nin O\nParis I-LOC\n\n"
    corpus = parse_text(text, "conll")
    assert corpus.sentences[0].tags == ("B-PER", "I-PER", "B-PER", "O", "B-LOC")
    assert dump_text(corpus, "conll") == text


def test_formats_without_a_place_for_the_columns_say_so(tmp_path: Path):
    corpus = parse_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n", "conll")
    assert lost_columns(corpus, "conll") is None
    assert "CoNLL columns besides token and tag (2 per line" in lost_columns(corpus, "jsonl")
    assert lost_columns(parse_text("EU\tB-ORG\n\n", "conll"), "jsonl") is None
    source = tmp_path / "four.txt"
    source.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n")
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "Note: jsonl has no place for the CoNLL columns" in " ".join(result.stderr.split())


@needs_shared
def test_apply_and_convert_keep_conll_2003s_pos_and_chunk_columns(tmp_path: Path):
    source = SHARED / "conll2003" / "dev.txt"
    text = source.read_text(encoding="utf-8")
    runner = CliRunner()
    converted = tmp_path / "dev.conll"
    result = runner.invoke(app, ["convert", str(source), str(converted)])
    assert result.exit_code == 0, result.output
    assert converted.read_text(encoding="utf-8") == text
    # Decisions on a few sentences: apply writes them and leaves every other byte as it was.
    corpus = read_corpus(source)
    audit_dir, changed = record_decisions_on(corpus, tmp_path / "audit")
    fixed = tmp_path / "dev.fixed.txt"
    result = runner.invoke(app, ["apply", str(source), str(audit_dir), "--out", str(fixed)])
    assert result.exit_code == 0, result.output + result.stderr
    before, after = text.splitlines(), fixed.read_text(encoding="utf-8").splitlines()
    assert len(before) == len(after)
    differing = [(a, b) for a, b in zip(before, after) if a != b]
    assert differing and all(a.split(" ")[:3] == b.split(" ")[:3] for a, b in differing)
    assert [s.tags for s in read_corpus(fixed).sentences] == changed
