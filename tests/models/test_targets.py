"""Soft training targets (`nerqa.models.targets`) and the loss that learns them."""

from __future__ import annotations

import numpy as np
import torch

from nerqa.models.targets import mixed_targets
from nerqa.models.trainer_setup import soft_loss
from nerqa.models.windows import IGNORE


def test_mixed_targets_put_the_weight_on_the_given_tag_and_match_columns_by_name():
    tags = ("O", "B-D", "I-D")
    probs = np.array([[0.2, 0.8], [1.0, 0.0]], dtype=np.float32)  # columns B-D, O: another order, no I-D
    out = mixed_targets(tags, ["O", "B-D"], probs, ("B-D", "O"), 0.5)
    np.testing.assert_allclose(out, [[0.5 + 0.4, 0.1, 0.0], [0.0, 1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)


def test_the_soft_loss_of_one_hot_targets_is_the_cross_entropy_and_ignored_positions_do_not_count():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3)
    labels = torch.tensor([[0, 2, IGNORE, 1], [IGNORE, 1, 1, 0]])
    one_hot = torch.nn.functional.one_hot(labels.clamp(min=0), 3).float()
    expected = torch.nn.functional.cross_entropy(logits.view(-1, 3), labels.view(-1), ignore_index=IGNORE)
    assert torch.isclose(soft_loss(logits, one_hot, labels), expected)
    softer = one_hot * 0.5 + 0.5 / 3
    assert soft_loss(logits, softer, labels) != expected
