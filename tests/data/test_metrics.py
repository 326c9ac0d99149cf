"""seqeval-based scores and span confusion (`nerqa.data.metrics`)."""

from __future__ import annotations

import pytest

from nerqa.data.metrics import MISSED, SPURIOUS, evaluate_tags


def test_span_confusion_counts():
    result = evaluate_tags([["B-A", "I-A", "O", "B-B", "O"]], [["B-B", "I-B", "O", "O", "B-A"]])
    assert result.confusion == {("A", "B"): 1, ("B", MISSED): 1, (SPURIOUS, "A"): 1}
    assert result.micro.f1 == 0.0 and result.token_accuracy == pytest.approx(1 / 5)
