"""The fold cache: each finished fold on disk, so an audit resumes.

The fold cache: each finished fold on disk under a key of the corpus and the settings, so a
killed audit resumes at the next fold, a finished one is re-read without training, and separate
processes can each compute some folds and meet there."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nerqa.auditing.runners import FoldRunner
from nerqa.config import TrainConfig
from nerqa.data.corpus import Corpus
from nerqa.files import atomic_write


class FoldCache:
    """Finished folds on disk: `FOLDER/foldN.npz` with the held-out sentence indices, their
    lengths and their concatenated probabilities. `folder=None` caches nothing."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def read(
        self, fold: int, held_out: np.ndarray, *, dynamics: bool = False
    ) -> tuple[list[np.ndarray], list[np.ndarray] | None] | None:
        """The fold's probabilities and (with `dynamics`) its training dynamics per training
        sentence; None when absent, damaged, for other sentences, or without the dynamics asked for."""
        if self.folder is None or not (self.folder / f"fold{fold}.npz").is_file():
            return None
        try:
            with np.load(self.folder / f"fold{fold}.npz") as data:
                if not np.array_equal(data["sentences"], held_out):
                    return None
                probs = np.split(data["probs"], np.cumsum(data["lengths"])[:-1])
                if not dynamics:
                    return probs, None
                if "dynamics" not in data:
                    return None
                shapes = data["dynamics_shapes"]
                flat = np.split(data["dynamics"], np.cumsum(shapes[:, 0] * shapes[:, 1])[:-1])
                return probs, [f.reshape(r, n, -1) for f, (r, n) in zip(flat, shapes)]
        except (OSError, ValueError, KeyError):
            return None  # a damaged cache file is recomputed, not trusted

    def write(
        self, fold: int, held_out: np.ndarray, probs: Sequence[np.ndarray], dynamics: Sequence[np.ndarray] | None = None
    ) -> None:
        if self.folder is None:
            return
        arrays = {"sentences": held_out, "lengths": np.array([len(p) for p in probs]), "probs": np.concatenate(probs)}
        if dynamics is not None:
            arrays["dynamics_shapes"] = np.array([d.shape[:2] for d in dynamics]).reshape(-1, 2)
            arrays["dynamics"] = np.concatenate([d.reshape(-1, d.shape[-1]) for d in dynamics])
        with atomic_write(self.folder / f"fold{fold}.npz", binary=True) as stream:
            np.savez(stream, **arrays)


def cache_key(
    corpus: Corpus, config: TrainConfig, *, k: int, runner: FoldRunner, reference: Corpus | None = None
) -> str:
    """A hash of the corpus (tokens, tags, document grouping), the folds, every setting that
    changes the runner's pred_probs (the number format it computes in among them: bf16 on one
    machine, fp32 on another), and the reference corpus behind every fold, if any."""
    from nerqa.models.runtime import compute_format, device

    key = {
        "corpus": corpus.fingerprint(),
        "k": k,
        "mode": runner.mode,
        "settings": config.cache_settings(),
        "compute": compute_format(device()),
        **runner.key(),
    }
    if reference is not None and len(reference):
        key["reference"] = reference.fingerprint()
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
