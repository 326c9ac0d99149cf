"""Word-level probabilities (`pred_probs`): argmax tags, entity-type merging, `.npz` files.

`pred_probs` is a list with one `(n_words, n_tags)` float array per sentence, rows summing to
1, columns in a `tags` order (`tags[j]` is the IOB2 tag of column j). This module needs only
numpy: tools that read an audit's probabilities do not pay for torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nerqa.data.tags import OUTSIDE, split_tag, to_iob2
from nerqa.errors import NerqaError
from nerqa.files import atomic_write


def tags_from_probs(pred_probs: Sequence[np.ndarray], tags: Sequence[str]) -> list[list[str]]:
    """Argmax tags per word, repaired to valid IOB2 (a stray I-X becomes B-X)."""
    return [to_iob2([tags[i] for i in p.argmax(axis=1)], "iob2", repair=True) for p in pred_probs]


def type_classes(tags: Sequence[str]) -> list[str]:
    """The entity classes of an IOB2 tag order, `O` first, then the types sorted."""
    return [OUTSIDE] + sorted({split_tag(t)[1] for t in tags if t != OUTSIDE})  # type: ignore[type-var]


def type_level(
    tags: Sequence[str], pred_probs: Sequence[np.ndarray], labels: Sequence[Sequence[str]]
) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Merge B-X and I-X into X.

    Returns the classes (`O` first), per-sentence label ids `(n_words,)` and per-sentence
    `(n_words, n_classes)` probabilities (summed, clipped to [0, 1], renormalised: summed
    float32 probabilities can exceed 1 by rounding, which cleanlab rejects).
    """
    classes = type_classes(tags)
    column = np.array([classes.index(split_tag(t)[1] or OUTSIDE) for t in tags])
    merge = np.zeros((len(tags), len(classes)), dtype=np.float32)
    merge[np.arange(len(tags)), column] = 1.0
    probs = []
    for p in pred_probs:
        q = np.clip(p @ merge, 0.0, 1.0)
        probs.append(q / q.sum(axis=1, keepdims=True))
    ids = [np.array([classes.index(split_tag(t)[1] or OUTSIDE) for t in sentence], dtype=int) for sentence in labels]
    return classes, ids, probs


def save_probs(path: str | Path, pred_probs: Sequence[np.ndarray], tags: Sequence[str]) -> None:
    """Save word-level probabilities as `.npz`: arrays `s0`, `s1`, ... (one `(n_words, n_tags)`
    array per sentence, corpus order) and `tags` (the column order). Written atomically."""
    with atomic_write(path, binary=True) as stream:
        np.savez_compressed(stream, tags=np.array(list(tags)), **{f"s{i}": p for i, p in enumerate(pred_probs)})


def load_probs(path: str | Path) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Read what `save_probs` wrote: per-sentence arrays in order, and the tag order.

    Raises `NerqaError` naming the file when it is missing or not such an archive.
    """
    try:
        with np.load(path) as data:
            n = sum(1 for key in data.files if key.startswith("s") and key[1:].isdigit())
            return [data[f"s{i}"] for i in range(n)], tuple(str(t) for t in data["tags"])
    except FileNotFoundError:
        raise NerqaError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError) as error:
        raise NerqaError(f"{path}: not a pred_probs archive: {error}") from None
