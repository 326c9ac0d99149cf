"""Fuzzing the readers: random text and mutated real lines raise only nerqa's own errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NCBI, SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import BAD, CONLL, NCBI_SAMPLE, PUBTATOR

from nerqa.data.formats import ReadOptions, parse_text, read_corpus
from nerqa.errors import NerqaError

TEXT_FORMATS = ["conll", "ncbi", "pubtator", "jsonl"]


def _real_lines() -> list[str]:
    lines = CONLL.splitlines() + NCBI_SAMPLE.splitlines() + PUBTATOR.splitlines() + [b[1] for b in BAD]
    lines += [
        '{"text": "Colon cancer.", "spans": [{"start": 0, "end": 12, "label": "D"}]}',
        '{"tokens": ["a"], "tags": ["B-X"]}',
    ]
    if SHARED.is_dir():
        for path in (
            NCBI / "original/NCBI_corpus_development.txt",
            NCBI / "pubtator/NCBIdevelopset_corpus.txt",
            NCBI / "iob/devel.tsv",
        ):
            lines += path.read_text(encoding="utf-8").splitlines()[:40]
    return lines


REAL = _real_lines()


def _parse_or_own_error(text: str, fmt: str, options: ReadOptions = ReadOptions()) -> None:
    try:
        parse_text(text, fmt, options=options)
    except NerqaError:
        pass


@st.composite
def mutated(draw) -> str:
    lines = draw(st.lists(st.sampled_from(REAL), min_size=1, max_size=6))
    text = "\n".join(lines)
    for _ in range(draw(st.integers(0, 6))):
        if not text:
            break
        position = draw(st.integers(0, len(text) - 1))
        action = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        piece = draw(
            st.sampled_from(
                [
                    "\t",
                    "\n",
                    "|",
                    "<",
                    ">",
                    '"',
                    "{",
                    "}",
                    "[",
                    "]",
                    ",",
                    "-",
                    "O",
                    "I-X",
                    "B-",
                    "</category>",
                    '<category="X">',
                    "99999",
                    " ",
                    "\u00e9",
                    "\x00",
                ]
            )
        )
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + 1 :]
        elif action == "replace":
            text = text[:position] + piece + text[position + 1 :]
        else:
            text = text[:position]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.sampled_from(TEXT_FORMATS), st.booleans())
def test_mutated_real_lines_raise_only_nerqa_errors(text, fmt, repair):
    _parse_or_own_error(text, fmt, ReadOptions(repair=repair))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(TEXT_FORMATS))
def test_random_text_raises_only_nerqa_errors(text, fmt):
    _parse_or_own_error(text, fmt)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_random_bytes_in_nemo_pairs_raise_only_nerqa_errors(tmp_path: Path, text, labels):
    (tmp_path / "text_f.txt").write_bytes(text)
    (tmp_path / "labels_f.txt").write_bytes(labels)
    try:
        read_corpus(tmp_path / "text_f.txt")
    except NerqaError:
        pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_bytes_with_detection_raise_only_nerqa_errors(tmp_path: Path, data):
    path = tmp_path / "corpus.dat"
    path.write_bytes(data)
    try:
        read_corpus(path)
    except NerqaError:
        pass


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_fuzz_target_does_reject_bad_input(fmt):
    # Guard against a fuzz harness that passes because parsing never fails.
    with pytest.raises(NerqaError):
        parse_text("\u0000garbage\tline\n" * 2, fmt)
