"""Training dynamics as evidence: do they find more injected errors than the out-of-sample
probabilities alone?

Each sentence sits in the training part of k-1 folds; `cross_validate_once(dynamics=True)` keeps
the tag probabilities the full runner gave its words in every step that trained on it (no
extra passes). Per corpus and noise kind (bench/noise.py's injectors, same seeds), one `both`
cross-validation, then the audit's scoring on:
- `oos`: the out-of-sample pred_probs (what the audit uses),
- `mix W`: (1 - W) * out-of-sample + W * the mean training-time probabilities (data-map
  confidence, as a distribution over tags),
- `early W`: the same with only each fold's first epoch (before the model memorises a label),
- `hard W`: out-of-sample probabilities with the given tag's probability scaled down by the
  share of training reads that did not put the given tag first (area-under-the-margin's sign).
Printed: top-k recall of the injected errors and sentence AUROC/AUPRC of nerqa's score.

    python bench/dynamics.py [--sentences 2000|0] [--corpora ncbi bc5cdr] [--noise random realistic] [--cache DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from noise import add_corpus_options, measure, noisy_corpora

from nerqa.auditing import AuditSettings, fold_config, score
from nerqa.auditing.crossval import cross_validate_once


def given_ids(corpus, tags) -> list[np.ndarray]:
    index = {t: i for i, t in enumerate(tags)}
    return [np.array([index[t] for t in s.tags]) for s in corpus.sentences]


def variants(
    oos: list[np.ndarray], dynamics: list[np.ndarray | None], given: list[np.ndarray], epochs: int
) -> dict[str, list[np.ndarray]]:
    """Name -> pred_probs to score. `dynamics[i]`: `(records, n_words, n_tags)`, `epochs` records per fold."""
    out = {"oos": oos}
    mean = [d.astype(np.float32).mean(0) if d is not None and len(d) else p for d, p in zip(dynamics, oos)]
    early = [d[::epochs].astype(np.float32).mean(0) if d is not None and len(d) else p for d, p in zip(dynamics, oos)]
    for w in (0.25, 0.5):
        out[f"mix {w}"] = [(1 - w) * p + w * m for p, m in zip(oos, mean)]
        out[f"early {w}"] = [(1 - w) * p + w * m for p, m in zip(oos, early)]
    for w in (0.5, 1.0):
        hard = []
        for p, d, g in zip(oos, dynamics, given):
            if d is None or not len(d):
                hard.append(p)
                continue
            d = d.astype(np.float32)
            rows = np.arange(len(g))
            given_p = d[:, rows, g]
            other = d.copy()
            other[:, rows, g] = -1
            lost = (given_p < other.max(-1)).mean(0)  # (n_words,) share of reads the given tag lost
            q = p.copy()
            q[rows, g] *= 1 - w * lost
            hard.append(q / q.sum(1, keepdims=True))
        out[f"hard {w}"] = hard
    return out


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_options(parser)
    parser.add_argument("--cache", type=Path, default=None, help="fold cache folder (default: a temporary one)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=None, help="epochs per full-mode fold (default: the audit's)")
    add_smoke(parser, sentences=60, corpora=["ncbi"], noise=["random"], folds=2, epochs=1)
    args = parse(parser)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="nerqa-dynamics-"))
    from nerqa.models.runtime import quiet_transformers, set_threads

    quiet_transformers()
    print(f"torch threads: {set_threads()}")
    config = fold_config(epochs=args.epochs)
    for corpus_label, noisy, injected in noisy_corpora(args):
        started = time.perf_counter()
        crossval = cross_validate_once(
            noisy, AuditSettings(k=args.folds, training=config), cache_dir=cache / corpus_label, dynamics=True
        )
        seconds = time.perf_counter() - started
        print(
            f"\n{corpus_label}: {len(noisy):,} sentences, {sum(len(v) for v in injected.values())} injected; "
            f"both with dynamics {seconds:.0f} s",
            flush=True,
        )
        given = given_ids(noisy, crossval.tags)
        for label, probs in variants(crossval.pred_probs, crossval.dynamics, given, int(config.epochs)).items():
            m = measure(noisy, injected, score(noisy, probs, crossval.tags))
            print(
                f"  {label:10} recall@{m['k']} {m['recall@k']:.3f}  AUROC {m['nerqa'][0]:.3f}  AUPRC "
                f"{m['nerqa'][1]:.3f}  (cleanlab types {m['cleanlab types'][1]:.3f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
