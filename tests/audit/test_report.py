"""The HTML report (`nerqa.auditing.report`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from review_helpers import TAGS, one_hot

from nerqa.auditing import score, write_outputs
from nerqa.data.corpus import Corpus, Document, Sentence


def _sentences(*rows: tuple[str, list[str]]) -> Corpus:
    return Corpus(
        tuple(Document(f"d{n}", (Sentence(tuple(text.split()), tuple(tags)),)) for n, (text, tags) in enumerate(rows))
    )


def test_hostile_report_renders_as_text_in_headless_chromium(tmp_path: Path):
    import shutil
    import subprocess

    binary = shutil.which("chromium")
    if binary is None:
        # CI installs chromium (.ci/run): there, a missing browser is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should have installed it")
        pytest.skip("Debian's chromium is not installed")
    hostile = "<script>alert(1)</script>"
    corpus = Corpus((Document("d", (Sentence(("a", hostile, "b"), ("O", "B-<img src=x onerror=alert(1)>", "O")),)),))
    tags = ("O", "B-<img src=x onerror=alert(1)>", "I-<img src=x onerror=alert(1)>")
    write_outputs(score(corpus, [np.full((3, 3), 1 / 3, dtype=np.float32)], tags), tmp_path)
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        (tmp_path / "report.html").as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    assert "nerqa audit" in dom
    assert "<script>alert" not in dom and "<img src=x" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


def test_report_draws_each_entity_type_in_its_own_colour():
    import re

    from nerqa.auditing.report import render_html

    corpus = _sentences(("aspirin eases headache", ["B-C", "O", "B-D"]), ("aspirin eases pain", ["B-C", "O", "B-D"]))
    result = score(corpus, [one_hot(["B-D", "O", "B-D"]), one_hot(["B-C", "O", "B-D"])], TAGS)
    page = render_html(result)
    colours = {
        label: set(re.findall(r'background: ([^;"]+);[^>]*>\s*[^<]*<span[^>]*>' + label + "<", page))
        for label in ("C", "D")
    }
    assert len(colours["C"]) == len(colours["D"]) == 1, colours
    assert colours["C"] != colours["D"]


def test_guideline_questions_have_a_section_of_the_report_and_of_the_terminal_summary(monkeypatch):
    from io import StringIO

    from review_helpers import hd_question, review_audit
    from rich.console import Console

    import nerqa_cli.audit as command
    from nerqa.auditing.report import render_html

    result = review_audit()
    assert 'id="questions"' not in render_html(result)
    result.questions = [hd_question()]
    page = render_html(result)
    section = page[page.index('id="questions"') : page.index('id="ft"')]
    assert "Guideline questions (1; questions.jsonl)" in section and "q1" in section
    assert "this group: 3 D mentions" in section and section.count("s. ") == 2  # two examples of the group
    out = StringIO()
    monkeypatch.setattr(command, "console", Console(file=out, width=200))
    command.render_summary(result, 0)
    text = out.getvalue()
    assert "Guideline questions: 1 (groups of mentions that read like another type;" in text
    assert "q1  D -> C? 3 mentions (HD 3) read like C mentions (50% of their neighbours, against 10% for D)" in text
