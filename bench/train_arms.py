"""Train the arms of `bench/real_noise.py --loop` that its cache lacks, here or on another machine.

An arm is one training corpus (a NoiseBench variant as given, after a simulated review, or the
clean one) and a seed; it is trained with `nerqa train`'s defaults on that corpus and scored on
`clean.dev` after every epoch (the best epoch kept, as `nerqa train --dev` does). This script
needs nerqa's training code and nothing else of the bench (no cleanlab), so that the arms
`real_noise.py --loop --export-arms DIR` writes can be trained on a GPU machine:

    python bench/train_arms.py DIR [--out DIR/results] [--model MODEL] [--processes N]

`DIR` holds `arms.json` (`{"tags", "epochs", "arms": [{"key", "corpus", "seed", "arm"}]}`),
each arm's corpus (CoNLL) and `dev.conll`. Each trained arm is written to `OUT/KEY.json` as it
finishes (one already there is skipped), so a run cut short resumes; copy the files into the
loop cache (`~/.cache/nerqa-bench/real_noise/loop`) and `real_noise.py --loop` reads them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path


def train_arm(
    corpus_path: Path,
    dev_path: Path,
    seed: int,
    tags: tuple[str, ...],
    model: str | None = None,
    *,
    epochs: float | None = None,
) -> dict:
    """Train one arm; returns the best epoch's F1 on the dev corpus, every epoch's figures, the
    wall time and the device. `epochs` None: `nerqa train`'s."""
    from nerqa.config import TrainConfig
    from nerqa.data.formats import read_corpus
    from nerqa.models.runtime import device
    from nerqa.models.training import train

    corpus, dev = read_corpus(corpus_path, "conll"), read_corpus(dev_path, "conll")
    started = time.perf_counter()
    result = train(corpus, TrainConfig(seed=seed, model=model).with_options(epochs=epochs), dev=dev, tags=tags)
    history = [{k: v for k, v in epoch.items() if isinstance(v, (int, float, bool))} for epoch in result.history]
    return {
        "f1": max(e["dev_f1"] for e in history),
        "best_epoch": result.best_epoch,
        "history": history,
        "seconds": round(time.perf_counter() - started, 1),
        "device": str(device()),
    }


def _work(folder: Path, out: Path, arms: list[dict], plan: dict, model: str | None) -> None:
    from nerqa.models.runtime import quiet_transformers

    quiet_transformers()
    for arm in arms:
        target = out / f"{arm['key']}.json"
        if target.exists():
            continue
        corpus, dev = folder / arm["corpus"], folder / "dev.conll"
        figures = train_arm(corpus, dev, arm["seed"], tuple(plan["tags"]), model, epochs=plan.get("epochs"))
        scratch = target.with_suffix(".part")
        scratch.write_text(json.dumps({**arm, **figures}, indent=1))
        scratch.replace(target)
        print(f"{arm['key']}: F1 {figures['f1']:.4f} in {figures['seconds']:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder real_noise.py --export-arms wrote")
    parser.add_argument(
        "--out", type=Path, default=None, help="where each arm's KEY.json goes (default: FOLDER/results)"
    )
    parser.add_argument("--model", default=None, help="encoder folder (default: the bundled MiniLM)")
    parser.add_argument("--processes", type=int, default=1, help="arms trained at once (one GPU holds several)")
    args = parser.parse_args()
    plan = json.loads((args.folder / "arms.json").read_text())
    out = args.out or args.folder / "results"
    out.mkdir(parents=True, exist_ok=True)
    shares = [plan["arms"][i :: args.processes] for i in range(args.processes)]
    if args.processes == 1:
        _work(args.folder, out, shares[0], plan, args.model)
        return
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_work, args=(args.folder, out, s, plan, args.model)) for s in shares if s]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    failed = [w.exitcode for w in workers if w.exitcode]
    if failed:
        raise SystemExit(f"{len(failed)} of {len(workers)} processes failed")


if __name__ == "__main__":
    main()
