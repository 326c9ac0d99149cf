"""The audit folder: its contract, `load_audit` (`nerqa.auditing.folder`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from samples import relabel

from nerqa.auditing import score, write_outputs
from nerqa.auditing.folder import load_audit
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.errors import AuditFolderError


def test_outputs_follow_the_contract_and_escape_hostile_text(tmp_path: Path):
    hostile = "<script>alert(1)</script>"
    label = "<img src=x onerror=alert(1)>"
    corpus = Corpus((Document("d<1>", (Sentence(("a", hostile, "b"), ("O", f"B-{label}", "O")),)),))
    tags = ("O", f"B-{label}", f"I-{label}")
    probs = [np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.9, 0.05, 0.05]], dtype=np.float32)]
    result = score(corpus, probs, tags)
    written = write_outputs(result, tmp_path)
    assert {p.name for p in written} == {
        "sentences.jsonl",
        "issues.jsonl",
        "issues.csv",
        "questions.jsonl",
        "summary.json",
        "report.html",
        "pred_probs.npz",
    }
    assert (tmp_path / "questions.jsonl").read_text() == ""  # no features, no questions
    sentence = json.loads((tmp_path / "sentences.jsonl").read_text())
    assert set(sentence) == {"index", "doc_id", "score", "n_issues", "cleanlab_score"} and 0 <= sentence["score"] <= 1
    issue = json.loads((tmp_path / "issues.jsonl").read_text().splitlines()[0])
    assert {"id", "index", "doc_id", "start", "end", "type", "given", "suggested", "score", "text"} <= set(issue)
    assert issue["type"] == "ghost_span" and issue["text"] == hostile
    page = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    embedded = page.split('<script type="application/json" id="summary">')[1].split("</script>")[0]
    assert json.loads(embedded) == json.loads(
        (tmp_path / "summary.json").read_text()
    )  # parses, as a browser's JSON.parse reads it
    assert "document d&lt;1&gt;" in page and "document None" not in page


def test_load_audit_gives_back_what_audit_returned(audited):
    corpus, _, folder, result = audited
    loaded = load_audit(folder, corpus)
    assert loaded.issues == result.issues and len(result.issues) > 5
    assert loaded.tags == result.tags and loaded.summary == result.summary
    np.testing.assert_array_equal(loaded.sentence_scores, result.sentence_scores)
    np.testing.assert_array_equal(loaded.cleanlab_scores, result.cleanlab_scores)
    for a, b in zip(loaded.pred_probs, result.pred_probs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_audit_refuses_another_corpus_and_damaged_folders(audited, tmp_path: Path):
    corpus, _, folder, _ = audited
    other = relabel(corpus, 0, 1, "O")
    with pytest.raises(AuditFolderError, match="not of the corpus given"):
        load_audit(folder, other)
    with pytest.raises(AuditFolderError, match="summary.json: no such file"):
        load_audit(tmp_path, corpus)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("summary.json", "sentences.jsonl", "pred_probs.npz"):
        (copy / name).write_bytes((folder / name).read_bytes())
    (copy / "issues.jsonl").write_text((folder / "issues.jsonl").read_text().splitlines()[0] + "\n{broken\n")
    with pytest.raises(AuditFolderError, match=r"issues.jsonl, line 2: not JSON"):
        load_audit(copy, corpus)


def test_the_issue_file_round_trips_every_field(audited):
    corpus, _, folder, result = audited
    first = json.loads((folder / "issues.jsonl").read_text().splitlines()[0])
    assert set(first) == {f.name for f in dataclasses.fields(result.issues[0])}
    assert first["id"] == result.issues[0].id and first["id"].split("-")[0] in ("wt", "ms", "gs", "ss", "in", "sp")
