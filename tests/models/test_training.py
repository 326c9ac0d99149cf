"""Training with tiny models built in the test, no hub (`nerqa.models.training`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from samples import TOY, fast_config

from nerqa.config import TrainConfig
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import parse_text
from nerqa.data.probs import tags_from_probs
from nerqa.errors import ModelError, NerqaError
from nerqa.models.classifier import load_classifier
from nerqa.models.predict import evaluate, predict_probs
from nerqa.models.training import TrainingExtras, save_training, train


@pytest.fixture(scope="module")
def trained(tiny_model: Path):
    return train(TOY, fast_config(tiny_model), dev=TOY)


def test_training_learns_the_toy_corpus_and_keeps_the_best_epoch(trained):
    assert len(trained.history) == 12
    f1s = [h["dev_f1"] for h in trained.history]
    assert max(f1s) >= 0.9
    assert trained.history[trained.best_epoch - 1]["dev_f1"] == max(f1s)
    assert evaluate(trained.classifier, TOY).micro.f1 == pytest.approx(max(f1s))


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
    recorded = train(small, config, extras=TrainingExtras(dynamics=True))
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

    plain, shaped = (
        train(corpus, config).classifier,
        train(corpus, config, extras=TrainingExtras(shapes=True)).classifier,
    )
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


def test_auto_precision_is_bf16_on_cpus_that_compute_it_natively(monkeypatch):
    import nerqa.models.trainer_setup as training
    from nerqa.config import TrainConfig

    monkeypatch.setattr(training.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(training, "native_bf16", lambda: True)
    assert training.mixed_precision(TrainConfig()) == {"bf16": True}
    assert training.mixed_precision(TrainConfig(precision="fp32")) == {"fp16": False, "bf16": False}
    monkeypatch.setattr(training, "native_bf16", lambda: False)
    assert training.mixed_precision(TrainConfig()) == {}


def test_one_hot_targets_train_the_same_model_and_soft_ones_another(tiny_model: Path):
    from nerqa.models.targets import mixed_targets

    small = Corpus(TOY.documents[:8])
    tags = small.tag_set
    words = [s.tokens for s in small.sentences]
    plain = train(small, fast_config(tiny_model, epochs=1), tags=tags)
    flat = [np.full((len(s), len(tags)), 1 / len(tags), dtype=np.float32) for s in small.sentences]
    one_hot = [mixed_targets(tags, s.tags, p, tags, 1e-12) for s, p in zip(small.sentences, flat)]
    same = train(small, fast_config(tiny_model, epochs=1), tags=tags, extras=TrainingExtras(targets=one_hot))
    for x, y in zip(predict_probs(plain.classifier, words), predict_probs(same.classifier, words)):
        np.testing.assert_allclose(x, y, atol=1e-4)
    # Half of each target spread evenly: the model learns less sure readings.
    soft = [mixed_targets(tags, s.tags, p, tags, 0.5) for s, p in zip(small.sentences, flat)]
    softer = train(small, fast_config(tiny_model, epochs=1), tags=tags, extras=TrainingExtras(targets=soft))
    sure = lambda probs: float(np.concatenate(probs).max(axis=1).mean())  # noqa: E731
    assert sure(predict_probs(softer.classifier, words)) < sure(predict_probs(plain.classifier, words))
