"""The fast mode's BiLSTM head (`nerqa.models.head.fit_head`)."""

from __future__ import annotations

import numpy as np

from nerqa.models.head import HeadSettings, fit_head


def test_a_held_out_prediction_does_not_depend_on_what_is_predicted_with_it():
    rng = np.random.default_rng(0)
    lengths = [3, 5, 5, 5, 8, 3, 12, 5, 8, 1] * 3
    features = [rng.normal(size=(n, 6)).astype(np.float16) for n in lengths]
    labels = [list((f[:, 0] > 0).astype(int)) for f in features]  # tag 1 where feature 0 is positive
    train, held_out = list(range(20)), list(range(20, 30))
    together = fit_head(features, labels, train, held_out, 2, seed=3, settings=HeadSettings(epochs=100, hidden=16))
    for k, i in [(0, 20), (1, 21), (6, 26)]:  # lengths 3 (alone in its group), 5 (one of several), 12
        alone = fit_head(features, labels, train, [i], 2, seed=3, settings=HeadSettings(epochs=100, hidden=16))[0]
        assert alone.shape == (lengths[i], 2)
        np.testing.assert_allclose(together[k], alone, atol=1e-5)
    # And it learned the rule on the held-out sentences.
    accuracy = np.mean(np.concatenate([p.argmax(1) == np.array(labels[i]) for p, i in zip(together, held_out)]))
    assert accuracy > 0.8
