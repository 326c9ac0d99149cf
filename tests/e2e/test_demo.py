"""The README's main command: the real MiniLM on the shipped demo corpus (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nerqa_cli.main import app


@pytest.mark.slow
def test_demo_audit_with_the_real_model_finds_the_planted_errors(tmp_path: Path):
    """The README's main command: real MiniLM, 5 folds, on the shipped demo corpus."""
    from conftest import DEMO

    result = CliRunner().invoke(app, ["audit", str(DEMO / "abstracts.txt"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output + result.stderr
    planted = json.loads((DEMO / "planted.json").read_text())
    issues = [json.loads(line) for line in (tmp_path / "issues.jsonl").read_text().splitlines()]
    top = issues[: 3 * len(planted)]
    found = [
        p
        for p in planted
        if any(i["doc_id"] == p["doc_id"] and p["text"] in i["text"] + " " + i["reason"] for i in top)
    ]
    assert len(found) >= 0.8 * len(planted), (found, top[:10])
