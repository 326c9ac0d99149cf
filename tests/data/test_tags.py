from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nerqa.data.tags import (
    Span,
    TagError,
    detect_scheme,
    spans_from_tags,
    tags_from_spans,
    to_iob2,
)


def test_spans_from_tags_reads_adjacent_and_typed_spans():
    tags = ["B-Dis", "I-Dis", "B-Dis", "O", "B-Chem", "I-Chem"]
    assert spans_from_tags(tags) == [Span(0, 2, "Dis"), Span(2, 3, "Dis"), Span(4, 6, "Chem")]


def test_stray_inside_tag_starts_a_span_and_type_change_splits():
    assert spans_from_tags(["O", "I-A", "I-B"]) == [Span(1, 2, "A"), Span(2, 3, "B")]


def test_iob1_is_converted_to_iob2():
    assert to_iob2(["I-A", "I-A", "B-A", "O", "I-B"], "iob1") == ["B-A", "I-A", "B-A", "O", "B-B"]


def test_bioes_is_converted_to_iob2():
    assert to_iob2(["S-A", "B-A", "I-A", "E-A", "O", "S-B", "S-B"], "bioes") == [
        "B-A",
        "B-A",
        "I-A",
        "I-A",
        "O",
        "B-B",
        "B-B",
    ]


def test_inside_after_outside_fails_in_iob2_and_names_the_position():
    with pytest.raises(TagError) as caught:
        to_iob2(["O", "O", "I-Dis"], "iob2")
    assert caught.value.position == 2
    assert "'I-Dis' follows 'O'" in caught.value.reason


def test_inside_after_other_type_fails_but_repair_fixes_it():
    with pytest.raises(TagError):
        to_iob2(["B-A", "I-B"], "iob2")
    assert to_iob2(["B-A", "I-B"], "iob2", repair=True) == ["B-A", "B-B"]


def test_invalid_tag_is_rejected():
    with pytest.raises(TagError, match="invalid tag 'X-A'"):
        to_iob2(["O", "X-A"])


def test_detect_scheme():
    assert detect_scheme([["O", "B-A", "I-A"]]) == "iob2"
    assert detect_scheme([["O", "I-A", "I-A"], ["I-B", "B-B"]]) == "iob1"
    # I- starts without an IOB1 separator are more likely broken IOB2.
    assert detect_scheme([["O", "I-A", "I-A"]]) == "iob2"
    assert detect_scheme([["S-A", "O"]]) == "bioes"
    # A B- after O means IOB2 even if a broken I- start appears later: that one is an error.
    assert detect_scheme([["O", "B-A"], ["O", "I-A"]]) == "iob2"


span_lists = st.lists(
    st.tuples(st.integers(0, 30), st.integers(1, 4), st.sampled_from(["A", "B", "Disease"])), max_size=8
)


@given(span_lists)
def test_tags_and_spans_round_trip(raw):
    spans, taken = [], set()
    for start, length, label in raw:
        cells = set(range(start, start + length))
        if not cells & taken:
            taken |= cells
            spans.append(Span(start, start + length, label))
    tags = tags_from_spans(spans, 40)
    assert spans_from_tags(tags) == sorted(spans)
    assert to_iob2(tags, "iob2") == tags


@given(st.lists(st.sampled_from(["O", "B-A", "I-A", "B-B", "I-B"]), max_size=30))
def test_repair_always_yields_valid_iob2_with_the_same_types(tags):
    repaired = to_iob2(tags, "iob2", repair=True)
    assert to_iob2(repaired, "iob2") == repaired
    assert [t[2:] for t in repaired] == [t[2:] for t in tags]
