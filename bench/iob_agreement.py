"""How closely nerqa's sentence splitting and tokenisation reproduce the official NCBI IOB release.

Converts the PubTator files (categories merged to `Disease`) and the inline-tag files to IOB
and counts, per split, official sentences with an identical twin (tokens and tags) among
nerqa's. Each miss is classed as a sentence-boundary difference (the official tokens occur
contiguously in nerqa's token stream) or a token difference, with examples.

    python bench/iob_agreement.py [--shared ../shared/data] [--examples 5]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from nerqa.data.agreement import sentence_agreement
from nerqa.data.corpus import Corpus
from nerqa.data.formats import ReadOptions, read_corpus

SPLITS = [
    ("train", "pubtator/NCBItrainset_corpus.txt", "original/NCBI_corpus_training.txt", "iob/train.tsv"),
    ("dev", "pubtator/NCBIdevelopset_corpus.txt", "original/NCBI_corpus_development.txt", "iob/devel.tsv"),
    ("test", "pubtator/NCBItestset_corpus.txt", "original/NCBI_corpus_testing.txt", "iob/test.tsv"),
]


def classify(missing: tuple[tuple[str, ...], ...], ours: Corpus) -> Counter[str]:
    """'boundary' when an official sentence's tokens run contiguously in our token stream."""
    stream = " \u0001 ".join(" ".join(t for s in doc.sentences for t in s.tokens) for doc in ours.documents)
    return Counter("boundary" if f" {' '.join(tokens)} " in f" {stream} " else "tokens" for tokens in missing)


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--examples", type=int, default=3)
    add_smoke(parser, examples=1)
    args = parse(parser)
    base = args.shared / "ncbi_disease"
    merge = ReadOptions(merge_type="Disease")
    print(f"{'split':6} {'source':9} {'official':>8} {'nerqa':>6} {'identical':>9} {'rate':>7}  misses by cause")
    for split, pubtator, inline, iob in SPLITS:
        official = read_corpus(base / iob)
        for source, path in (("pubtator", pubtator), ("inline", inline)):
            ours = read_corpus(base / path, options=merge)
            agreement = sentence_agreement(official, ours, with_tags=True)
            causes = classify(agreement.only_reference, ours)
            print(
                f"{split:6} {source:9} {agreement.total:8,} {len(ours):6,} {agreement.matched:9,} "
                f"{agreement.rate:7.2%}  {dict(causes)}"
            )
            for tokens in agreement.only_reference[: args.examples]:
                print(f"{'':17} official: {' '.join(tokens)[:150]}")


if __name__ == "__main__":
    main()
