"""Fixtures of the review tests: a session on the small audited corpus of `review_helpers`."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_helpers import review_audit

from nerqa.review.decisions import DecisionStore
from nerqa.review.session import ReviewSession


@pytest.fixture
def session(tmp_path: Path) -> ReviewSession:
    return ReviewSession(review_audit(), DecisionStore.open(tmp_path), "alice")
