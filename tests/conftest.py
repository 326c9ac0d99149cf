"""Shared fixtures: paths to the real corpora beside the checkout, small hand-written corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
NCBI = SHARED / "ncbi_disease"
BC5CDR = SHARED / "bc5cdr_disease"
DEMO = ROOT / "demo"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not beside the checkout")


def shared_corpus_files() -> list[Path]:
    """Every corpus file in ../shared/data (for NeMo, the text_*.txt of each pair)."""
    if not SHARED.is_dir():
        return []
    files = sorted(NCBI.glob("original/*.txt")) + sorted(NCBI.glob("pubtator/*.txt")) + sorted(NCBI.glob("iob/*.tsv"))
    files += sorted(NCBI.glob("nemo/text_*.txt")) + sorted(BC5CDR.glob("*.tsv"))
    return files


@pytest.fixture
def write(tmp_path: Path):
    """Write text (or bytes) to a file under tmp_path and return its path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write
