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


TINY_WORDS = (
    "the a of in and with patients gene mutation mutations cancer breast colon ovarian disease syndrome "
    "huntington marfan cystic fibrosis tumour tumours carcinoma deficiency was were is are found had no "
    "family families risk normal cells study we . , ( ) - hd cf dmd pku"
).split()


def make_tiny_model(folder: Path, *, words: list[str] | None = None, layers: int = 2, max_positions: int = 64) -> Path:
    """A randomly initialised 2-layer BERT with a WordPiece vocabulary built from `words`.

    Saved as a standard Hugging Face folder (config, weights, tokenizer), as a user's local
    encoder would be; no hub access.
    """
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(words or TINY_WORDS))
    vocab += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"] + list("abcdefghijklmnopqrstuvwxyz0123456789")
    vocab = list(dict.fromkeys(vocab))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # Loaded from the folder's vocab.txt: the one way transformers 4.x and 5.x both accept.
    tokenizer = BertTokenizerFast.from_pretrained(folder, do_lower_case=True, local_files_only=True)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model: Path, tmp_path_factory) -> Path:
    """An untrained token classifier over the tiny encoder (tags O, B-Disease, I-Disease),
    saved as `nerqa train` saves one: its predictions are arbitrary but deterministic."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    folder = tmp_path_factory.mktemp("tiny-classifier")
    config = BertConfig.from_pretrained(tiny_model)
    config.id2label = {0: "O", 1: "B-Disease", 2: "I-Disease"}
    config.label2id = {tag: i for i, tag in config.id2label.items()}
    torch.manual_seed(1)
    BertForTokenClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(folder)
    return folder


@pytest.fixture
def make_read_only():
    """Makes a folder read-only for everyone, root included (CI runs as root): chmod, and
    where that does not stop the current user, the immutable attribute. Undone afterwards."""
    import os
    import subprocess

    undo = []

    def writable(folder: Path) -> bool:
        try:
            (folder / ".probe").write_text("x")
        except OSError:
            return False
        (folder / ".probe").unlink()
        return True

    def make(folder: Path) -> Path:
        folder.chmod(0o555)
        undo.append(lambda: folder.chmod(0o755))
        if writable(folder) and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
            undo.append(lambda: subprocess.run(["chattr", "-i", str(folder)], check=True))
        if writable(folder):
            if os.environ.get("CI"):
                pytest.fail("cannot make a read-only folder in CI")
            pytest.skip("cannot make a folder read-only for this user here")
        return folder

    yield make
    for step in reversed(undo):
        step()


@pytest.fixture
def read_only_folder(tmp_path_factory, make_read_only) -> Path:
    """An empty-but-for-one-file folder nobody can write to."""
    folder = tmp_path_factory.mktemp("read-only")
    (folder / "existing.txt").write_text("x")
    return make_read_only(folder)
