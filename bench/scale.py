"""Scale-out, measured: folds on Ray workers, data-parallel training, sharing a machine, a
500,000-sentence corpus, and LoRA against full fine-tuning. Every figure comes from this run.

Sections (`--sections`, default all):
- `workers`: the same audit (NCBI train's first `--sentences`, mode full) run here, then on a
  local Ray with `--workers 1` and `--workers 2`: wall times, speed-ups, and whether the
  issues agree.
- `train`: `nerqa train` on the same sentences as one process and under `torchrun
  --nproc-per-node 2` (gloo on CPUs, nccl on GPUs), same seed and global batch: wall times and
  dev F1.
- `share`: the audit alone, then again with a niced (19) one-core busy job started halfway,
  with the thread count re-read between folds and epochs (nerqa's default), fixed at the
  cores (as before), fixed at one fewer, and with `OMP_WAIT_POLICY=PASSIVE`; then with a
  one-core job at normal priority, re-read and fixed.
- `large`: a synthetic corpus of `--large` sentences, written here and never committed: time
  and peak RSS of `nerqa stats`, of the fold assignment, and of scoring (cleanlab and span
  issues over random pred_probs), each in a process of its own.
- `lora`: `nerqa train` on NCBI train, full fine-tuning and `--lora`, one run each: test F1,
  time, trained parameters.

    python bench/scale.py [--sections workers,train,share,large,lora] [--sentences N] [--smoke]
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

HERE = Path(__file__).resolve().parent
NERQA = [sys.executable, "-m", "nerqa_cli.main"]


def run(command: list[str], env: dict | None = None, **kwargs) -> float:
    """Run a command to the end; its wall time in seconds. A failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, **(env or {})}, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def subset(source: Path, sentences: int, folder: Path, name: str = "ncbi") -> Path:
    """The first `sentences` sentences of a corpus file, as a file. (Not `noise.subset`: importing
    noise.py brings torch into this driver, and a child process's peak RSS then starts at the
    driver's size, which would inflate the 500k-sentence figures.)"""
    from nerqa.data.corpus import Corpus
    from nerqa.data.formats import read_corpus, write_corpus

    corpus = read_corpus(source)
    kept, count = [], 0
    for document in corpus.documents:
        if count >= sentences:
            break
        kept.append(document)
        count += len(document.sentences)
    path = folder / f"{name}-{sentences}.tsv"
    write_corpus(Corpus(tuple(kept)), path)
    return path


def issue_keys(folder: Path) -> list[tuple]:
    lines = (folder / "issues.jsonl").read_text().splitlines()
    return [(i["index"], i["start"], i["end"], i["type"]) for i in map(json.loads, lines)]


def bench_workers(corpus: Path, work: Path, args) -> None:
    common = [*NERQA, "audit", str(corpus), "--mode", "full", "-k", str(args.folds), "--epochs", str(args.epochs)]
    common += ["--show", "0"]
    times = {}
    for label, extra in (("here", []), ("--workers 1", ["--workers", "1"]), ("--workers 2", ["--workers", "2"])):
        out = work / f"audit-{label.replace(' ', '').strip('-')}"
        shutil.rmtree(out, ignore_errors=True)  # no fold cache from an earlier run
        times[label] = run([*common, "--out", str(out), *extra])
        agree = len(set(issue_keys(out)) & set(issue_keys(work / "audit-here"))) / max(1, len(issue_keys(out)))
        print(f"  audit {label:12} {times[label]:7.1f} s  issues {len(issue_keys(out)):4}  same as here: {agree:.0%}")
    print(
        f"  speed-up of 2 workers: {times['--workers 1'] / times['--workers 2']:.2f}x over 1 worker, "
        f"{times['here'] / times['--workers 2']:.2f}x over running here"
    )


