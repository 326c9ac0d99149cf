"""The acceptance figures on the real corpora in ../shared/data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import NCBI, needs_shared, shared_corpus_files

from nerqa.data.agreement import sentence_agreement
from nerqa.data.formats import ReadOptions, detect_format, read_corpus, write_corpus
from nerqa.data.stats import corpus_stats, surface_forms

pytestmark = needs_shared

PUBTATOR_IOB = [
    ("NCBItrainset_corpus.txt", "train.tsv"),
    ("NCBIdevelopset_corpus.txt", "devel.tsv"),
    ("NCBItestset_corpus.txt", "test.tsv"),
]
_cache: dict[Path, object] = {}


def cached(path: Path):
    if path not in _cache:
        _cache[path] = read_corpus(path)
    return _cache[path]


def test_ncbi_inline_training_file():
    corpus = cached(NCBI / "original/NCBI_corpus_training.txt")
    assert len(corpus.documents) == 593
    entities = [(sentence, span) for sentence in corpus.sentences for span in sentence.spans]
    assert len(entities) == 5148
    # Each entity's text is the text inside its <category> tag (8 tags hold a trailing space).
    raw = (NCBI / "original/NCBI_corpus_training.txt").read_text(encoding="utf-8")
    tagged = [m.strip() for m in re.findall(r'<category="[^"]+">(.*?)</category>', raw)]
    from_offsets = []
    for document in corpus.documents:
        for sentence in document.sentences:
            for span in sentence.spans:
                start, end = sentence.offsets[span.start][0], sentence.offsets[span.end - 1][1]
                from_offsets.append(document.text[start:end])
    assert from_offsets == tagged


def test_pubtator_training_entities_match_the_mention_column():
    path = NCBI / "pubtator/NCBItrainset_corpus.txt"
    corpus = cached(path)
    mentions = [
        line.split("\t")[3].strip() for line in path.read_text(encoding="utf-8").splitlines() if line.count("\t") >= 4
    ]
    found = []
    for document in corpus.documents:
        for sentence in document.sentences:
            for span in sentence.spans:
                found.append(document.text[sentence.offsets[span.start][0] : sentence.offsets[span.end - 1][1]])
    assert len(found) == 5145
    assert found == mentions


@pytest.mark.parametrize(("pubtator", "iob"), PUBTATOR_IOB)
def test_pubtator_converted_to_iob_agrees_with_the_official_release(tmp_path, pubtator, iob):
    merged = read_corpus(NCBI / "pubtator" / pubtator, options=ReadOptions(merge_type="Disease"))
    write_corpus(merged, tmp_path / "converted.tsv")
    official = cached(NCBI / "iob" / iob)
    agreement = sentence_agreement(official, read_corpus(tmp_path / "converted.tsv"), with_tags=True)
    assert agreement.rate >= 0.985, (agreement.matched, agreement.total)


CORPORA = shared_corpus_files()
# Token formats hold any corpus exactly; raw-text formats hold corpora read from raw text.
TOKEN_FORMATS = ["conll", "nemo", "jsonl", "jsonl-tokens"]


def _views(corpus, with_ids: bool):
    return [(d.id if with_ids else None, [(s.tokens, s.tags) for s in d.sentences]) for d in corpus.documents]


@pytest.mark.parametrize("path", CORPORA, ids=[f"{p.parent.name}/{p.name}" for p in CORPORA])
def test_read_write_read_is_identical_for_every_format(tmp_path, path):
    corpus = cached(path)
    own = detect_format(path)
    formats = TOKEN_FORMATS + ([own] if own not in TOKEN_FORMATS else [])
    for fmt in formats:
        target = tmp_path / fmt / ("text_x.txt" if fmt == "nemo" else "x.out")
        write_corpus(corpus, target, fmt)
        again = read_corpus(target, fmt)
        if fmt == "nemo":  # NeMo holds neither documents nor ids: compare sentences
            assert [(s.tokens, s.tags) for s in again.sentences] == [(s.tokens, s.tags) for s in corpus.sentences], fmt
        else:
            assert _views(again, True) == _views(corpus, True), fmt


def test_stats_show_hd_labeled_modifier_and_specific_disease():
    corpus = cached(NCBI / "original/NCBI_corpus_training.txt")
    hd = surface_forms(corpus)[("HD",)]
    assert dict(hd.types) == {"Modifier": 29, "SpecificDisease": 24}
    assert "HD" in [f.text for f in corpus_stats(corpus).multi_type_forms]
