"""Inputs are read exactly or refused in one line: Hugging Face tag ids outside the names,
DocBin files whose token IOB disagrees with itself, empty or span-group-only DocBins, reversed
spans; and documents survive a trip through a dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from samples import TOY, with_doc_ids
from typer.testing import CliRunner

from nerqa.data.formats import read_corpus, write_corpus
from nerqa.errors import CorpusFormatError
from nerqa_cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def class_label_dataset(rows: list[list[int]], folder: Path) -> Path:
    import datasets

    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-Disease", "I-Disease", "B-Chemical"])),
        }
    )
    tokens = [["Aspirin", "works", "well"][: len(r)] for r in rows]
    datasets.Dataset.from_dict({"tokens": tokens, "ner_tags": rows}, features=features).save_to_disk(str(folder))
    return folder


def test_datasets_no_label_id_is_refused_not_read_as_the_last_tag(tmp_path: Path):
    folder = class_label_dataset([[0, 1], [-1, 0]], tmp_path / "ds")
    with pytest.raises(CorpusFormatError, match=r"line 2: row 2, token 1: tag id -1 is not one of the 4 tag names"):
        read_corpus(folder)
    result = invoke("convert", folder, tmp_path / "out.conll")
    assert result.exit_code == 1 and "no label" in result.stderr and not (tmp_path / "out.conll").exists()


def test_an_integer_tag_beyond_the_named_tags_is_refused(tmp_path: Path):
    import datasets

    rows = {"tokens": [["Aspirin", "works"]], "ner_tags": [[7, 0]]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "plain"))
    result = invoke("convert", tmp_path / "plain", tmp_path / "out.conll", "--tags", "O,B-Chemical,I-Chemical")
    assert result.exit_code == 1 and "tag id 7 is not one of the 3 tag names (0-2)" in result.stderr


def test_documents_survive_a_trip_through_a_dataset(tmp_path: Path):
    toy = with_doc_ids(TOY)
    write_corpus(toy, tmp_path / "toy.conll")
    assert len(toy.documents) > 1 and any(len(d.sentences) > 1 for d in toy.documents)
    assert invoke("convert", tmp_path / "toy.conll", tmp_path / "ds", "--to", "hf").exit_code == 0
    result = invoke("convert", tmp_path / "ds", tmp_path / "back.conll", "--to", "conll")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "back.conll").is_file()  # one split: a file, not a folder of one
    assert (tmp_path / "back.conll").read_text() == (tmp_path / "toy.conll").read_text()
    assert "Saving the dataset" not in result.output + result.stderr and "%|" not in result.stderr
    back = read_corpus(tmp_path / "ds")
    assert [d.id for d in back.documents] == [d.id for d in toy.documents]
    assert [len(d.sentences) for d in back.documents] == [len(d.sentences) for d in toy.documents]


def test_one_split_of_a_dataset_dict_converts_to_one_file(tmp_path: Path):
    import datasets

    write_corpus(TOY, tmp_path / "toy.conll")
    invoke("convert", tmp_path / "toy.conll", tmp_path / "one", "--to", "hf")
    datasets.DatasetDict(
        {"train": datasets.load_from_disk(str(tmp_path / "one")), "dev": datasets.load_from_disk(str(tmp_path / "one"))}
    ).save_to_disk(str(tmp_path / "dd"))
    result = invoke("convert", tmp_path / "dd", tmp_path / "out.tsv", "--split", "train", "--to", "conll")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out.tsv").is_file() and read_corpus(tmp_path / "out.tsv").n_tokens == TOY.n_tokens


def docbin(tmp_path: Path, name: str, build) -> Path:
    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank("en").vocab
    bin_ = DocBin(store_user_data=True)
    for doc in build(vocab):
        bin_.add(doc)
    bin_.to_disk(tmp_path / name)
    return tmp_path / name


def test_a_docbin_whose_token_iob_disagrees_reads_as_spacy_reads_it(tmp_path: Path):
    import numpy
    from spacy.attrs import ENT_IOB, ENT_TYPE
    from spacy.tokens import Doc

    def build(vocab):
        doc = Doc(vocab, words=["Marfan", "syndrome", "is", "rare"])
        iob = [[3, vocab.strings.add("Disease")], [1, vocab.strings.add("Gene")], [2, 0], [2, 0]]
        doc.from_array([ENT_IOB, ENT_TYPE], numpy.array(iob, dtype="uint64"))
        return [doc]

    path = docbin(tmp_path, "incons.spacy", build)
    corpus = read_corpus(path)
    assert corpus.sentences[0].tags == ("B-Disease", "I-Disease", "O", "O")  # spaCy: one Disease span
    result = invoke("convert", path, tmp_path / "out.conll")
    assert result.exit_code == 0 and read_corpus(tmp_path / "out.conll").sentences[0].tags == corpus.sentences[0].tags
    assert "entities     │ 1" in invoke("stats", path).output


def test_an_empty_docbin_and_entities_only_in_span_groups_are_refused(tmp_path: Path):
    from spacy.tokens import Doc, Span

    empty = docbin(tmp_path, "empty.spacy", lambda vocab: [])
    result = invoke("convert", empty, tmp_path / "out.conll")
    assert result.exit_code == 1 and "the DocBin holds no documents" in result.stderr
    assert not (tmp_path / "out.conll").exists()

    def overlapping(vocab):
        doc = Doc(vocab, words=["Marfan", "syndrome", "is", "rare"])
        doc.spans["sc"] = [Span(doc, 0, 2, "Disease"), Span(doc, 1, 2, "Symptom")]
        return [doc]

    spans = docbin(tmp_path, "spans.spacy", overlapping)
    with pytest.raises(CorpusFormatError, match=r"document 1: its entities are in doc.spans \('sc': 2\)"):
        read_corpus(spans)
    result = invoke("audit", empty, "--out", tmp_path / "X")
    assert result.exit_code == 1 and not (tmp_path / "X").exists()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ('{"text": "Aspirin works", "spans": [{"start": 7, "end": 0, "label": "Chemical"}]}', "span 7-0 is reversed"),
        ('{"text": "Aspirin works", "spans": [{"start": 3, "end": 3, "label": "Chemical"}]}', "span 3-3 is empty"),
        (
            '{"text": "Aspirin works", "spans": [{"start": 0, "end": 70, "label": "Chemical"}]}',
            "span 0-70 lies outside the text",
        ),
    ],
)
def test_a_bad_jsonl_span_says_what_is_wrong(record: str, message: str, tmp_path: Path):
    path = tmp_path / "in.jsonl"
    path.write_text(record + "\n")
    with pytest.raises(CorpusFormatError, match=rf"in.jsonl, line 1: {message}"):
        read_corpus(path)
