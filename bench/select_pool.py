"""`nerqa select` on a 5,000 and a 50,000-sentence pool: time and peak memory, one run.

The pool is raw text, one sentence a line, as a team would hand it over: every sentence of
NCBI disease (IOB train, dev, test) and BC5CDR-disease (train, dev, test), then variants
of them (one word left out) until 50,000 distinct lines; the 5,000 pool is the first 5,000
lines. The model is the bundled MiniLM with an untrained token-classification layer (tags
O, B-Disease, I-Disease): speed and memory do not depend on what the weights learned, and
no training run is needed.

Each selection runs `nerqa select POOL --trained M --budget 200` as its own process; its wall
time and peak resident memory (`wait4`'s ru_maxrss) are printed with the 50k/5k ratios.

    python bench/select_pool.py [--sizes 5000,50000] [--budget 200] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nerqa.data.corpus import text_key  # noqa: E402
from nerqa.data.formats import read_corpus  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SOURCES = [SHARED / "ncbi_disease" / "iob" / f"{s}.tsv" for s in ("train", "devel", "test")] + [
    SHARED / "bc5cdr_disease" / f"{s}.tsv" for s in ("train", "devel", "test")
]


def pool_lines(n: int) -> list[str]:
    sentences = [s.tokens for path in SOURCES if path.exists() for s in read_corpus(path).sentences]
    seen: set[int] = set()
    lines: list[str] = []

    def add(tokens) -> None:
        key = text_key(tokens)
        if len(tokens) >= 3 and key not in seen:
            seen.add(key)
            lines.append(" ".join(tokens))

    for tokens in sentences:
        add(tokens)
    drop = 0
    while len(lines) < n:
        for tokens in sentences:
            if len(lines) >= n:
                break
            if drop < len(tokens):
                add(tokens[:drop] + tokens[drop + 1 :])
        drop += 1
    return lines[:n]


def untrained_classifier(folder: Path) -> Path:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from nerqa.models.runtime import default_model_path

    tags = ["O", "B-Disease", "I-Disease"]
    base = default_model_path()
    model = AutoModelForTokenClassification.from_pretrained(
        base,
        num_labels=3,
        id2label=dict(enumerate(tags)),
        label2id={t: i for i, t in enumerate(tags)},
        local_files_only=True,
    )
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(folder)
    return folder


def measure(pool: Path, model: Path, budget: int, out: Path) -> dict:
    command = [
        str(Path(sys.executable).parent / "nerqa"),
        "select",
        str(pool),
        "--model",
        str(model),
        "--budget",
        str(budget),
        "--out",
        str(out),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    errors = process.stderr.read() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"nerqa select failed on {pool}:\n{errors}")
    summary = json.loads((out / "summary.json").read_text())
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "counts": summary["counts"]}


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,50000")
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--work", type=Path, default=None)
    add_smoke(parser, sizes="300", budget=20)
    args = parse(parser)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="nerqa-select-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    lines = pool_lines(max(sizes))
    model = untrained_classifier(work / "model")
    print(f"torch threads: {os.cpu_count()} CPUs on this machine; pool lines built: {len(lines):,}", flush=True)
    results = {}
    for size in sizes:
        pool = work / f"pool-{size}.txt"
        pool.write_text("\n".join(lines[:size]) + "\n", encoding="utf-8")
        shutil.rmtree(work / f"batch-{size}", ignore_errors=True)
        results[size] = measure(pool, model, args.budget, work / f"batch-{size}")
        r = results[size]
        print(
            f"pool {size:>6,} lines: {r['counts']['scored']:,} sentences scored, {r['seconds']:,.1f} s "
            f"({r['counts']['scored'] / r['seconds']:,.0f} sentences/s), peak RSS {r['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
    if len(sizes) == 2:
        small, large = (results[s] for s in sizes)
        print(
            f"ratio {sizes[1]:,}/{sizes[0]:,}: time {large['seconds'] / small['seconds']:.2f}x, peak RSS "
            f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}x"
        )
    print(json.dumps({str(k): v for k, v in results.items()}))


if __name__ == "__main__":
    main()
