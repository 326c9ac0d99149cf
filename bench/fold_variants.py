"""Fold-runner variants on one corpus with injected errors, over one frozen encoder pass.

The fast head (`nerqa.models.head.fit_head`) and the top-layer model (`nerqa.models.top.fit_top`) are
trained per fold with other settings than the audit's, without rerunning the encoder; each
variant prints its fold training time, CV F1, top-k recall of the injected errors and the
sentence AUPRC of nerqa's and cleanlab's scores (as `bench/noise.py` measures them).

    python bench/fold_variants.py [--corpus ncbi|bc5cdr] [--sentences 2000] [--top]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

from nerqa.auditing import score
from nerqa.auditing.crossval import document_folds
from nerqa.data.formats import read_corpus
from nerqa.models.frozen import TOP_LAYERS, frozen_pass
from nerqa.models.head import HeadSettings, fit_head
from nerqa.models.runtime import quiet_transformers, set_threads
from nerqa.models.top import TopSettings, fit_top

_spec = importlib.util.spec_from_file_location("noise", Path(__file__).with_name("noise.py"))
noise = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(noise)  # type: ignore[union-attr]

HEAD_VARIANTS = {
    "fast, no shapes": dict(shapes=False),
    "fast + shapes": {},
    "fast + shapes, 3 seeds": dict(seeds=[1, 2, 3]),
    "fast + shapes, 12 epochs": dict(epochs=12),
    "fast + shapes, hidden 512": dict(hidden=512),
}
TOP_VARIANTS = {"top, lr 1e-3": dict(lr=1e-3), "top, lr 3e-4": dict(lr=3e-4)}


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--corpus", choices=["ncbi", "bc5cdr"], default="ncbi")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--top", action="store_true", help="also the top-layer variants (slow)")
    add_smoke(parser, sentences=60, top=False)
    args = parse(parser)
    quiet_transformers()
    print(f"torch threads: {set_threads()}")
    source = {"ncbi": "ncbi_disease/pubtator/NCBItrainset_corpus.txt", "bc5cdr": "bc5cdr_disease/train.tsv"}[
        args.corpus
    ]
    noisy, injected = noise.inject(noise.subset(read_corpus(args.shared / source), args.sentences), 0.05, seed=13)
    tags = noisy.tag_set
    labels = [[tags.index(t) for t in s.tags] for s in noisy.sentences]
    frozen = frozen_pass([s.tokens for s in noisy.sentences], None, top_layers=TOP_LAYERS if args.top else None)
    print(f"frozen pass {frozen.seconds:.1f} s")
    folds = document_folds(noisy, 5, seed=42)

    def report(name: str, probs, seconds: float) -> None:
        result = score(noisy, probs, tags)
        m = noise.measure(noisy, injected, result)
        print(
            f"{name}: {seconds:.0f} s  CV F1 {result.summary['cv_metrics']['micro']['f1']:.3f}  recall@{m['k']} "
            f"{m['recall@k']:.3f}  "
            f"AUPRC nerqa {m['nerqa'][1]:.3f} / cleanlab {m['cleanlab types'][1]:.3f}",
            flush=True,
        )

    for name, settings in HEAD_VARIANTS.items():
        settings = dict(settings)
        seeds, shapes = settings.pop("seeds", [42]), settings.pop("shapes", True)
        started, probs = time.perf_counter(), [None] * len(noisy)
        for fold in range(5):
            train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
            outs = [
                fit_head(
                    frozen.features,
                    labels,
                    train,
                    test,
                    len(tags),
                    shapes=frozen.shapes if shapes else None,
                    seed=seed,
                    settings=HeadSettings(**settings),
                )
                for seed in seeds
            ]
            for n, i in enumerate(test):
                probs[i] = sum(o[n] for o in outs) / len(outs)
        report(name, probs, time.perf_counter() - started)
    if args.top:
        for name, settings in TOP_VARIANTS.items():
            started, probs = time.perf_counter(), [None] * len(noisy)
            for fold in range(5):
                train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
                for i, p in zip(
                    test,
                    fit_top(
                        frozen,
                        labels,
                        noisy.sentence_doc_index,
                        train,
                        test,
                        len(tags),
                        settings=TopSettings(model=None, seed=42, **settings),
                    ),
                ):
                    probs[i] = p
            report(name, probs, time.perf_counter() - started)


if __name__ == "__main__":
    main()
