"""Predictions of a trained classifier (`nerqa.models.predict`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from samples import TOY, fast_config

from nerqa.data.probs import load_probs, save_probs, tags_from_probs
from nerqa.models.predict import predict_probs, tag_corpus
from nerqa.models.training import train


@pytest.fixture(scope="module")
def trained(tiny_model: Path):
    return train(TOY, fast_config(tiny_model), dev=TOY)


def test_predictions_belong_to_their_sentences(trained):
    # Sentences of different lengths in a shuffled order: each row must describe its own words.
    sentences = [
        ("we", "found", "no", "mutation", "in", "the", "family", "."),
        ("the", "colon", "cancer", "risk", "was", "normal", "."),
        ("the", "marfan", "syndrome", "risk", "was", "normal"),
        ("the", "breast", "cancer", "risk", "was", "normal", ".", "we", "found", "no"),
    ]
    probs = predict_probs(trained.classifier, sentences, batch_size=2)
    assert [p.shape for p in probs] == [(8, 3), (7, 3), (6, 3), (10, 3)]
    tags = tags_from_probs(probs, trained.classifier.tags)
    assert tags[0] == ["O"] * 8
    assert tags[1][1:3] == ["B-Disease", "I-Disease"]
    assert tags[2][1:3] == ["B-Disease", "I-Disease"]
    assert tags[3][1:3] == ["B-Disease", "I-Disease"]
    for index, sentence in enumerate(sentences):
        alone = predict_probs(trained.classifier, [sentence])
        np.testing.assert_allclose(alone[0], probs[index], atol=1e-5)


def test_tag_corpus_and_probs_file_round_trip(trained, tmp_path: Path):
    tagged, probs = tag_corpus(trained.classifier, TOY)
    assert [s.tokens for s in tagged.sentences] == [s.tokens for s in TOY.sentences]
    save_probs(tmp_path / "p.npz", probs, trained.classifier.tags)
    loaded, tags = load_probs(tmp_path / "p.npz")
    assert tags == trained.classifier.tags and len(loaded) == len(probs)
    np.testing.assert_array_equal(loaded[5], probs[5])
