from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nerqa.data.segment import biomedical_nlp, segment, tokenize


def words(text: str, **kwargs) -> list[list[str]]:
    return [[text[s:e] for s, e in sentence] for sentence in segment(text, **kwargs)]


def test_tokenizer_splits_punctuation_and_hyphens():
    text = "beta-catenin (CTNNB1) mutations, 7.5%."
    assert [text[s:e] for s, e in tokenize(text)] == [
        "beta",
        "-",
        "catenin",
        "(",
        "CTNNB1",
        ")",
        "mutations",
        ",",
        "7",
        ".",
        "5",
        "%",
        ".",
    ]


def test_full_stops_inside_brackets_and_abbreviations_do_not_split():
    text = "Mutations in BRCA1 (ref. 3) cause cancer. See Fig. 2 for details. Growth of E. coli was normal."
    sentences = words(text)
    assert len(sentences) == 3
    assert sentences[0] == ["Mutations", "in", "BRCA1", "(", "ref", ".", "3", ")", "cause", "cancer", "."]
    assert sentences[1][:4] == ["See", "Fig", ".", "2"]


def test_spacy_sentencizer_would_split_what_nerqa_keeps():
    # The reason the component exists: spaCy's rule-based sentencizer splits "( ref . 3 )".
    import spacy

    plain = spacy.blank("en")
    plain.add_pipe("sentencizer")
    text = "Mutations in BRCA1 ( ref . 3 ) cause cancer ."
    assert len(list(plain(text).sents)) == 2
    assert len(list(biomedical_nlp()(text).sents)) == 1


def test_lower_case_after_stop_continues_unless_a_gene_name():
    assert len(words("Shown by Smith et al. and others. mRNA levels fell.")) == 2


def test_sections_are_never_crossed_and_protected_spans_never_split():
    title = "Tumour suppressor genes"
    text = f"{title} Carcinoma of the colon. Rare."
    assert words(text, sections=[(0, len(title)), (len(title) + 1, len(text))])[0] == ["Tumour", "suppressor", "genes"]
    protected = (text.index("colon"), len(text))  # an entity that holds a full stop
    assert len(words(text, protected=[protected])) == 1


def test_entity_edges_inside_words_become_token_boundaries():
    text = "colon cancers"
    assert [text[s:e] for s, e in tokenize(text, boundaries=[12])] == ["colon", "cancer", "s"]


@given(st.text(max_size=200))
def test_tokens_cover_every_non_space_character_in_order(text):
    spans = tokenize(text)
    covered = "".join(text[s:e] for s, e in spans)
    assert covered == "".join(c for c in text if not c.isspace())
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    flat = [span for sentence in segment(text) for span in sentence]
    assert flat == spans


def test_a_very_long_single_document_is_read_in_linear_time(tmp_path):
    """Probe: a 10 MB one-document JSONL made `nerqa stats` run for minutes, because setting
    sentence starts token by token made spaCy re-scan the whole document each time. 600,000
    characters now read in seconds; the old code needed minutes (so the bound is generous)."""
    import json
    import time

    from nerqa.data.formats import read_corpus

    sentence = "Patients with breast cancer ( n = 12 ) had a BRCA1 mutation . "
    text = sentence * (600_000 // len(sentence))
    (tmp_path / "big.jsonl").write_text(
        json.dumps({"text": text, "spans": [{"start": 14, "end": 27, "label": "Disease"}]}) + "\n"
    )
    started = time.perf_counter()
    corpus = read_corpus(tmp_path / "big.jsonl")
    assert time.perf_counter() - started < 60
    assert len(corpus) == text.count(" . ") and corpus.sentences[0].tags[2:4] == ("B-Disease", "I-Disease")
