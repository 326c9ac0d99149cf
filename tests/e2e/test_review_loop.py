"""The review loop as the README documents it, end to end through the CLI with a tiny model:
audit -> relabel (bulk) -> apply -> train before/after -> compare models -> re-audit ->
compare audits."""

from __future__ import annotations

import json
from pathlib import Path

from samples import TOY, relabel, with_doc_ids
from typer.testing import CliRunner

from nerqa.data.formats import read_corpus, write_corpus
from nerqa.review.decisions import DecisionStore
from nerqa_cli.main import app

runner = CliRunner()


def invoke(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + result.stderr
    return result.output


def test_the_documented_loop_end_to_end(tiny_model: Path, tmp_path: Path):
    clean = with_doc_ids(TOY)
    noisy = relabel(relabel(clean, 0, 1, "O"), 4, 2, "O")  # two "cancer"/"syndrome" words lose their tag
    noisy = relabel(noisy, 0, 2, "B-Disease")
    write_corpus(noisy, tmp_path / "train.jsonl")
    write_corpus(clean, tmp_path / "test.jsonl")
    fold = ["--model", tiny_model, "-k", "3", "--epochs", "12", "--lr", "0.01", "--mode", "full"]
    invoke("audit", tmp_path / "train.jsonl", "--out", tmp_path / "audit", *fold)
    issues = [json.loads(line) for line in (tmp_path / "audit" / "issues.jsonl").read_text().splitlines()]
    assert issues
    # A team that trusts the model on boundaries: accept its confident span shifts.
    bulk = ["--type", "span_shift", "--max-score", "0.5"]
    dry = invoke("accept", tmp_path / "train.jsonl", tmp_path / "audit", *bulk, "--dry-run")
    assert (
        "Would accept" in dry
        and not (tmp_path / "audit" / "decisions.sqlite").exists()
        or DecisionStore.open(tmp_path / "audit", read_only=True).all() == []
    )
    invoke("accept", tmp_path / "train.jsonl", tmp_path / "audit", *bulk)
    decisions = DecisionStore.open(tmp_path / "audit", read_only=True).effective()
    assert decisions and {d.source for d in decisions} == {"bulk"}
    before = (tmp_path / "train.jsonl").read_bytes()
    summary = json.loads(
        invoke("apply", tmp_path / "train.jsonl", tmp_path / "audit", "--out", tmp_path / "fixed.jsonl", "--json")
    )
    assert (tmp_path / "train.jsonl").read_bytes() == before  # the original is never modified
    assert summary["decisions_applied"] == len(decisions) and summary["sentences_changed"] >= 1
    fixed = read_corpus(tmp_path / "fixed.jsonl")
    changed = sum(a.tags != b.tags for a, b in zip(fixed.sentences, noisy.sentences))
    assert changed == summary["sentences_changed"]
    again = json.loads(
        invoke("apply", tmp_path / "train.jsonl", tmp_path / "audit", "--out", tmp_path / "fixed2.jsonl", "--json")
    )
    assert (tmp_path / "fixed2.jsonl").read_text() == (tmp_path / "fixed.jsonl").read_text() and again[
        "spans"
    ] == summary["spans"]
    train = ["--model", tiny_model, "--epochs", "6", "--lr", "0.01", "--patience", "10"]
    invoke("train", tmp_path / "train.jsonl", "--out", tmp_path / "before", *train)
    invoke("train", tmp_path / "fixed.jsonl", "--out", tmp_path / "after", *train)
    rows = json.loads(
        invoke("compare", "models", tmp_path / "before", tmp_path / "after", tmp_path / "test.jsonl", "--json")
    )
    assert [r["name"] for r in rows] == ["Disease", "micro", "macro"] and all(
        0 <= r["f1_a"] <= 1 and 0 <= r["f1_b"] <= 1 for r in rows
    )
    table = invoke("compare", "models", tmp_path / "before", tmp_path / "after", tmp_path / "test.jsonl")
    assert f"{rows[1]['f1_a']:.4f}" in table and f"{rows[1]['f1_b']:.4f}" in table
    invoke("audit", tmp_path / "fixed.jsonl", "--out", tmp_path / "audit-after", *fold)
    diff = json.loads(invoke("compare", "audits", tmp_path / "audit", tmp_path / "audit-after", "--json"))
    old = {i["id"] for i in issues}
    new = {json.loads(line)["id"] for line in (tmp_path / "audit-after" / "issues.jsonl").read_text().splitlines()}
    assert set(diff["resolved"]) == old - new and set(diff["remaining"]) == old & new and set(diff["new"]) == new - old
    # The accepted issues are gone from the re-audit: their sentences now read as suggested.
    assert {d.issue_id for d in decisions} <= set(diff["resolved"])
