"""Fixtures of the audit tests: the toy corpus audited once per module (fast mode, 3 folds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from samples import TOY, fast_config, with_doc_ids

from nerqa.auditing import audit, write_outputs
from nerqa.config import AuditSettings


@pytest.fixture(scope="module")
def audited(tiny_model: Path, tmp_path_factory):
    corpus = with_doc_ids(TOY)
    folder = tmp_path_factory.mktemp("audit")
    config = fast_config(tiny_model, epochs=1)
    result = audit(corpus, AuditSettings(k=3, mode="fast", training=config), cache_dir=folder / "cache")
    write_outputs(result, folder)
    return corpus, config, folder, result
