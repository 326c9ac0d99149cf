"""The audit's sentence scores and the pipeline (`nerqa.auditing.pipeline`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from samples import TOY, fast_config

from nerqa.auditing import score
from nerqa.auditing.crossval import cross_validate_once
from nerqa.config import AuditSettings


def test_sentence_scores_rank_by_the_worst_span_issue_then_cleanlab():
    from nerqa.auditing import sentence_quality
    from nerqa.auditing.issues import Issue
    from nerqa.config import ScoringSettings

    def issue(index: int, score: float, kind: str = "ghost_span") -> Issue:
        return Issue(
            id="",
            index=index,
            doc_id=None,
            start=0,
            end=1,
            type=kind,
            given="D",
            suggested="O",
            score=score,
            text="x",
            reason="",
        )

    issues = [issue(0, 0.3), issue(0, 0.1), issue(1, 0.2), issue(2, 0.0, "inconsistent")]
    scores = sentence_quality(4, issues, np.array([0.9, 0.1, 0.5, 0.2]))
    assert list(np.argsort(scores)) == [0, 1, 3, 2] and scores.min() >= 0 and scores.max() <= 1

    # With cleanlab's score on the training-time probabilities, its square root multiplies:
    # sentence 1's issue (0.2) with a training-time score of 0.09 (0.2 * 0.3) comes before
    # sentence 0's 0.1 at 0.81 (0.1 * 0.9); below the floor (0.05) a training-time score
    # counts as the floor, so sentence 3's 0.01 weighs as 0.05.
    training = np.array([0.81, 0.09, 1.0, 0.01])
    scores = sentence_quality(4, issues, np.array([0.9, 0.1, 0.5, 0.2]), training_sentence=training)
    np.testing.assert_allclose(scores, [0.1 * 0.9, 0.2 * 0.3, 1.0, np.sqrt(ScoringSettings().training_floor)])
    assert list(np.argsort(scores)) == [1, 0, 3, 2]


def test_scores_read_the_training_dynamics_beside_the_out_of_sample_probs(tiny_model: Path):
    from nerqa.auditing import with_dynamics

    probs, dynamics = [np.array([[0.8, 0.2]])], [np.array([[[0.2, 0.8]], [[0.4, 0.6]]], dtype=np.float16)]
    np.testing.assert_allclose(
        with_dynamics(probs, dynamics, 0.25)[0], [[0.75 * 0.8 + 0.25 * 0.3, 0.75 * 0.2 + 0.25 * 0.7]], rtol=1e-3
    )
    assert with_dynamics(probs, [None], 0.25)[0] is probs[0]

    cv = cross_validate_once(
        TOY, AuditSettings(k=3, mode="full", training=fast_config(tiny_model, epochs=2)), dynamics=True
    )
    plain = score(TOY, cv.pred_probs, cv.tags)
    mixed = score(TOY, cv.pred_probs, cv.tags, crossval=cv)
    by_hand = score(TOY, with_dynamics(cv.pred_probs, cv.dynamics, AuditSettings().scoring.dynamics_weight), cv.tags)
    np.testing.assert_allclose(mixed.cleanlab_scores, by_hand.cleanlab_scores)
    assert not np.allclose(mixed.cleanlab_scores, plain.cleanlab_scores)
    # What is saved and measured stays out-of-sample.
    assert all(a is b for a, b in zip(mixed.pred_probs, cv.pred_probs))
    assert mixed.summary["cv_metrics"] == plain.summary["cv_metrics"]


def test_repeats_average_cross_validations_over_other_splits_and_seeds(tiny_model: Path, tmp_path: Path):
    from nerqa.auditing import audit

    config = fast_config(tiny_model, epochs=1)
    runs = [
        cross_validate_once(
            TOY,
            AuditSettings(k=3, mode="full", training=config.replace(seed=config.seed + r)),
            cache_dir=tmp_path,
            dynamics=True,
        )
        for r in (0, 1)
    ]
    assert not np.array_equal(runs[0].folds, runs[1].folds) or not np.allclose(
        np.concatenate(runs[0].pred_probs), np.concatenate(runs[1].pred_probs)
    )
    result = audit(
        TOY, AuditSettings(k=3, mode="full", repeats=2, training=config), cache_dir=tmp_path
    )  # both repeats read from the cache
    assert result.summary["timings"]["cached_folds"] == [0, 1, 2] and result.summary["settings"]["repeats"] == 2
    for i, p in enumerate(result.pred_probs):
        np.testing.assert_allclose(p, (runs[0].pred_probs[i] + runs[1].pred_probs[i]) / 2, rtol=1e-6)
    # The training dynamics of both repeats are kept, side by side.
    from nerqa.auditing.crossval import mean_of

    merged = mean_of(runs)
    assert all(len(d) == len(a) + len(b) for d, a, b in zip(merged.dynamics, runs[0].dynamics, runs[1].dynamics))
