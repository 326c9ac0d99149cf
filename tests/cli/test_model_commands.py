"""`nerqa train`, `evaluate` and `predict` through CliRunner, with a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from samples import TOY
from typer.testing import CliRunner

from nerqa.config import TrainConfig
from nerqa.data.formats import read_corpus, write_corpus
from nerqa.errors import NerqaError
from nerqa_cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained_dir(tiny_model: Path, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli-model")
    corpus = folder / "toy.tsv"
    write_corpus(TOY, corpus)
    config = folder / "train.yaml"
    config.write_text(
        f"model:\n  model: {tiny_model}\noptim:\n  learning_rate: 0.01\nschedule:\n  warmup_ratio: "
        "0.0\ntrainer:\n  epochs: 12\n  batch_size: 8\n"
    )
    result = invoke("train", corpus, "--dev", corpus, "--config", config, "--out", folder / "model", "--seed", "7")
    assert result.exit_code == 0, result.output + result.stderr
    return folder / "model", corpus


def test_train_writes_model_metrics_and_resolved_config(trained_dir):
    model, _ = trained_dir
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["dev"]["micro"]["f1"] >= 0.9
    assert len(metrics["history"]) >= 1
    settings = TrainConfig.from_yaml(model / "nerqa_train.yaml")
    log = (model / "train.log").read_text().splitlines()
    epochs = [line.split(" epochs ")[1].split()[0] for line in log if " epochs " in line]
    assert epochs == [f"{n}/12" for n in range(1, len(metrics["history"]) + 1)] and "dev F1" in log[0]
    assert settings.seed == 7 and settings.learning_rate == 0.01 and settings.batch_size == 8


def test_evaluate_prints_scores_and_json(trained_dir):
    model, corpus = trained_dir
    result = invoke("evaluate", model, corpus)
    assert result.exit_code == 0, result.output
    assert "Entity scores (strict IOB2)" in result.output and "token accuracy" in result.output
    data = json.loads(invoke("evaluate", model, corpus, "--json").output)
    assert data["micro"]["f1"] >= 0.9 and data["per_type"]["Disease"]["support"] == 24


def test_predict_corpus_and_raw_text(trained_dir, tmp_path: Path):
    model, corpus = trained_dir
    result = invoke("predict", model, corpus, "--out", tmp_path / "tagged.jsonl", "--probs", tmp_path / "p.npz")
    assert result.exit_code == 0, result.output
    tagged = read_corpus(tmp_path / "tagged.jsonl")
    assert len(tagged) == len(TOY) and (tmp_path / "p.npz").exists()
    raw = tmp_path / "raw.txt"
    raw.write_text("We found breast cancer risk was normal. The colon cancer risk was normal.")
    result = invoke("predict", model, raw, "--text", "--out", tmp_path / "raw.tsv")
    assert result.exit_code == 0, result.output
    spans = [s.span_text(span) for s in read_corpus(tmp_path / "raw.tsv").sentences for span in s.spans]
    assert "colon cancer" in spans


def test_model_errors_exit_cleanly(trained_dir, tmp_path: Path):
    model, corpus = trained_dir
    result = invoke("evaluate", tmp_path / "nope", corpus)
    assert result.exit_code == 1 and "model folder not found" in result.stderr and "Traceback" not in result.output
    other = tmp_path / "other.tsv"
    other.write_text("a\tB-Chemical\n")
    result = invoke("evaluate", model, other)
    assert result.exit_code == 1 and "does not know: B-Chemical" in result.stderr
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    result = invoke("train", empty, "--out", tmp_path / "m")
    assert result.exit_code == 1 and "empty" in result.stderr and not (tmp_path / "m").exists()


def test_unknown_or_bad_config_settings_fail_before_training(tmp_path: Path):
    write_corpus(TOY, tmp_path / "toy.tsv")
    config = tmp_path / "train.yaml"
    config.write_text("model:\n  path_unused: 1\n")
    result = invoke("train", tmp_path / "toy.tsv", "--config", config, "--out", tmp_path / "model")
    assert result.exit_code == 1 and result.stderr.strip() == f"Error: {config}: unknown setting model.path_unused"
    config.write_text("trainer:\n  precision: fp8\n")
    result = invoke("train", tmp_path / "toy.tsv", "--config", config, "--out", tmp_path / "model")
    assert (
        result.exit_code == 1
        and result.stderr.strip() == f"Error: {config}: precision must be one of auto, fp32, fp16, bf16, not 'fp8'"
    )
    result = invoke("train", tmp_path / "toy.tsv", "--batching", "sorted", "--out", tmp_path / "model")
    assert (
        result.exit_code == 1
        and "batching must be one of bucket, group_by_length, random, not 'sorted'" in result.stderr
    )
    assert not (tmp_path / "model").exists()


def test_config_file_errors(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: [unclosed\n")
    with pytest.raises(NerqaError, match="bad.yaml, line 2: invalid YAML"):
        TrainConfig.from_yaml(bad)
    bad.write_text("optimiser:\n  lr: 1\n")
    with pytest.raises(NerqaError, match="unknown section 'optimiser'"):
        TrainConfig.from_yaml(bad)
    round_trip = tmp_path / "ok.yaml"
    round_trip.write_text(TrainConfig(epochs=3, seed=1).to_yaml())
    assert TrainConfig.from_yaml(round_trip) == TrainConfig(epochs=3, seed=1)


def test_audit_with_a_model_that_lacks_a_type_fails_in_one_line_before_making_the_folder(trained_dir, tmp_path: Path):
    model, _ = trained_dir
    other = tmp_path / "people.tsv"
    other.write_text("Ann\tB-PER\nsaw\tO\n\nBob\tB-PER\n\n")
    result = invoke("audit", other, "--trained", model, "--out", tmp_path / "audit")
    assert result.exit_code == 1 and "Traceback" not in result.output + result.stderr
    assert result.stderr.strip().count("\n") == 0 and "cannot tag PER (its types: Disease)" in " ".join(
        result.stderr.split()
    )
    assert not (tmp_path / "audit").exists()


def test_predict_checks_its_output_before_predicting_and_names_raw_text_documents(
    trained_dir, tmp_path: Path, read_only_folder: Path
):
    model, corpus = trained_dir
    result = invoke("predict", model, corpus, "--out", read_only_folder / "tagged.jsonl")
    assert result.exit_code == 1 and "Traceback" not in result.output and "predicting" not in result.stderr.lower()
    assert str(read_only_folder) in " ".join(result.stderr.split())
    result = invoke("predict", model, corpus, "--out", tmp_path / "tagged.unknown")
    assert result.exit_code == 1 and "cannot tell the output format" in result.stderr
    raw = tmp_path / "note-17.txt"
    raw.write_text("We found breast cancer risk was normal.")
    assert invoke("predict", model, raw, "--text", "--out", tmp_path / "raw.jsonl").exit_code == 0
    assert json.loads((tmp_path / "raw.jsonl").read_text().splitlines()[0])["id"] == "note-17"
