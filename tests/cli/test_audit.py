"""`nerqa audit` through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEMO
from samples import TOY, fast_config, with_doc_ids
from typer.testing import CliRunner

from nerqa.config import ScoringSettings
from nerqa.data.formats import write_corpus
from nerqa_cli.main import app

runner = CliRunner()


def _nerqa(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "nerqa_cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )
    return done, time.perf_counter() - started


def test_audit_command_on_a_small_corpus(tiny_model: Path, tmp_path: Path):
    from nerqa.data.formats import write_corpus

    write_corpus(TOY, tmp_path / "toy.tsv")
    result = CliRunner().invoke(
        app,
        [
            "audit",
            str(tmp_path / "toy.tsv"),
            "--model",
            str(tiny_model),
            "-k",
            "3",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["corpus"]["sentences"] == len(TOY) and len(summary["timings"]["fold_seconds"]) == 3
    lines = (tmp_path / "out" / "sentences.jsonl").read_text().splitlines()
    assert len(lines) == len(TOY)


def test_audit_reference_that_does_not_exist_is_one_line(tmp_path: Path):
    corpus = tmp_path / "batch.conll"
    corpus.write_text("HD\tB-D\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["audit", str(corpus), "--reference", str(tmp_path / "missing.conll"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and "missing.conll" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, message",
    [
        (("--level", "tokens"), "level must be one of types, iob, not 'tokens'"),
        (("--max-length", "4"), "max_length must be at least 8, not 4"),
        (("--mode", "slow"), "mode must be one of both, full, fast, top, top+fast, once+fast, not 'slow'"),
        (("-k", "1"), "folds (-k) must be at least 2, not 1"),
        (("--repeats", "0"), "repeats must be at least 1, not 0"),
    ],
)
def test_bad_audit_options_fail_at_once_before_any_model_loads(tmp_path: Path, option, message):
    done, seconds = _nerqa("audit", str(DEMO / "abstracts.txt"), "--out", str(tmp_path / "out"), *option, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"Error: {message}"]
    assert seconds < 2.0, seconds
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_fails_before_training(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["audit", str(DEMO / "abstracts.txt"), "--out", str(blocker / "audit")])
    assert (
        result.exit_code == 1
        and "cannot write here" in result.stderr
        and "Traceback" not in result.output + result.stderr
    )


def test_audit_without_a_terminal_logs_plain_lines_and_trained_ignores_folds(tiny_model: Path, tmp_path: Path):
    write_corpus(with_doc_ids(TOY), tmp_path / "toy.jsonl")
    result = runner.invoke(
        app,
        [
            "audit",
            str(tmp_path / "toy.jsonl"),
            "--model",
            str(tiny_model),
            "-k",
            "3",
            "--epochs",
            "1",
            "--mode",
            "full",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    fold_lines = [line for line in result.stderr.splitlines() if " folds " in line]
    assert [line.split(" folds ")[1].split()[0] for line in fold_lines] == ["1/3", "2/3", "3/3"]
    assert "ETA" in fold_lines[0] and "loss" in next(
        line for line in result.stderr.splitlines() if " epochs 1/1" in line
    )
    log = (tmp_path / "out" / "audit.log").read_text()
    assert log.count(" folds ") == 3
    # A trained model replaces cross-validation: -k and --mode are said to be unused and not recorded.
    from nerqa.models.training import save_training, train

    save_training(train(TOY, fast_config(tiny_model, epochs=1)), tmp_path / "model", fast_config(tiny_model), {})
    result = runner.invoke(
        app,
        [
            "audit",
            str(tmp_path / "toy.jsonl"),
            "--trained",
            str(tmp_path / "model"),
            "-k",
            "4",
            "--mode",
            "fast",
            "--out",
            str(tmp_path / "out2"),
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "-k" in result.stderr and "--mode" in result.stderr and "not used with --trained" in result.stderr
    settings = json.loads((tmp_path / "out2" / "summary.json").read_text())["settings"]
    assert settings == {"mode": "model", "level": "types", "scoring": ScoringSettings().to_dict()}


def test_an_audit_folder_with_decisions_on_another_corpus_is_refused(tmp_path: Path):
    import numpy as np

    from nerqa.auditing import score, write_outputs
    from nerqa.review.decisions import DecisionStore

    tags = ("O",) + tuple(sorted(f"{p}-{t}" for t in TOY.entity_types for p in "BI"))
    probs = [np.full((len(s), len(tags)), 1 / len(tags), dtype=np.float32) for s in TOY.sentences]
    folder = tmp_path / "audit"
    write_outputs(score(TOY, probs, tags), folder)
    DecisionStore.open(folder).close()
    other = tmp_path / "other.tsv"
    other.write_text("Aspirin\tB-Chemical\nworks\tO\n\n", encoding="utf-8")
    started = time.perf_counter()
    result = runner.invoke(app, ["audit", str(other), "--out", str(folder)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "were made on the audit of" in result.stderr and "not this corpus" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and time.perf_counter() - started < 30
    # The same corpus may be audited again there: its decisions stay valid.
    from nerqa.auditing.folder import check_same_corpus

    check_same_corpus(folder, TOY)
