"""The code examples of the README and the docs run as written: each file's Python blocks, in
order and in one namespace, in a folder holding the files they name, with the tiny test
encoder standing in for the bundled MiniLM (the code is the same; only the weights are small)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from nerqa.data.corpus import Corpus
from nerqa.data.formats import read_corpus, write_corpus

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WITH_CODE = [page for page in PAGES if BLOCK.search(page.read_text(encoding="utf-8"))]


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def test_the_pages_with_code_are_found():
    assert {p.name for p in WITH_CODE} >= {"README.md", "api.md"}


@pytest.mark.parametrize("page", WITH_CODE, ids=lambda p: p.name)
def test_the_python_examples_run(page: Path, tmp_path: Path, monkeypatch, tiny_model: Path, tiny_classifier: Path):
    import nerqa.models.runtime

    # The files the examples name: a small NCBI file (the demo's first abstracts), the same as
    # CoNLL with one type, and a trained model folder.
    lines = (ROOT / "demo" / "abstracts.txt").read_text(encoding="utf-8").splitlines()[:12]
    (tmp_path / "NCBI_corpus_training.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = read_corpus(tmp_path / "NCBI_corpus_training.txt", "ncbi")
    one_type = corpus.map_types({t: "Disease" for t in corpus.entity_types})
    write_corpus(one_type, tmp_path / "train.tsv")
    write_corpus(Corpus(one_type.documents[: len(one_type.documents) // 2]), tmp_path / "dev.tsv")
    shutil.copytree(tiny_classifier, tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(nerqa.models.runtime, "default_model_path", lambda: tiny_model)
    namespace: dict = {"__name__": "__docs__"}
    for number, code in enumerate(python_blocks(page), start=1):
        try:
            exec(compile(code, f"{page.name}, block {number}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001
            pytest.fail(f"{page.name}, Python block {number} raised {type(error).__name__}: {error}\n{code}")
    if page.name == "README.md":
        assert (tmp_path / "audit" / "issues.jsonl").is_file()
