"""The progress-callback protocol of long-running library functions.

The progress-callback protocol shared by every long-running library function.

The library never prints: it calls `progress(task, completed, total, info)` and the caller
renders (the CLI draws rich bars in a terminal and writes plain log lines otherwise).

Tasks and their units:
- `"fold"`: cross-validation folds finished; info `{"cached": bool, "mode": str}`.
- `"train"`: optimizer steps; info `{"epoch": float}`.
- `"epoch"`: training epochs finished; info `{"epoch": int, "loss": float, ...}` plus
  `dev_f1`, `dev_precision`, `dev_recall` (and `stopped_early`) with a dev corpus.
- `"predict"`, `"evaluate"`, `"features"`: sentences (or windows) processed.
- `"review"`: issues decided by a simulated reviewer (`nerqa.review.simulate`).
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[str, int, int, dict], None]


def quiet(task: str, completed: int, total: int, info: dict) -> None:
    """A progress callback that ignores everything (the default)."""


def renamed_tasks(progress: ProgressCallback, mapping: dict[str, str]) -> ProgressCallback:
    """A callback that renames tasks (e.g. dev evaluation's `predict` as `evaluate`)."""

    def report(task: str, completed: int, total: int, info: dict) -> None:
        progress(mapping.get(task, task), completed, total, info)

    return report
