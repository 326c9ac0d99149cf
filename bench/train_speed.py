"""Training speed: nerqa's settings against a plain Trainer loop, one epoch each, one run.

Both train the default MiniLM for one epoch on NCBI train (official IOB) at batch 32,
lr 5e-5, max 128 sub-words, first-sub-word labels. The plain loop uses random batches and
the non-fused AdamW (as the HF token-classification tutorial's Trainer does); nerqa uses
length-bucketed batches and fused AdamW. Prints both wall times and the ratio, then nerqa's
real (non-pad) sub-words per second against the raw speed of the same model on full 32x64
batches.

    python bench/train_speed.py [--shared ../shared/data] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nerqa.config import TrainConfig
from nerqa.data.formats import read_corpus
from nerqa.models.runtime import default_model_path
from nerqa.models.training import train


def raw_tokens_per_second(steps: int = 12, batch: int = 32, length: int = 64) -> float:
    """Sub-words/s of forward+backward+fused AdamW step on full batch x length inputs."""
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(default_model_path(), num_labels=3)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=True)
    ids = torch.randint(1000, 20000, (batch, length))
    labels = torch.randint(0, 3, (batch, length))
    for step in range(steps + 2):
        if step == 2:  # two warm-up steps
            started = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return steps * batch * length / (time.perf_counter() - started)


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="use the first N sentences only")
    add_smoke(parser, limit=64)
    args = parse(parser)
    from nerqa.models.runtime import quiet_transformers

    quiet_transformers()
    corpus = read_corpus(args.shared / "ncbi_disease/iob/train.tsv")
    if args.limit:
        from nerqa.data.corpus import Corpus

        corpus = Corpus(corpus.documents[: args.limit])
    common = dict(
        epochs=1, batch_size=32, learning_rate=5e-5, max_length=128, early_stopping_patience=None, tensorboard=False
    )
    print(f"NCBI train: {len(corpus):,} sentences, {corpus.n_tokens:,} words; torch threads {torch.get_num_threads()}")
    plain = train(corpus, TrainConfig(batching="random", optimizer="adamw_torch", **common))
    print(
        f"plain Trainer loop (random batches, AdamW): {plain.train_seconds:7.1f} s  real "
        f"{plain.tokens_per_second:6.0f} sub-words/s, padded {plain.padded_tokens_per_second:6.0f}/s"
    )
    ours = train(corpus, TrainConfig(batching="bucket", optimizer="adamw_torch_fused", **common))
    print(
        f"nerqa (bucketed batches, fused AdamW):     {ours.train_seconds:7.1f} s  real "
        f"{ours.tokens_per_second:6.0f} sub-words/s, padded {ours.padded_tokens_per_second:6.0f}/s"
    )
    print(f"speed-up: {plain.train_seconds / ours.train_seconds:.2f}x (target >= 2.0x)")
    raw = raw_tokens_per_second()
    print(
        f"raw speed on full 32x64 batches: {raw:.0f} sub-words/s; nerqa real / raw = "
        f"{ours.tokens_per_second / raw:.2f} (target >= 0.85)"
    )


if __name__ == "__main__":
    main()
