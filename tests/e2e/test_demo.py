"""The README's main command on the shipped demo, with the real MiniLM: every planted error found
at ranks 1-10 with its type and the right fix, and accept + apply giving back the clean corpus."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import DEMO
from typer.testing import CliRunner

from nerqa.data.formats import read_corpus
from nerqa_cli.main import app


def _make_demo():
    spec = importlib.util.spec_from_file_location("make_demo", DEMO / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_audit_finds_every_planted_error_and_accept_apply_undoes_exactly_them(tmp_path: Path):
    noisy, clean, planted = _make_demo().build()
    # The shipped files are what make_demo.py makes.
    assert (DEMO / "abstracts.txt").read_text(encoding="utf-8") == noisy
    assert json.loads((DEMO / "planted.json").read_text()) == planted
    audit_dir = tmp_path / "demo-audit"
    runner = CliRunner()
    result = runner.invoke(app, ["audit", str(DEMO / "abstracts.txt"), "--out", str(audit_dir)])
    assert result.exit_code == 0, result.output + result.stderr
    issues = [json.loads(line) for line in (audit_dir / "issues.jsonl").read_text().splitlines()]
    corpus = read_corpus(DEMO / "abstracts.txt")
    first = {}
    for doc_index, document in enumerate(corpus.documents):
        first[document.id] = sum(len(d.sentences) for d in corpus.documents[:doc_index])
    top = issues[: len(planted)]
    for p in planted:
        index = first[p["doc_id"]] + p["sentence"]
        on_sentence = [i for i in top if i["index"] == index]
        assert len(on_sentence) == 1, (p, top)
        issue = on_sentence[0]
        assert issue["type"] == p["error"], (p, issue)
        assert issue["text"] == p["text"] and issue["given"] == p["given"], (p, issue)
        assert issue["suggested"] == p["fixed"], (p, issue)
        if p["error"] == "span_shift":
            tokens = corpus.sentences[index].tokens
            assert " ".join(tokens[issue["suggested_start"] : issue["suggested_end"]]) == p["fixed_text"]
    # Accepting every suggestion and applying the decisions gives back the clean corpus, byte for byte.
    accepted = runner.invoke(app, ["accept", str(DEMO / "abstracts.txt"), str(audit_dir), "--all"])
    assert accepted.exit_code == 0, accepted.output + accepted.stderr
    fixed = tmp_path / "fixed.txt"
    applied = runner.invoke(app, ["apply", str(DEMO / "abstracts.txt"), str(audit_dir), "--out", str(fixed)])
    assert applied.exit_code == 0, applied.output + applied.stderr
    assert fixed.read_text(encoding="utf-8") == clean
