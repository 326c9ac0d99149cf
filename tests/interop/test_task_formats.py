"""Character and token spans for the annotation tools (`nerqa.interop.task_formats`)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nerqa.data.tags import Span
from nerqa.review.roundtrip import char_spans, token_spans


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcXY-.", min_size=1, max_size=5), min_size=1, max_size=12), st.data())
def test_char_and_token_spans_are_inverse(tokens, data):
    n = len(tokens)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, n), max_size=6))) | {0, n})
    spans = [Span(a, b, "T") for a, b in zip(cuts, cuts[1:]) if b > a and data.draw(st.booleans())]
    assert token_spans(tokens, char_spans(tokens, spans), where="x") == tuple(spans)
