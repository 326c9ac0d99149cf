"""Training, prediction and evaluation with tiny models built in the test (no hub)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nerqa.config import TrainConfig
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import parse_text
from nerqa.data.metrics import MISSED, SPURIOUS, evaluate_tags
from nerqa.data.probs import load_probs, save_probs, tags_from_probs
from nerqa.errors import ModelError, NerqaError
from nerqa.models.classifier import Classifier, load_classifier
from nerqa.models.loading import load_tokenizer
from nerqa.models.predict import evaluate, predict_probs, tag_corpus
from nerqa.models.training import save_training, train
from nerqa.models.windows import encode, word_probabilities

# A corpus a tiny model learns in a few epochs: "cancer" and "syndrome" phrases are diseases.
LINES = []
for i, (first, second) in enumerate(
    [("breast", "cancer"), ("colon", "cancer"), ("marfan", "syndrome"), ("ovarian", "cancer")] * 6
):
    LINES.append(f"the\tO\n{first}\tB-Disease\n{second}\tI-Disease\nrisk\tO\nwas\tO\nnormal\tO\n.\tO\n")
    LINES.append("we\tO\nfound\tO\nno\tO\nmutation\tO\nin\tO\nthe\tO\nfamily\tO\n.\tO\n")
TOY = parse_text("\n".join(LINES), "conll")


def fast_config(model: Path, **overrides) -> TrainConfig:
    settings = dict(
        model=str(model),
        epochs=12,
        batch_size=8,
        learning_rate=1e-2,
        warmup_ratio=0.0,
        early_stopping_patience=None,
        tensorboard=False,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def trained(tiny_model: Path):
    return train(TOY, fast_config(tiny_model), dev=TOY)


def test_training_learns_the_toy_corpus_and_keeps_the_best_epoch(trained):
    assert len(trained.history) == 12
    f1s = [h["dev_f1"] for h in trained.history]
    assert max(f1s) >= 0.9
    assert trained.history[trained.best_epoch - 1]["dev_f1"] == max(f1s)
    assert evaluate(trained.classifier, TOY).micro.f1 == pytest.approx(max(f1s))


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


def test_a_600_word_sentence_gets_600_predictions(tiny_model: Path):
    classifier = load_classifier_from_base(tiny_model)
    words = ["the", "breast", "cancer", "risk", "was", "normal"] * 100
    probs = predict_probs(classifier, [words, ["short"]])
    assert probs[0].shape == (600, 3) and probs[1].shape == (1, 3)
    np.testing.assert_allclose(probs[0].sum(axis=1), 1.0, atol=1e-5)


def load_classifier_from_base(folder: Path) -> Classifier:
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(folder, num_labels=3)
    return Classifier(model.eval(), load_tokenizer(folder), ("O", "B-Disease", "I-Disease"), max_length=64, stride=16)


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


def test_saved_folder_loads_in_a_transformers_pipeline_and_agrees(trained, tmp_path: Path):
    from transformers import pipeline

    save_training(trained, tmp_path / "model", TrainConfig(), {"ok": True})
    assert json.loads((tmp_path / "model" / "metrics.json").read_text()) == {"ok": True}
    assert "learning_rate" in (tmp_path / "model" / "nerqa_train.yaml").read_text()
    classifier = load_classifier(tmp_path / "model")
    assert classifier.tags == ("O", "B-Disease", "I-Disease")
    words = ["the", "colon", "cancer", "risk", "was", "normal"]
    ours = tags_from_probs(predict_probs(classifier, [words]), classifier.tags)[0]
    ner = pipeline("token-classification", model=str(tmp_path / "model"), aggregation_strategy="simple", device=-1)
    entities = ner(" ".join(words))
    assert [(e["word"], e["entity_group"]) for e in entities] == [("colon cancer", "Disease")]
    assert ours == ["O", "B-Disease", "I-Disease", "O", "O", "O"]


def test_tag_corpus_and_probs_file_round_trip(trained, tmp_path: Path):
    tagged, probs = tag_corpus(trained.classifier, TOY)
    assert [s.tokens for s in tagged.sentences] == [s.tokens for s in TOY.sentences]
    save_probs(tmp_path / "p.npz", probs, trained.classifier.tags)
    loaded, tags = load_probs(tmp_path / "p.npz")
    assert tags == trained.classifier.tags and len(loaded) == len(probs)
    np.testing.assert_array_equal(loaded[5], probs[5])


def test_same_seed_same_model(tiny_model: Path):
    small = Corpus(TOY.documents[:8])
    a = train(small, fast_config(tiny_model, epochs=1))
    b = train(small, fast_config(tiny_model, epochs=1))
    pa = predict_probs(a.classifier, [s.tokens for s in small.sentences])
    pb = predict_probs(b.classifier, [s.tokens for s in small.sentences])
    for x, y in zip(pa, pb):
        np.testing.assert_allclose(x, y, atol=1e-6)


def test_training_dynamics_are_the_probabilities_of_each_epoch_and_change_nothing(tiny_model: Path):
    small = Corpus(TOY.documents[:8])
    config = fast_config(tiny_model, epochs=3)
    plain = train(small, config)
    recorded = train(small, config, dynamics=True)
    assert plain.dynamics is None
    tags = recorded.classifier.tags
    assert [d.shape for d in recorded.dynamics] == [(3, len(s), len(tags)) for s in small.sentences]
    every = np.concatenate([d.reshape(-1, len(tags)) for d in recorded.dynamics]).astype(np.float32)
    np.testing.assert_allclose(every.sum(axis=1), 1.0, atol=1e-2)
    # The model learns the given tags as it trains: their probability rises epoch by epoch.
    given = [np.array([tags.index(t) for t in s.tags]) for s in small.sentences]
    by_epoch = np.mean(
        [d[:, np.arange(len(g)), g].astype(np.float32).mean(axis=1) for d, g in zip(recorded.dynamics, given)], axis=0
    )
    assert by_epoch[0] < by_epoch[1] < by_epoch[2]
    # Recording reads the logits only: the trained model is the same.
    words = [s.tokens for s in small.sentences]
    for x, y in zip(predict_probs(plain.classifier, words), predict_probs(recorded.classifier, words)):
        np.testing.assert_allclose(x, y, atol=1e-6)


def test_word_shapes_give_an_uncased_model_the_capitals_it_cannot_see(tiny_model: Path, tmp_path: Path):
    # The tiny tokenizer lowercases: "Colon" and "colon" reach the encoder as one string, and
    # here only the capital says whether a word is a name.
    words = ["colon", "cancer", "risk", "family", "normal", "mutation", "found", "patients"]
    sentences = []
    for repeat in range(3):
        for word in words:
            for name in (True, False):
                sentences.append(
                    Sentence(
                        ("we", "saw", word.title() if name else word, "today"),
                        ("O", "O", "B-Name" if name else "O", "O"),
                    )
                )
    corpus = Corpus(tuple(Document(f"d{i}", (s,)) for i, s in enumerate(sentences)))
    config = fast_config(tiny_model, epochs=8)
    test = [("we", "saw", w.title(), "today") for w in words] + [("we", "saw", w, "today") for w in words]
    truth = ["B-Name"] * len(words) + ["O"] * len(words)

    def read(classifier) -> list[str]:
        return [row[2] for row in tags_from_probs(predict_probs(classifier, test), classifier.tags)]

    plain, shaped = train(corpus, config).classifier, train(corpus, config, shapes=True).classifier
    plain_tags, shaped_tags = read(plain), read(shaped)
    # Without shapes a capitalised word and its lowercase twin are read alike: half are wrong.
    assert plain_tags[: len(words)] == plain_tags[len(words) :]
    assert shaped_tags == truth
    with pytest.raises(ModelError, match="word shapes"):
        shaped.save(tmp_path / "model")


def test_bucket_batching_pads_least_and_every_batching_learns(tiny_model: Path):
    # Sentences of 3 to 14 words: random batches mix lengths and pad; buckets hardly pad.
    rows = []
    for n in range(3, 15):
        rows.append(
            "\n".join([f"w{i % 7}x\tO" for i in range(n - 2)] + ["breast\tB-Disease", "cancer\tI-Disease"]) + "\n"
        )
    corpus = parse_text("\n".join(rows * 4), "conll")
    padding = {}
    for batching in ("bucket", "group_by_length", "random"):
        result = train(corpus, fast_config(tiny_model, epochs=3, batching=batching))
        padding[batching] = result.padded_tokens_per_second / result.tokens_per_second  # padded / real sub-words
        losses = [h["loss"] for h in result.history]
        assert len(losses) == 3 and losses[-1] < losses[0], (batching, losses)
    assert padding["bucket"] < 1.1 < padding["random"], padding
    assert padding["bucket"] <= padding["group_by_length"] <= padding["random"], padding


def test_class_weights_change_the_model(tiny_model: Path):
    small = Corpus(TOY.documents[:8])
    plain = train(small, fast_config(tiny_model, epochs=1))
    weighted = train(small, fast_config(tiny_model, epochs=1, class_weights=True))
    words = [s.tokens for s in small.sentences]
    a, b = predict_probs(plain.classifier, words), predict_probs(weighted.classifier, words)
    # Rare entity tags weigh more: the weighted model gives them more probability.
    entity = lambda probs: float(np.concatenate(probs)[:, 1:].sum(axis=1).mean())  # noqa: E731
    assert entity(b) > entity(a)


def test_errors_for_bad_models_and_corpora(tiny_model: Path, tmp_path: Path, trained):
    with pytest.raises(ModelError, match="model folder not found"):
        load_classifier(tmp_path / "missing")
    (tmp_path / "broken").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_classifier(tmp_path / "broken")
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot load"):
        load_classifier(tmp_path / "broken")
    other = Corpus((Document(None, (Sentence(("a",), ("B-Chemical",)),)),))
    with pytest.raises(ModelError, match="tags the model does not know: B-Chemical"):
        evaluate(trained.classifier, other)
    with pytest.raises(NerqaError, match="empty"):
        train(Corpus(()), fast_config(tiny_model))
    with pytest.raises(NerqaError, match="no entities"):
        train(Corpus((Document(None, (Sentence(("a",), ("O",)),)),)), fast_config(tiny_model))
    with pytest.raises(NerqaError, match="dev corpus has tags the training corpus lacks"):
        train(TOY, fast_config(tiny_model), dev=other)


def test_span_confusion_counts():
    result = evaluate_tags([["B-A", "I-A", "O", "B-B", "O"]], [["B-B", "I-B", "O", "O", "B-A"]])
    assert result.confusion == {("A", "B"): 1, ("B", MISSED): 1, (SPURIOUS, "A"): 1}
    assert result.micro.f1 == 0.0 and result.token_accuracy == pytest.approx(1 / 5)


def test_torch_threads_follow_the_free_cores_unless_told(monkeypatch):
    import os

    import torch

    from nerqa.models import runtime as model

    before = torch.get_num_threads()
    try:
        cores = len(os.sched_getaffinity(0))
        monkeypatch.delenv("NERQA_THREADS", raising=False)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert 0 <= model.busy_cores(0.05) <= os.cpu_count() + 0.5  # measured from /proc/stat
        monkeypatch.setattr(model, "busy_cores", lambda: cores - 1 + 0.2)
        assert model.free_cores() == 1  # every core but one busy
        monkeypatch.setattr(model, "busy_cores", lambda: cores * 3.0)
        assert model.free_cores() == 1  # never fewer than one
        monkeypatch.setattr(model, "busy_cores", lambda: 0.0)
        assert model.free_cores() == cores
        assert model.set_threads() == cores and torch.get_num_threads() == cores
        monkeypatch.setenv("NERQA_THREADS", "1")
        assert model.set_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("NERQA_THREADS", "many")
        with pytest.raises(ModelError, match="NERQA_THREADS must be a whole number"):
            model.set_threads()
        monkeypatch.delenv("NERQA_THREADS")
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        assert model.set_threads() == 1  # the user's OpenMP setting is left alone
    finally:
        torch.set_num_threads(before)
