"""Soft training targets: the given tag mixed with the fold models' probabilities.

Soft training targets: each word learns a mix of its given tag and the cross-validated
models' probabilities (`train(extras=TrainingExtras(targets=...))`).

Where the fold models doubt a label, the target puts part of its weight on what they read
instead; where they agree with it, the target is nearly the one-hot tag. A candidate for
repairing what no one reviews, measured against relabelling in `bench/repair_candidates.py
--train`: on NoiseBench it did not help (the Benchmarks page), so no command uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mixed_targets(
    tags: Sequence[str], given: Sequence[str], probs: np.ndarray, prob_tags: Sequence[str], weight: float
) -> np.ndarray:
    """`(1 - weight) * one_hot(given) + weight * probs`, `(n_words, len(tags))` float32. `probs`
    is `(n_words, len(prob_tags))`; its columns are matched to `tags` by name (a tag the audit did
    not have gets 0) and renormalised over `tags`."""
    columns = {t: i for i, t in enumerate(prob_tags)}
    out = np.zeros((len(given), len(tags)), dtype=np.float32)
    for j, tag in enumerate(tags):
        if tag in columns:
            out[:, j] = probs[:, columns[tag]]
    total = out.sum(axis=1, keepdims=True)
    out = np.divide(out, total, out=np.zeros_like(out), where=total > 0)
    index = {t: j for j, t in enumerate(tags)}
    hard = np.zeros_like(out)
    hard[np.arange(len(given)), [index[t] for t in given]] = 1.0
    # A word whose probabilities had no column among `tags` learns its tag alone.
    soft = np.where(total > 0, out, hard)
    return ((1 - weight) * hard + weight * soft).astype(np.float32)
