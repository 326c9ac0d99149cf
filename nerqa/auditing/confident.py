"""cleanlab's confident learning on word-level pred_probs.

cleanlab's confident learning on word-level pred_probs: sentence and word label-quality
scores, and the words it flags as label errors, at entity-type or IOB level."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nerqa.data.corpus import Corpus
from nerqa.data.probs import type_level
from nerqa.errors import ConfigError


def _scored(
    corpus: Corpus, pred_probs: Sequence[np.ndarray], tags: Sequence[str], level: str
) -> tuple[list[list[int]], list[np.ndarray]]:
    """cleanlab's inputs: each sentence's label ids and `(n_words, n_classes)` probabilities, at
    entity-type level (`types`, B/I merged) or on the IOB tags themselves (`iob`)."""
    labels = [s.tags for s in corpus.sentences]
    if level == "types":
        _, ids, probs = type_level(tags, pred_probs, labels)
    elif level == "iob":
        index = {t: i for i, t in enumerate(tags)}
        ids = [np.array([index[t] for t in s]) for s in labels]
        probs = [p / p.sum(axis=1, keepdims=True) for p in pred_probs]
    else:
        raise ConfigError(f"level must be one of types, iob, not {level!r}")
    return [list(map(int, i)) for i in ids], probs


def _flagged(ids: list[list[int]], probs: list[np.ndarray]) -> set[tuple[int, int]]:
    from cleanlab.token_classification.filter import find_label_issues

    # One process: cleanlab's pool forks this process for every call (the noise estimate makes
    # several), and a forked child inherits whatever signal handlers a library installed here.
    return set(map(tuple, find_label_issues(ids, probs, n_jobs=1)))  # type: ignore[arg-type]


def flagged_words(
    corpus: Corpus, pred_probs: Sequence[np.ndarray], tags: Sequence[str], *, level: str = "types"
) -> set[tuple[int, int]]:
    """The `(sentence, word)` pairs confident learning flags (`cleanlab_scores`' third part,
    without the scores)."""
    return _flagged(*_scored(corpus, pred_probs, tags, level))


def cleanlab_scores(
    corpus: Corpus,
    pred_probs: Sequence[np.ndarray],
    tags: Sequence[str],
    *,
    level: str = "types",
    method: str = "self_confidence",
) -> tuple[np.ndarray, list[np.ndarray], set[tuple[int, int]]]:
    """cleanlab's sentence scores `(n_sentences,)`, token scores, and flagged `(sentence, token)` pairs.

    `level="types"` merges B/I into entity types first (as cleanlab's tutorial advises);
    `level="iob"` scores the IOB tags themselves.
    """
    from cleanlab.token_classification.rank import get_label_quality_scores

    ids, probs = _scored(corpus, pred_probs, tags, level)
    sentence_scores, token_scores = get_label_quality_scores(ids, probs, token_score_method=method)
    return np.asarray(sentence_scores), [np.asarray(t) for t in token_scores], _flagged(ids, probs)
