"""Simulated active learning on NCBI disease: which strategy gets the most F1 per label?

NCBI train (IOB, 5,432 sentences) is the pool, its labels hidden until a sentence is
selected. Each run starts from a random seed set (200 sentences), then 6 rounds each select
200 more with `nerqa.active.select.select` (the library function `nerqa select` calls, with the
labeled sentences passed as `skip`, as `--labeled` does) and retrain. Every round's model is
evaluated on NCBI test (940 sentences, strict entity F1).

The learner is one fixed fast setting, so that 3 seeds x every strategy x 7 trainings fit on
a laptop CPU: the frozen bundled encoder's word features (computed once) and nerqa's BiLSTM
head (`nerqa.models.head.fit_head`, a fixed number of epochs), retrained from scratch each round.
Sentence embeddings for the diversity guard are the mean of the encoder's last layer over
the words, as `nerqa select` takes them from the trained model's last layer.

Configurations: `random`; each uncertainty strategy with the default diversity guard
(near-duplicates); `STRATEGY-clusters` with the k-means guard and `STRATEGY-plain` with
none (`--configs` to choose), to measure the guards.

Printed: mean and spread (min-max over seeds) of test F1 per round; for each configuration
the labels it needs to reach the F1 that random reaches with all 1,400; the curves are saved
as a PNG plot and every figure as JSON (a rerun resumes from that JSON).

    python bench/active.py [--seeds 3] [--rounds 6] [--step 200] [--start 200] [--epochs 15]
                           [--configs random,margin,...] [--out bench/results/active]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nerqa.active.select import select  # noqa: E402
from nerqa.active.strategies import STRATEGIES  # noqa: E402
from nerqa.data.corpus import (  # noqa: E402
    Document,
    Sentence,
    text_key,  # noqa: E402
)
from nerqa.data.formats import read_corpus  # noqa: E402
from nerqa.data.metrics import evaluate_tags  # noqa: E402
from nerqa.data.probs import tags_from_probs  # noqa: E402
from nerqa.models.head import HeadSettings, fit_head, word_features  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ncbi_disease" / "iob"
CONFIGS = ["random"] + [s for s in STRATEGIES if s != "random"]


class Lookup:
    """A `nerqa.active.predictors.Predictor` over this round's precomputed probabilities and embeddings."""

    def __init__(self, tags, probs: dict, embeddings: dict) -> None:
        self.tags, self.probs, self.embeddings = tuple(tags), probs, embeddings

    def __call__(self, sentences):
        return [self.probs[tuple(s)] for s in sentences], np.stack([self.embeddings[tuple(s)] for s in sentences])


def run(config: str, seed: int, args, pool, test, features, labels, embeddings, tags) -> dict:
    """One simulated annotation campaign; returns labels and test F1 per round."""
    strategy, _, guard = config.partition("-")
    rng = np.random.default_rng(seed)
    n_pool = len(pool)
    test_idx = list(range(n_pool, n_pool + len(test)))
    labeled = [int(i) for i in rng.choice(n_pool, args.start, replace=False)]
    by_tokens: dict[tuple, list[int]] = {}
    for i, sentence in enumerate(pool):
        by_tokens.setdefault(tuple(sentence.tokens), []).append(i)
    sizes, f1s, seconds = [], [], []
    for round_ in range(args.rounds + 1):
        started = time.perf_counter()
        chosen = set(labeled)
        rest = [i for i in range(n_pool) if i not in chosen]
        probs = fit_head(
            features, labels, labeled, rest + test_idx, len(tags), seed=seed, settings=HeadSettings(epochs=args.epochs)
        )
        test_tags = tags_from_probs(probs[len(rest) :], tags)
        f1 = evaluate_tags([s.tags for s in test], test_tags).micro.f1
        sizes.append(len(labeled))
        f1s.append(round(f1, 4))
        if round_ < args.rounds:
            predictor = Lookup(
                tags,
                {tuple(pool[i].tokens): p for i, p in zip(rest, probs)},
                {tuple(pool[i].tokens): embeddings[i] for i in rest},
            )
            skip = {text_key(pool[i].tokens) for i in labeled}
            documents = [Document(None, (Sentence(s.tokens, ("O",) * len(s)),)) for s in pool]
            selection = select(
                documents,
                predictor,
                budget=args.step,
                strategy=strategy,
                diversity={"": "near-duplicates", "clusters": "clusters", "plain": "off"}[guard],
                skip=skip,
                seed=seed * 1000 + round_,
            )
            for choice in selection.choices:
                labeled.append(next(i for i in by_tokens[choice.sentence.tokens] if i not in chosen))
                chosen.add(labeled[-1])
        seconds.append(round(time.perf_counter() - started, 1))
        print(f"  {config} seed {seed}: {sizes[-1]:,} labels, test F1 {f1:.4f} ({seconds[-1]} s)", flush=True)
    return {"labels": sizes, "f1": f1s, "seconds": seconds}


