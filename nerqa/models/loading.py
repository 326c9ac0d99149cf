"""Loading local Hugging Face folders, never from a hub.

Loading local Hugging Face folders: checks, the tokenizer (fast, with a prefix space where the
model needs one), the encoder, and the longest window a model takes. Never a hub call."""

from __future__ import annotations

from pathlib import Path

import torch

from nerqa.errors import ModelError
from nerqa.models.runtime import (
    device,
    model_path,
)

# Tokenizers that need `add_prefix_space=True` to take pre-split words.
_PREFIX_SPACE_MODELS = ("roberta", "longformer", "bart", "deberta", "gpt2", "xlm-roberta-xl")


def check_model_folder(path: Path) -> None:
    """Raise `ModelError` unless `path` is a folder with a Hugging Face `config.json`."""
    if not path.is_dir():
        raise ModelError(f"{path}: model folder not found")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a Hugging Face model folder (no config.json)")


def load_tokenizer(path: str | Path):
    """A fast tokenizer from a local folder; RoBERTa-style tokenizers get `add_prefix_space`."""
    from transformers import AutoConfig, AutoTokenizer

    path = Path(path)
    check_model_folder(path)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        kwargs = {"add_prefix_space": True} if config.model_type in _PREFIX_SPACE_MODELS else {}
        tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"{path}: cannot load the tokenizer: {error}") from None
    if not tokenizer.is_fast:
        raise ModelError(f"{path}: nerqa needs a fast tokenizer (word_ids); this one is slow")
    return tokenizer


def window_limit(model: torch.nn.Module, wanted: int) -> int:
    """The longest window (sub-words) the model takes, at most `wanted`."""
    limit = getattr(model.config, "max_position_embeddings", wanted) or wanted
    # RoBERTa reserves two positions for its padding offset.
    return min(wanted, limit - 2 if getattr(model.config, "model_type", "") == "roberta" else limit)


def load_pretrained(kind, path: Path, what: str, **options):
    """`kind.from_pretrained(path, local_files_only=True, **options)` (an `AutoModel...` class),
    with any failure as one `ModelError` naming the folder and `what` was being loaded. Never a
    hub call."""
    try:
        return kind.from_pretrained(path, local_files_only=True, **options)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(f"{path}: cannot load the {what}: {str(error).splitlines()[0]}") from None


def load_encoder(model: str | Path | None):
    """A bare encoder (no task head) in eval mode on `device()`, and its tokenizer, from a
    local folder (`None`: the bundled MiniLM). Returns `(encoder, tokenizer)`."""
    from transformers import AutoModel

    path = model_path(model)
    tokenizer = load_tokenizer(path)
    return load_pretrained(AutoModel, path, "encoder").eval().to(device()), tokenizer
