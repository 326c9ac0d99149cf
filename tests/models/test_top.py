"""The `top` fold mode (`nerqa.models.top`), word shapes (`nerqa.data.shape`) and the shared frozen pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from samples import TOY, fast_config

from nerqa.auditing.crossval import cross_validate_once
from nerqa.config import AuditSettings
from nerqa.data.metrics import evaluate_tags
from nerqa.data.probs import tags_from_probs
from nerqa.data.shape import SHAPES, word_shapes
from nerqa.models.frozen import frozen_pass
from nerqa.models.top import TopModel, inner_split


def _on(words: list[str]) -> list[set[str]]:
    return [{name for name, value in zip(SHAPES, row) if value} for row in word_shapes(words)]


def test_word_shapes_see_what_an_uncased_encoder_loses():
    shapes = _on(["Apple", "AIDS", "mRNA", "IL-2", "1984", ",", "apple", "O'Neil", "x", "hypercholesterolemia"])
    assert shapes[0] == {"title", "sentence_start"}
    assert shapes[1] == {"upper"}
    assert shapes[2] == {"mixed"}
    assert shapes[3] == {"upper", "has_digit", "inner_punct"}
    assert shapes[4] == {"has_digit", "all_digits"}
    assert shapes[5] == {"punct", "single_char"}
    assert shapes[6] == {"lower"}
    assert shapes[7] == {"mixed", "inner_punct"}
    assert shapes[8] == {"lower", "single_char"}
    assert shapes[9] == {"lower", "long"}
    assert word_shapes([]).shape == (0, len(SHAPES))


def test_top_layers_over_the_cached_states_compute_what_the_whole_encoder_does(tiny_model: Path):
    # The frozen pass keeps the states entering the last layer; the top model, before any
    # training (its shape input starts at zero), must turn them into the encoder's own output.
    from nerqa.models.classifier import collate
    from nerqa.models.loading import load_encoder

    sentences = [s.tokens for s in TOY.sentences[:6]]
    frozen = frozen_pass(sentences, tiny_model, top_layers=1)
    encoder, tokenizer = load_encoder(tiny_model)
    net = TopModel(tiny_model, 1, 3).eval()
    ids = list(range(len(frozen.windows)))
    batch = collate([frozen.windows[i] for i in ids], tokenizer.pad_token_id or 0, torch.device("cpu"))
    width = batch["input_ids"].shape[1]
    states = torch.zeros(len(ids), width, frozen.states[0].shape[1])
    for row, i in enumerate(ids):
        states[row, : len(frozen.windows[i])] = torch.from_numpy(frozen.states[i].astype(np.float32))
    with torch.no_grad():
        expected = encoder(**batch).last_hidden_state
        got = net.encoder(
            inputs_embeds=states + net.shape_in(torch.zeros(len(ids), width, len(SHAPES))),
            attention_mask=batch["attention_mask"],
        ).last_hidden_state
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(got[mask], expected[mask], atol=2e-2, rtol=0)  # float16 states


@pytest.fixture
def quick_top(monkeypatch):
    """The tiny test encoder learns at a rate that would wreck a real one."""
    import nerqa.models.frozen
    import nerqa.models.top

    monkeypatch.setattr(nerqa.models.top, "TOP_LEARNING_RATE", 1e-2)
    monkeypatch.setattr(nerqa.models.top, "TOP_EPOCHS", 10)


def test_top_mode_learns_the_toy_corpus_out_of_sample(tiny_model: Path, quick_top):
    epochs = []
    result = cross_validate_once(
        TOY,
        AuditSettings(k=3, mode="top", training=fast_config(tiny_model, batch_size=8)),
        progress=lambda task, done, total, info: epochs.append(info) if task == "epoch" else None,
    )
    assert [p.shape for p in result.pred_probs] == [(len(s), 3) for s in TOY.sentences]
    np.testing.assert_allclose(np.concatenate(result.pred_probs).sum(axis=1), 1.0, atol=1e-5)
    f1 = evaluate_tags([s.tags for s in TOY.sentences], tags_from_probs(result.pred_probs, result.tags)).micro.f1
    assert f1 > 0.9
    # Every fold watches the log loss on held-out documents of its training part.
    assert epochs and all("stop_loss" in info for info in epochs)


def test_top_plus_fast_reads_the_corpus_once_and_averages_the_two(
    tiny_model: Path, tmp_path: Path, monkeypatch, quick_top
):
    import nerqa.models.frozen
    import nerqa.models.top

    passes = []
    real = nerqa.models.frozen.frozen_pass
    monkeypatch.setattr(
        nerqa.models.frozen, "frozen_pass", lambda *a, **k: passes.append(k.get("top_layers")) or real(*a, **k)
    )
    config = fast_config(tiny_model, batch_size=8)
    both = cross_validate_once(TOY, AuditSettings(k=3, mode="top+fast", training=config), cache_dir=tmp_path)
    assert passes == [nerqa.models.frozen.TOP_LAYERS]  # one pass serves both runners
    top = cross_validate_once(TOY, AuditSettings(k=3, mode="top", training=config), cache_dir=tmp_path)
    fast = cross_validate_once(TOY, AuditSettings(k=3, mode="fast", training=config), cache_dir=tmp_path)
    assert top.cached_folds == fast.cached_folds == [0, 1, 2] and passes == [nerqa.models.frozen.TOP_LAYERS]
    for mean, a, b in zip(both.pred_probs, top.pred_probs, fast.pred_probs):
        np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-6)


def test_the_stopping_split_keeps_documents_whole():
    groups = [0, 0, 0, 1, 1, 2, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 9, 9, 9, 9]
    train = list(range(len(groups)))
    fit, stop = inner_split(train, groups, share=0.2, seed=3)
    assert sorted(fit + stop) == train and stop
    assert {groups[i] for i in fit}.isdisjoint({groups[i] for i in stop})
    assert len(stop) >= 0.2 * len(train)
    assert inner_split([0, 1, 2], [5, 5, 5]) == ([0, 1, 2], [])  # one document: nothing to hold out


def test_top_mode_refuses_an_encoder_it_cannot_split(tmp_path: Path):
    from nerqa.errors import ModelError

    with pytest.raises(ModelError, match="model folder|cannot load"):
        TopModel(tmp_path, 1, 3)
