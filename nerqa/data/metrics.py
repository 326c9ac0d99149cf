"""Entity-level metrics (seqeval, strict IOB2) and their comparisons.

Entity-level metrics (seqeval, strict IOB2): scores, two models' scores side by side, and a
span type-confusion table."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from nerqa.data.tags import spans_from_tags

MISSED = "(missed)"
SPURIOUS = "(spurious)"


@dataclass(frozen=True)
class Scores:
    """Precision, recall, F1 (each in [0, 1]) and the number of gold entities (`support`)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """Strict-IOB2 entity scores per type, micro and macro averages, token accuracy, and the
    span confusion: `confusion[(gold, predicted)]` counts gold spans matched by boundaries to a
    predicted span of type `predicted` (`(missed)` when no predicted span has the same
    boundaries), and predicted spans with no gold span of the same boundaries as
    `((spurious), type)`."""

    per_type: dict[str, Scores]
    micro: Scores
    macro: Scores
    token_accuracy: float
    confusion: dict[tuple[str, str], int]

    def to_dict(self) -> dict:
        return {
            "per_type": {k: asdict(v) for k, v in self.per_type.items()},
            "micro": asdict(self.micro),
            "macro": asdict(self.macro),
            "token_accuracy": self.token_accuracy,
            "confusion": [{"gold": g, "predicted": p, "count": n} for (g, p), n in sorted(self.confusion.items())],
        }


def evaluate_tags(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> Evaluation:
    """Score predicted IOB2 tag sequences against gold ones (same sentences, same lengths)."""
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tags must have the same sentences and lengths")
    from seqeval.metrics import (
        classification_report,  # imports scikit-learn: seconds, so on first use
    )
    from seqeval.scheme import IOB2

    gold_lists = [list(g) for g in gold]
    pred_lists = [list(p) for p in predicted]
    with warnings.catch_warnings():
        # seqeval averages empty arrays when a corpus has no entities at all.
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(
            gold_lists, pred_lists, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
        )
    per_type = {
        name: Scores(float(row["precision"]), float(row["recall"]), float(row["f1-score"]), int(row["support"]))
        for name, row in report.items()
        if not name.endswith(" avg")
    }

    def scores(key: str) -> Scores:
        row = report.get(key, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
        return Scores(*(float(np.nan_to_num(row[k])) for k in ("precision", "recall", "f1-score")), int(row["support"]))

    tokens = sum(len(g) for g in gold_lists)
    correct = sum(a == b for g, p in zip(gold_lists, pred_lists) for a, b in zip(g, p))
    confusion: Counter[tuple[str, str]] = Counter()
    for g, p in zip(gold_lists, pred_lists):
        predicted_by_bounds = {(s.start, s.end): s.label for s in spans_from_tags(p)}
        gold_bounds = set()
        for span in spans_from_tags(g):
            gold_bounds.add((span.start, span.end))
            confusion[(span.label, predicted_by_bounds.get((span.start, span.end), MISSED))] += 1
        for bounds, label in predicted_by_bounds.items():
            if bounds not in gold_bounds:
                confusion[(SPURIOUS, label)] += 1
    return Evaluation(
        per_type, scores("micro avg"), scores("macro avg"), correct / tokens if tokens else 0.0, dict(confusion)
    )


@dataclass(frozen=True)
class ScoreRow:
    """One line of a model comparison: entity F1 (in [0, 1]) of models A and B for a type
    (or `micro`/`macro`), and the gold support."""

    name: str
    f1_a: float
    f1_b: float
    support: int

    @property
    def delta(self) -> float:
        return self.f1_b - self.f1_a


def compare_evaluations(a: Evaluation, b: Evaluation) -> list[ScoreRow]:
    """Per-type, micro and macro F1 of two `Evaluation`s of the same corpus, side by side."""
    types = sorted(set(a.per_type) | set(b.per_type))
    rows = [
        ScoreRow(
            t,
            a.per_type[t].f1 if t in a.per_type else 0.0,
            b.per_type[t].f1 if t in b.per_type else 0.0,
            (a.per_type.get(t) or b.per_type[t]).support,
        )
        for t in types
    ]
    return rows + [
        ScoreRow("micro", a.micro.f1, b.micro.f1, a.micro.support),
        ScoreRow("macro", a.macro.f1, b.macro.f1, a.macro.support),
    ]