def labels_to_reach(sizes: list[int], means: list[float], target: float) -> float | None:
    """Labels at which the mean curve first reaches `target` (linear between rounds)."""
    for k, (size, value) in enumerate(zip(sizes, means)):
        if value >= target:
            if k == 0:
                return float(size)
            a, b = means[k - 1], value
            return sizes[k - 1] + (size - sizes[k - 1]) * (target - a) / (b - a)
    return None


def report(results: dict, configs: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {}
    for config in configs:
        runs = [r for key, r in results.items() if key.split("/")[0] == config]
        if runs:
            f1 = np.array([r["f1"] for r in runs])
            curves[config] = (runs[0]["labels"], f1.mean(0), f1.min(0), f1.max(0), len(runs))
    if "random" not in curves:
        return
    sizes = curves["random"][0]
    print("\nTest F1 (NCBI test), mean [min-max] over seeds:")
    print(f"{'labels':>8} " + " ".join(f"{c:>22}" for c in curves))
    for k, size in enumerate(sizes):
        print(
            f"{size:>8,} "
            + " ".join(f"{m[k]:.4f} [{lo[k]:.3f}-{hi[k]:.3f}]".rjust(22) for _, m, lo, hi, _ in curves.values())
        )
    target = curves["random"][1][-1]
    print(f"\nLabels needed to reach random's F1 with {sizes[-1]:,} labels ({target:.4f}):")
    summary = {}
    for config, (s, mean, lo, hi, n) in curves.items():
        reach = labels_to_reach(s, list(mean), target)
        above = [bool(m > r) for m, r in zip(mean[1:], curves["random"][1][1:])]
        summary[config] = {
            "labels": s,
            "mean": [round(float(x), 4) for x in mean],
            "min": [round(float(x), 4) for x in lo],
            "max": [round(float(x), 4) for x in hi],
            "seeds": n,
            "reach": reach,
            "above_random_after_seed": above,
        }
        print(
            f"  {config:>18}: {'not reached' if reach is None else f'{reach:,.0f}'}"
            f"   above random at rounds 1-{len(above)}: {''.join('+' if a else '-' for a in above)}   ({n} seeds)"
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for config, (s, mean, lo, hi, _) in curves.items():
        if "-" in config:
            continue  # the guard variants are in the table; the plot shows the default guard
        style = {"color": "black", "linestyle": "--"} if config == "random" else {}
        line = axis.plot(s, mean, marker="o", markersize=3, label=config, **style)[0]
        axis.fill_between(s, lo, hi, alpha=0.12, color=line.get_color())
    axis.set_xlabel("labeled sentences")
    axis.set_ylabel("test entity F1 (NCBI test)")
    axis.set_title("Active learning on NCBI disease (mean, min-max over seeds)", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "curves.png", dpi=120)
    print(f"\nWrote {out / 'curves.png'}, {out / 'summary.json'}, {out / 'runs.json'}")


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--step", type=int, default=200)
    parser.add_argument("--start", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=15, help="head epochs per retraining (one fixed setting)")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--pool", type=int, default=0, help="the first N pool and test sentences only (0: all)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "active")
    add_smoke(
        parser,
        seeds=1,
        rounds=1,
        step=20,
        start=20,
        epochs=2,
        configs="random",
        pool=200,
        out=Path(__import__("tempfile").gettempdir()) / "nerqa-smoke-active",
    )
    args = parse(parser)
    configs = args.configs.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    runs_file = args.out / "runs.json"
    results = json.loads(runs_file.read_text()) if runs_file.exists() else {}
    pool = read_corpus(DATA / "train.tsv").sentences
    test = read_corpus(DATA / "test.tsv").sentences
    if args.pool:
        pool, test = pool[: args.pool], test[: args.pool]
    tags = sorted({t for s in pool for t in s.tags})
    index = {t: i for i, t in enumerate(tags)}
    labels = [[index[t] for t in s.tags] for s in pool] + [[index[t] for t in s.tags] for s in test]
    started = time.perf_counter()
    features = word_features([s.tokens for s in pool] + [s.tokens for s in test], None)
    hidden = features[0].shape[1] // 4
    embeddings = np.stack([f[:, -hidden:].astype(np.float32).mean(0) for f in features[: len(pool)]])
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    print(
        f"pool {len(pool):,} sentences, test {len(test):,}; encoder features in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    for seed in range(1, args.seeds + 1):
        for config in configs:
            key = f"{config}/{seed}/{args.start}+{args.rounds}x{args.step}/e{args.epochs}"
            if key in results:
                continue
            results[key] = run(config, seed, args, pool, test, features, labels, embeddings, tags)
            runs_file.write_text(json.dumps(results, indent=1) + "\n")
    report(
        {k: v for k, v in results.items() if k.endswith(f"{args.start}+{args.rounds}x{args.step}/e{args.epochs}")},
        configs,
        args.out,
    )


if __name__ == "__main__":
    main()
