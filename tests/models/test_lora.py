"""`--lora`: LoRA adapters (peft) trained instead of every weight, merged into a standard folder on save."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from samples import TOY, fast_config, with_doc_ids
from typer.testing import CliRunner

from nerqa.data.formats import write_corpus
from nerqa_cli.main import app


def test_lora_trains_a_small_share_and_saves_a_plain_model(tiny_model: Path, tmp_path: Path):
    from transformers import pipeline

    from nerqa.models.classifier import load_classifier
    from nerqa.models.predict import predict_probs
    from nerqa.models.training import save_training, train

    config = fast_config(tiny_model, epochs=2, lora=True, lora_rank=4)
    result = train(TOY, config)
    full = train(TOY, fast_config(tiny_model, epochs=1))
    assert 0 < result.trainable_parameters < full.trainable_parameters == full.total_parameters
    assert result.total_parameters == full.total_parameters
    merged = sum(p.numel() for p in result.classifier.model.parameters())
    assert merged == full.total_parameters  # the adapters are merged into the weights: gone
    tokens = [s.tokens for s in TOY.sentences[:4]]
    before = predict_probs(result.classifier, tokens)
    save_training(result, tmp_path / "model", config, {})
    assert not (tmp_path / "model" / "adapter_config.json").exists()
    after = predict_probs(load_classifier(tmp_path / "model"), tokens)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert isinstance(pipeline("token-classification", model=str(tmp_path / "model"))("breast cancer"), list)


def test_train_and_audit_take_lora(tiny_model: Path, tmp_path: Path):
    corpus = tmp_path / "toy.tsv"
    write_corpus(with_doc_ids(TOY), corpus)
    common = ["--model", str(tiny_model), "--epochs", "1", "--lora"]
    done = CliRunner().invoke(app, ["train", str(corpus), "--out", str(tmp_path / "m"), "--lora-rank", "4", *common])
    assert done.exit_code == 0, done.output + done.stderr
    assert "trained parameters" in done.output and "LoRA" in done.output
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"]
    audited = CliRunner().invoke(
        app, ["audit", str(corpus), "--out", str(tmp_path / "a"), "-k", "3", "--mode", "full", *common]
    )
    assert audited.exit_code == 0, audited.output + audited.stderr
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["settings"]["model"]["lora"] is True
