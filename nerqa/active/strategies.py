"""Uncertainty strategies: how unsure a model is of a word and of a sentence.

Uncertainty strategies: how unsure a model is of a word and of a sentence (entropy, least
confidence, MNLP, margin, random), and the reason shown for a choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from nerqa.errors import NerqaError

if TYPE_CHECKING:
    pass


Strategy = Literal["mnlp", "margin", "entropy", "least_confidence", "random"]
STRATEGIES: tuple[str, ...] = ("entropy", "least_confidence", "mnlp", "margin", "random")
# The strategy that needed the fewest labels to reach random's F1 in bench/active.py (docs/benchmarks.md).
DEFAULT_STRATEGY: Strategy = "entropy"
# The smallest value taken into a log or a division (probabilities, vector norms).
EPS = 1e-12


def word_uncertainty(probs: np.ndarray, strategy: Strategy) -> np.ndarray:
    """Per-word uncertainty under a strategy's measure, `(n_words,)`; higher = less sure.

    `probs` is one sentence's `(n_words, n_tags)` array. For `mnlp` and `least_confidence`
    this is -log p1, for `margin` 1 - (p1 - p2), for `entropy` the entropy in nats.

    Args:
        probs: one sentence's `(n_words, n_tags)` probabilities.
        strategy: one of `STRATEGIES`.
    """
    if strategy == "entropy":
        return -(probs * np.log(np.clip(probs, EPS, 1.0))).sum(axis=1)
    top = np.sort(probs, axis=1)[:, ::-1]
    if strategy == "margin":
        second = top[:, 1] if probs.shape[1] > 1 else np.zeros(len(probs))
        return 1.0 - (top[:, 0] - second)
    return -np.log(np.clip(top[:, 0], EPS, 1.0))


def sentence_score(probs: np.ndarray, strategy: Strategy) -> float:
    """One sentence's uncertainty score (higher = annotate first); see the module docstring.
    `random` has no score from probabilities: it is drawn by the caller."""
    if strategy == "random":
        raise ValueError("random scores are drawn, not computed from pred_probs")
    if len(probs) == 0:
        return 0.0
    words = word_uncertainty(probs, strategy)
    if strategy == "mnlp":
        return float(words.mean())
    if strategy == "margin":
        return float(words.max())
    if strategy == "entropy":
        return float(words.sum())
    return float(-math.expm1(-words.sum()))  # least confidence: 1 - prod p1 = 1 - exp(sum log p1)


def sentence_scores(pred_probs: Sequence[np.ndarray], strategy: Strategy, *, seed: int = 0) -> np.ndarray:
    """Scores for many sentences, `(n_sentences,)`; `random` draws uniform scores from `seed`.

    Args:
        pred_probs: per sentence, `(n_words, n_tags)` probabilities.
        strategy: one of `STRATEGIES`.
        seed: for `random`.
    """
    check_strategy(strategy)
    if strategy == "random":
        return np.random.default_rng(seed).random(len(pred_probs))
    return np.array([sentence_score(p, strategy) for p in pred_probs], dtype=float)


def check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise NerqaError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def reason(tokens: Sequence[str], probs: np.ndarray, tags: Sequence[str], strategy: Strategy) -> str:
    """Why a sentence scored as it did, for the annotator: the least certain word and the
    model's two best tags there, e.g. `margin: "ataxia" B-Disease 0.48 vs O 0.41`."""
    if strategy == "random" or len(probs) == 0:
        return "random sample"
    word = int(word_uncertainty(probs, strategy).argmax())
    best = np.argsort(probs[word])[::-1]
    second = f" vs {tags[best[1]]} {probs[word, best[1]]:.2f}" if len(best) > 1 else ""
    return f'{strategy}: "{tokens[word]}" {tags[best[0]]} {probs[word, best[0]]:.2f}{second}'
