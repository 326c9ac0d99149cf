"""Sub-word windows and word/label alignment (`nerqa.models.windows`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nerqa.models.classifier import Classifier
from nerqa.models.loading import load_tokenizer
from nerqa.models.predict import predict_probs
from nerqa.models.windows import encode, word_probabilities


def load_classifier_from_base(folder: Path) -> Classifier:
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(folder, num_labels=3)
    return Classifier(model.eval(), load_tokenizer(folder), ("O", "B-Disease", "I-Disease"), max_length=64, stride=16)


def test_a_600_word_sentence_gets_600_predictions(tiny_model: Path):
    classifier = load_classifier_from_base(tiny_model)
    words = ["the", "breast", "cancer", "risk", "was", "normal"] * 100
    probs = predict_probs(classifier, [words, ["short"]])
    assert probs[0].shape == (600, 3) and probs[1].shape == (1, 3)
    np.testing.assert_allclose(probs[0].sum(axis=1), 1.0, atol=1e-5)


def test_windows_cover_every_word_exactly_once(tiny_model: Path):
    tokenizer = load_tokenizer(tiny_model)
    words = [f"w{i % 7}x" for i in range(300)]  # several sub-words each
    labels = [[i % 3 for i in range(300)]]
    windows = encode(tokenizer, [words], labels, max_length=32, stride=8)
    assert len(windows) > 5 and all(len(w) <= 32 for w in windows)
    owned = sorted(word for w in windows for _, word in w.owned)
    assert owned == list(range(300))
    for w in windows:  # labels sit exactly on owned first sub-words
        assert sorted(p for p, label in enumerate(w.labels) if label != -100) == sorted(p for p, _ in w.owned)
        assert all(w.labels[p] == labels[0][word] for p, word in w.owned)
    fake = [np.eye(3)[np.array([labels[0][0]] * len(w))] for w in windows]
    probs = word_probabilities(windows, fake, [300])
    assert probs[0].shape == (300, 3)


def test_label_all_subwords_labels_continuations(tiny_model: Path):
    tokenizer = load_tokenizer(tiny_model)
    (window,) = encode(tokenizer, [["zq9", "the"]], [[1, 0]], label_all_subwords=True)
    n_subwords = len(window.input_ids) - 2
    assert n_subwords > 2
    assert window.labels[1:n_subwords] == [1] * (n_subwords - 1)


def test_words_the_tokenizer_drops_still_get_predictions(tiny_model: Path):
    classifier = load_classifier_from_base(tiny_model)
    probs = predict_probs(classifier, [["cancer", "\u200b", "risk"]])
    assert probs[0].shape == (3, 3)
