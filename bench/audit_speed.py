"""The audit's time and memory, stage by stage, for several fold modes on the same corpus in one run.

Each mode runs in a process of its own (so its peak resident memory is its own), with an empty
fold cache, through the library functions `nerqa audit` calls, timed per stage: reading the
corpus, the frozen encoder pass, the folds (and the one fine-tuning of `once+fast`), scoring,
neighbours and questions, and writing the audit folder. Printed: one row per mode, and each
mode's total time as a share of the first mode's.

    python bench/audit_speed.py CORPUS [CORPUS ...] [--modes both,once+fast] [--folds 5] [--sentences N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_one(paths: list[Path], mode: str, folds: int, sentences: int) -> dict:
    """One audit of `paths` (joined) with `mode`, timed per stage; peak memory in MiB."""
    from nerqa.auditing import AuditSettings, cross_validate, score, write_outputs
    from nerqa.data.formats import read_corpus
    from nerqa.data.parts import join
    from nerqa.models.runtime import compute_format, device, set_threads

    set_threads()
    stages: dict[str, float] = {}
    started = time.perf_counter()
    corpus, _ = join({p.name: read_corpus(p) for p in paths})
    if sentences:
        from nerqa.data.corpus import Corpus

        corpus = Corpus.from_sentences(corpus.sentences[:sentences])
    stages["reading"] = time.perf_counter() - started
    settings = AuditSettings(k=folds, mode=mode)
    with tempfile.TemporaryDirectory() as scratch:
        began = time.perf_counter()
        crossval = cross_validate(corpus, settings, cache_dir=Path(scratch) / "cache")
        folds_total = time.perf_counter() - began
        stages["frozen pass"] = crossval.feature_seconds
        stages["folds"] = folds_total - crossval.feature_seconds
        began = time.perf_counter()
        features = crossval.features
        if features is None:
            from nerqa.auditing.pipeline import word_features

            features = word_features(corpus, settings.training)
            stages["frozen pass"] += time.perf_counter() - began
        began = time.perf_counter()
        result = score(corpus, crossval.pred_probs, crossval.tags, crossval=crossval, features=features)
        scoring = time.perf_counter() - began
        stages["neighbours"] = result.summary["timings"]["neighbour_seconds"]
        stages["scoring"] = scoring - stages["neighbours"]
        began = time.perf_counter()
        write_outputs(result, Path(scratch) / "audit")
        stages["writing"] = time.perf_counter() - began
    return {
        "mode": mode,
        "sentences": len(corpus),
        "compute": compute_format(device()),
        "stages": {k: round(v, 1) for k, v in stages.items()},
        "total": round(time.perf_counter() - started, 1),
        "fold_seconds": [round(s, 1) for s in crossval.seconds],
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cv_f1": result.summary["cv_metrics"]["micro"]["f1"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="+")
    parser.add_argument("--modes", default="both,once+fast")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sentences", type=int, default=0, help="the first N sentences only (0: all)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process: this mode alone
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.corpus, args.one, args.folds, args.sentences)))
        return
    rows = []
    for mode in args.modes.split(","):
        done = subprocess.run(
            [sys.executable, __file__, *map(str, args.corpus), "--one", mode, "--folds", str(args.folds)]
            + ["--sentences", str(args.sentences)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"{mode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        print(
            f"{mode:10} {row['sentences']:,} sentences ({row['compute']}): total {row['total']:.0f} s "
            f"({row['total'] / rows[0]['total']:.0%} of {rows[0]['mode']}), peak {row['peak_mib']:,} MiB, "
            f"CV F1 {row['cv_f1']:.3f}; " + ", ".join(f"{k} {v:.0f} s" for k, v in row["stages"].items()),
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
