"""Document-grouped folds, the fold cache, the fold runners (`nerqa.auditing.crossval`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from samples import TOY, fast_config, with_doc_ids

from nerqa.auditing import score
from nerqa.auditing.crossval import cross_validate_once, document_folds
from nerqa.config import AuditSettings
from nerqa.data.corpus import Corpus, Document, Sentence


def test_folds_are_grouped_by_document_and_balanced():
    documents = tuple(Document(f"d{i}", tuple(Sentence(("x",), ("O",)) for _ in range(1 + i % 3))) for i in range(20))
    corpus = Corpus(documents)
    folds = document_folds(corpus, 5, seed=1)
    for doc_index in range(20):
        assert len({folds[i] for i, d in enumerate(corpus.sentence_doc_index) if d == doc_index}) == 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 3


def test_killed_audit_resumes_at_the_next_fold(tiny_model: Path, tmp_path: Path, monkeypatch):
    import nerqa.models.training as training

    calls = []
    real_train = training.train

    def counting_train(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(training, "train", counting_train)
    config = fast_config(tiny_model, epochs=1)

    def kill_after_second(task, done, total, info):
        if task == "fold" and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cross_validate_once(
            TOY, AuditSettings(k=4, mode="full", training=config), cache_dir=tmp_path, progress=kill_after_second
        )
    assert len(calls) == 2
    result = cross_validate_once(TOY, AuditSettings(k=4, mode="full", training=config), cache_dir=tmp_path)
    assert len(calls) == 4 and result.cached_folds == [0, 1]
    again = cross_validate_once(TOY, AuditSettings(k=4, mode="full", training=config), cache_dir=tmp_path)
    assert len(calls) == 4 and again.cached_folds == [0, 1, 2, 3]
    for a, b in zip(result.pred_probs, again.pred_probs):
        np.testing.assert_array_equal(a, b)
    assert [len(p) for p in result.pred_probs] == [len(s) for s in TOY.sentences]


def test_folds_computed_in_another_number_format_are_not_reused(tiny_model: Path, tmp_path: Path, monkeypatch):
    import nerqa.models.runtime as model

    config = fast_config(tiny_model, epochs=1, precision="fp32")
    monkeypatch.setattr(model, "native_bf16", lambda: False)
    first = cross_validate_once(TOY, AuditSettings(k=3, mode="fast", training=config), cache_dir=tmp_path)
    assert cross_validate_once(
        TOY, AuditSettings(k=3, mode="fast", training=config), cache_dir=tmp_path
    ).cached_folds == [0, 1, 2]
    # The same settings on a CPU that computes in bf16: the fp32 folds are not its answer.
    monkeypatch.setattr(model, "native_bf16", lambda: True)
    bf16 = cross_validate_once(TOY, AuditSettings(k=3, mode="fast", training=config), cache_dir=tmp_path)
    assert first.cached_folds == bf16.cached_folds == []


def test_dynamics_cover_each_sentence_in_every_fold_it_trains_and_are_cached(tiny_model: Path, tmp_path: Path):
    config = fast_config(tiny_model, epochs=2)
    plain = cross_validate_once(TOY, AuditSettings(k=3, mode="full", training=config), cache_dir=tmp_path)
    assert plain.dynamics is None
    # Folds cached without dynamics are computed again when dynamics are asked for.
    first = cross_validate_once(
        TOY, AuditSettings(k=3, mode="both", training=config), cache_dir=tmp_path, dynamics=True
    )
    assert first.cached_folds == []
    assert [d.shape for d in first.dynamics] == [(2 * 2, len(s), 3) for s in TOY.sentences]  # 2 folds x 2 epochs
    again = cross_validate_once(
        TOY, AuditSettings(k=3, mode="both", training=config), cache_dir=tmp_path, dynamics=True
    )
    assert again.cached_folds == [0, 1, 2]
    for a, b in zip(first.dynamics, again.dynamics):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        plain.pred_probs,
        cross_validate_once(TOY, AuditSettings(k=3, mode="full", training=config), cache_dir=tmp_path).pred_probs,
    ):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_once_fast_mode_takes_dynamics_from_one_fine_tuning_and_probabilities_from_fast(
    tiny_model: Path, tmp_path: Path
):
    config = fast_config(tiny_model, epochs=2)
    seen = []
    once = cross_validate_once(
        TOY,
        AuditSettings(k=3, mode="once+fast", training=config),
        cache_dir=tmp_path,
        dynamics=True,
        progress=lambda task, done, total, info: seen.append((done, total, info["mode"])) if task == "fold" else None,
    )
    assert seen == [(1, 4, "fast"), (2, 4, "fast"), (3, 4, "fast"), (4, 4, "once")]
    # One record per epoch of the one fine-tuning, for every sentence (each is in its training data).
    assert [d.shape for d in once.dynamics] == [(2, len(s), 3) for s in TOY.sentences]
    # The out-of-sample probabilities are fast's, fold for fold.
    fast = cross_validate_once(TOY, AuditSettings(k=3, mode="fast", training=config), cache_dir=tmp_path)
    assert fast.cached_folds == [0, 1, 2]
    for a, b in zip(once.pred_probs, fast.pred_probs):
        np.testing.assert_array_equal(a, b)
    again = cross_validate_once(
        TOY, AuditSettings(k=3, mode="once+fast", training=config), cache_dir=tmp_path, dynamics=True
    )
    assert again.seconds[-1] == 0.0 and once.seconds[-1] > 0  # the fine-tuning is read from the cache
    for a, b in zip(once.dynamics, again.dynamics):
        np.testing.assert_array_equal(a, b)


def test_fast_mode_gives_out_of_sample_probs(tiny_model: Path):
    result = cross_validate_once(TOY, AuditSettings(k=3, mode="fast", training=fast_config(tiny_model)))
    assert [p.shape for p in result.pred_probs] == [(len(s), 3) for s in TOY.sentences]
    np.testing.assert_allclose(np.concatenate(result.pred_probs).sum(axis=1), 1.0, atol=1e-5)


def test_both_mode_averages_the_full_and_fast_folds_and_reuses_their_caches(tiny_model: Path, tmp_path: Path):
    config = fast_config(tiny_model, epochs=1)
    seen = []
    both = cross_validate_once(
        TOY,
        AuditSettings(k=3, mode="both", training=config),
        cache_dir=tmp_path,
        progress=lambda task, done, total, info: seen.append((done, total)) if task == "fold" else None,
    )
    assert seen == [(n, 6) for n in range(1, 7)]
    full = cross_validate_once(TOY, AuditSettings(k=3, mode="full", training=config), cache_dir=tmp_path)
    fast = cross_validate_once(TOY, AuditSettings(k=3, mode="fast", training=config), cache_dir=tmp_path)
    assert full.cached_folds == fast.cached_folds == [0, 1, 2]
    for mean, a, b in zip(both.pred_probs, full.pred_probs, fast.pred_probs):
        np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-6)
    assert not np.allclose(np.concatenate(full.pred_probs), np.concatenate(fast.pred_probs))


def test_reference_sentences_train_every_fold_and_are_never_audited(tiny_model: Path, monkeypatch):
    import nerqa.models.head

    calls = []

    def spy(features, labels, train_idx, test_idx, n_tags, **_):
        calls.append((set(map(int, train_idx)), list(map(int, test_idx))))
        return [np.full((len(features[i]), n_tags), 1 / n_tags, dtype=np.float32) for i in test_idx]

    monkeypatch.setattr(nerqa.models.head, "fit_head", spy)
    batch = Corpus(TOY.documents[:12])
    trusted = Corpus(TOY.documents[12:])
    result = cross_validate_once(
        batch, AuditSettings(k=3, mode="fast", training=fast_config(tiny_model)), reference=trusted
    )
    assert len(result.pred_probs) == len(batch) and all(p is not None for p in result.pred_probs)
    reference = set(range(len(batch), len(batch) + len(trusted)))
    assert len(calls) == 3
    for train, test in calls:
        assert reference <= train  # the whole reference is behind every fold
        assert all(i < len(batch) for i in test) and not set(test) & train
    assert sorted(i for _, test in calls for i in test) == list(range(len(batch)))  # each batch sentence predicted once
    # The summary says what the reference was.
    audited = score(batch, result.pred_probs, result.tags)
    assert len(audited.sentence_scores) == len(batch)


def test_separate_fold_runs_meet_at_the_cache(tiny_model: Path, tmp_path: Path, monkeypatch):
    import nerqa.models.training as training

    config = fast_config(tiny_model, epochs=1)
    corpus = with_doc_ids(TOY)
    partial = cross_validate_once(
        corpus, AuditSettings(k=3, mode="full", training=config), folds=[1], cache_dir=tmp_path
    )
    assert partial.missing_folds == [0, 2] and not partial.complete
    assert all((p is None) == (f != 1) for p, f in zip(partial.pred_probs, partial.folds))
    for fold in (0, 2):  # as other processes would
        cross_validate_once(corpus, AuditSettings(k=3, mode="full", training=config), folds=[fold], cache_dir=tmp_path)
    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("every fold should come from the cache"))
    whole = cross_validate_once(corpus, AuditSettings(k=3, mode="full", training=config), cache_dir=tmp_path)
    assert whole.complete and whole.cached_folds == [0, 1, 2]
    np.testing.assert_array_equal(
        np.concatenate([p for p, f in zip(whole.pred_probs, whole.folds) if f == 1]),
        np.concatenate([p for p in partial.pred_probs if p is not None]),
    )
