"""The cost of the neighbour search and the guideline questions (`nerqa.auditing.neighbours`)
at scale, on synthetic mention vectors the size the audit builds with the bundled MiniLM
(2 x 4 layers x 384 = 3,072 dims, float16).

For each size in `--mentions`, in a process of its own: the wall time and peak RSS of the
votes and questions (`repeated_errors`: exact search up to `EXACT_LIMIT` mentions; above it,
PCA to `REDUCED_DIMS` and a faiss HNSW index), and, below the exact limit, whether the
approximate path on the same vectors flags the same mentions: of the mentions either path
flags, the share both flag with the same type. The vectors are clustered (a topic per 50
mentions, 90 % of them of the topic's type) so that the search has structure to find. The
figures exclude the frozen encoder's pass (the audit's `both` mode runs it anyway).

    python bench/neighbours.py [--mentions 5000,50000,500000] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

DIMS = 3072


def vectors(n: int, seed: int = 0) -> tuple[np.ndarray, list]:
    """`(n, DIMS)` float16 unit vectors around n / 50 topics, and their mentions (4 types,
    2 mentions a sentence)."""
    from nerqa.auditing.mentions import Mention

    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(max(1, n // 50), DIMS)).astype(np.float32)
    out = np.empty((n, DIMS), dtype=np.float16)
    labels = np.array(["LOC", "ORG", "PER", "MISC"])
    topic_of = rng.integers(0, len(topics), n)
    for lo in range(0, n, 50_000):
        hi = min(n, lo + 50_000)
        block = topics[topic_of[lo:hi]] + rng.normal(0, 0.5, (hi - lo, DIMS)).astype(np.float32)
        out[lo:hi] = block / np.linalg.norm(block, axis=1, keepdims=True)
    mentions = [
        Mention(i // 2, i % 2, i % 2 + 1, str(labels[(topic_of[i] + (rng.random() < 0.1)) % 4]), "m") for i in range(n)
    ]
    return out, mentions


def measure(n: int) -> dict:
    """One size, in this process."""
    from nerqa.auditing import mentions as vectors_of
    from nerqa.auditing import neighbours
    from nerqa.config import ScoringSettings

    min_share = ScoringSettings().neighbour_min_share

    data, mentions = vectors(n)
    started = time.perf_counter()
    found, questions = neighbours.repeated_errors(mentions, data)
    seconds = time.perf_counter() - started
    out = {
        "mentions": n,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "path": "approximate" if n > vectors_of.EXACT_LIMIT else "exact",
        "flagged": sum(v is not None and v.share >= min_share for v in found),
        "questions": len(questions),
    }
    if n <= vectors_of.EXACT_LIMIT:
        try:
            groups = np.array([m.index for m in mentions])
            started = time.perf_counter()
            approx = neighbours.votes(mentions, *vectors_of._nearest_faiss(vectors_of.reduce(data), 10, groups))
            out["approximate_seconds"] = round(time.perf_counter() - started, 1)

            def flags(found) -> set:
                return {(i, v.label) for i, v in enumerate(found) if v is not None and v.share >= min_share}

            either, both = flags(found) | flags(approx), flags(found) & flags(approx)
            out["agreement"] = round(len(both) / max(len(either), 1), 3)
        except ModuleNotFoundError:
            out["agreement"] = None  # faiss not installed
    return out


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", default="5000,50000,500000", help="comma-separated sizes")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    add_smoke(parser, mentions="2000")
    args = parse(parser)
    if args.one is not None:
        print(json.dumps(measure(args.one)))
        return
    import platform

    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores")
    for n in (int(x) for x in args.mentions.split(",")):
        done = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{n:,} mentions failed:\n{done.stderr[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        extra = (
            f"; the approximate path on the same vectors {row['approximate_seconds']} s, flagging the same "
            f"(mention, type) for {row['agreement']:.1%} of those either flags"
            if row.get("agreement") is not None
            else ""
        )
        print(
            f"{n:>9,} mentions ({row['path']}): {row['seconds']} s, peak RSS {row['peak_rss_mb']:,} MB, "
            f"{row['flagged']:,} flagged, {row['questions']} questions{extra}",
            flush=True,
        )


if __name__ == "__main__":
    main()