def bench_train(corpus: Path, dev: Path, work: Path, args) -> None:
    common = ["train", str(corpus), "--dev", str(dev), "--epochs", str(args.epochs), "--batch-size", "32"]
    results = {}
    for label, launcher in (
        ("1 process", NERQA),
        (
            "torchrun 2",
            [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "nerqa_cli.main"],
        ),
    ):
        out = work / f"train-{label.replace(' ', '')}"
        seconds = run([*launcher, *common, "--out", str(out)])
        metrics = json.loads((out / "metrics.json").read_text())
        results[label] = seconds
        print(f"  train {label:11} {seconds:7.1f} s  dev F1 {metrics['dev']['micro']['f1']:.4f}")
    print(f"  speed-up of 2 processes: {results['1 process'] / results['torchrun 2']:.2f}x")


def bench_share(corpus: Path, work: Path, args) -> None:
    common = [*NERQA, "audit", str(corpus), "--mode", "full", "-k", str(args.folds), "--epochs", str(args.epochs)]
    common += ["--show", "0"]
    cores = len(os.sched_getaffinity(0))
    shutil.rmtree(work / "share-alone", ignore_errors=True)
    alone = run([*common, "--out", str(work / "share-alone")])
    print(f"  audit alone (threads from the free cores): {alone:7.1f} s")
    variants = [
        ("threads re-read between folds and epochs (default)", {}, True),
        (f"threads fixed at {cores} (before)", {"NERQA_THREADS": str(cores)}, True),
        (f"threads fixed at {max(1, cores - 1)}", {"NERQA_THREADS": str(max(1, cores - 1))}, True),
        (
            f"threads fixed at {cores}, OMP_WAIT_POLICY=PASSIVE",
            {"NERQA_THREADS": str(cores), "OMP_WAIT_POLICY": "PASSIVE"},
            True,
        ),
        ("threads re-read between folds and epochs (default)", {}, False),
        (f"threads fixed at {cores} (before)", {"NERQA_THREADS": str(cores)}, False),
    ]
    for label, env, niced in variants:
        started = time.perf_counter()
        audit = subprocess.Popen(
            [*common, "--out", str(work / f"share-{len(env)}-{time.time_ns()}")],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(alone / 2)
        busy = subprocess.Popen([*(["nice", "-n", "19"] if niced else []), sys.executable, "-c", "while True: pass"])
        audit.wait()
        seconds = time.perf_counter() - started
        busy.kill()
        busy.wait()
        second_half = seconds - alone / 2
        job = "a niced job" if niced else "a job at normal priority"
        print(
            f"  with {job} from halfway, {label}: {seconds:7.1f} s ({seconds / alone:.2f}x alone; "
            f"second half {second_half / (alone / 2):.2f}x)"
        )


LARGE_STAGE = """
import resource, sys, time
import numpy as np
from nerqa.data.formats import read_corpus
stage, path = sys.argv[1], sys.argv[2]
if stage == "stats":  # the whole command, its tables included
    import contextlib, io
    from nerqa_cli.main import app
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        app(["stats", path], standalone_mode=False)
    seconds = time.perf_counter() - started
    print(f"0 {seconds:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
    sys.exit(0)
started = time.perf_counter()
corpus = read_corpus(path)
read = time.perf_counter() - started
started = time.perf_counter()
if stage == "folds":
    from nerqa.auditing.crossval import document_folds
    folds = document_folds(corpus, 5)
    assert len(folds) == len(corpus)
elif stage == "scoring":
    from nerqa.auditing import score
    rng = np.random.default_rng(0)
    tags = corpus.tag_set
    index = {t: i for i, t in enumerate(tags)}
    probs = []
    for sentence in corpus.sentences:
        p = rng.dirichlet(np.full(len(tags), 0.3), size=len(sentence)).astype(np.float32)
        p[np.arange(len(sentence)), [index[t] for t in sentence.tags]] += 2.0  # mostly agreeing
        probs.append(p / p.sum(axis=1, keepdims=True))
    result = score(corpus, probs, tags)
    assert len(result.sentence_scores) == len(corpus)
print(f"{read:.1f} {time.perf_counter() - started:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
"""


def bench_large(work: Path, args) -> None:
    import numpy as np

    path = work / "large.tsv"
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(5000)]
    started = time.perf_counter()
    with path.open("w", encoding="utf-8") as out:
        for _ in range(args.large // 10):
            out.write("-DOCSTART-\tO\n\n")  # documents of 10 sentences: the folds group by document
            for _ in range(10):
                n = int(rng.integers(8, 32))
                tags = ["O"] * n
                for _ in range(int(rng.integers(0, 3))):
                    start = int(rng.integers(0, n - 2))
                    tags[start] = "B-Disease"
                    tags[start + 1] = "I-Disease"
                out.writelines(f"{words[int(w)]}\t{t}\n" for w, t in zip(rng.integers(0, 5000, n), tags))
                out.write("\n")
    size = path.stat().st_size
    seconds = time.perf_counter() - started
    print(f"  synthetic corpus: {args.large:,} sentences, {size / 1e6:.0f} MB, written in {seconds:.0f} s")
    for stage in ("stats", "read", "folds", "scoring"):
        done = subprocess.run([sys.executable, "-c", LARGE_STAGE, stage, str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(done.stderr[-3000:])
        read, seconds, rss = done.stdout.split()[-3:]
        if stage == "read":
            seconds, what = read, "read the corpus"
        else:
            what = "nerqa stats (reading included)" if stage == "stats" else f"{stage} (after reading)"
        print(f"  {what:32} {float(seconds):6.1f} s, peak RSS {int(rss) / 1024:,.0f} MiB")


def bench_lora(shared: Path, work: Path, args) -> None:
    ncbi = shared / "ncbi_disease" / "iob"
    splits = [ncbi / f"{name}.tsv" for name in ("train", "devel", "test")]
    if args.lora_sentences:
        splits = [subset(path, args.lora_sentences, work, path.stem) for path in splits]
    train, dev, test = splits
    for label, extra in (("full fine-tuning", ["--lr", "1e-4"]), ("LoRA r=16", ["--lora", "--lr", "1e-3"])):
        out = work / f"lora-{'lora' if '--lora' in extra else 'full'}"
        command = [*NERQA, "train", str(train), "--dev", str(dev), "--out", str(out)]
        seconds = run([*command, "--epochs", str(args.lora_epochs), *extra])
        metrics = json.loads((out / "metrics.json").read_text())
        evaluated = subprocess.run([*NERQA, "evaluate", str(out), str(test), "--json"], capture_output=True, text=True)
        f1 = json.loads(evaluated.stdout)["micro"]["f1"]
        print(
            f"  {label:17} {seconds:7.1f} s  test F1 {f1:.4f}  trained {metrics['trainable_parameters']:,} "
            f"of {metrics['total_parameters']:,} parameters"
        )


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[1] / "shared" / "data")
    parser.add_argument("--sections", default="workers,train,share,large,lora")
    parser.add_argument("--sentences", type=int, default=800, help="NCBI train sentences for workers/train/share")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--large", type=int, default=500_000)
    parser.add_argument("--lora-epochs", type=float, default=5)
    parser.add_argument("--lora-sentences", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="keep the outputs here (default: a temporary folder)")
    add_smoke(parser, sentences=60, folds=2, epochs=1, large=2000, lora_epochs=1, lora_sentences=40)
    args = parse(parser)
    sections = args.sections.split(",")
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    bf16 = "avx512_bf16" in cpu or "amx_bf16" in cpu
    print(f"machine: {model}, {os.cpu_count()} cores, {'native' if bf16 else 'no native'} bf16 (lscpu flags)")
    with tempfile.TemporaryDirectory(prefix="nerqa-scale-") as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        corpus = subset(args.shared / "ncbi_disease" / "iob" / "train.tsv", args.sentences, work)
        dev = subset(args.shared / "ncbi_disease" / "iob" / "devel.tsv", max(40, args.sentences // 4), work)
        for section in sections:
            started = time.perf_counter()
            print(f"== {section}")
            if section == "workers":
                bench_workers(corpus, work, args)
            elif section == "train":
                bench_train(corpus, dev, work, args)
            elif section == "share":
                bench_share(corpus, work, args)
            elif section == "large":
                bench_large(work, args)
            elif section == "lora":
                bench_lora(args.shared, work, args)
            else:
                sys.exit(f"unknown section {section!r}")
            print(f"== {section}: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
