"""`surface_forms`: every labeled form with its untagged occurrences, against a plain search."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.stats import surface_forms

WORDS = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def sentences(draw) -> Sentence:
    tokens = draw(st.lists(WORDS, min_size=1, max_size=9))
    tags = ["O"] * len(tokens)
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, len(tokens) - 1))
        end = draw(st.integers(start + 1, min(len(tokens), start + 3)))
        if all(t == "O" for t in tags[start:end]):
            label = draw(st.sampled_from(["X", "Y"]))
            tags[start:end] = [f"B-{label}"] + [f"I-{label}"] * (end - start - 1)
    return Sentence(tuple(tokens), tuple(tags))


@settings(max_examples=200, deadline=None)
@given(st.lists(sentences(), min_size=1, max_size=6))
def test_untagged_occurrences_are_every_all_outside_match(drawn):
    corpus = Corpus((Document("d", tuple(drawn)),))
    forms = surface_forms(corpus)
    for key, form in forms.items():
        expected = [
            (i, start)
            for i, s in enumerate(corpus.sentences)
            for start in range(len(s.tokens) - len(key) + 1)
            if s.tokens[start : start + len(key)] == key and all(t == "O" for t in s.tags[start : start + len(key)])
        ]
        assert form.unlabeled_at == expected and form.unlabeled == len(expected)
        labeled = sum(1 for s in corpus.sentences for span in s.spans if s.tokens[span.start : span.end] == key)
        assert sum(form.types.values()) == labeled
