"""How far the audit's noise estimate is from the truth: on a clean corpus, small ones, weak
models, injected retyping and real annotators' errors, in one run.

Cases (every cross-validation cached under `--cache`, so a second run re-scores in seconds):
- `clean-dev`: NoiseBench `clean.dev` (1,006 sentences, no errors), the audit's defaults;
- `clean-dev-300`, `clean-dev-60`: its first 300 / 60 sentences' documents, `--mode fast -k 2`;
- `retype-10`, `retype-50`: `clean.dev` with 10 % / 50 % of its entities given another type at
  random (seed 0), the defaults;
- `conll-dev`, `expert`, `crowdbest`, `crowd`: the sets of `bench/real_noise.py`, the defaults
  (the same cache as that script's).

Printed per case: the true share of sentences in error, the estimate with its interval, their
ratio, whether the truth lies in the interval, and the audit's verdict line.

    python bench/noise_estimate.py [--cases a,b,...] [--cache DIR] [--shared DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from realsets import SETS, load_set

from nerqa.auditing import AuditSettings, fold_config
from nerqa.auditing.confident import flagged_words
from nerqa.auditing.crossval import CrossValResult, cross_validate_once
from nerqa.auditing.noise import describe_noise, estimate_noise, true_noise
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import read_corpus

CLEAN_CASES = ("clean-dev", "clean-dev-300", "clean-dev-60", "retype-10", "retype-50")
CASES = CLEAN_CASES + SETS


def first_sentences(corpus: Corpus, n: int) -> Corpus:
    """The first documents of `corpus` that hold at least `n` sentences together."""
    kept: list[Document] = []
    while sum(len(d.sentences) for d in kept) < n and len(kept) < len(corpus.documents):
        kept.append(corpus.documents[len(kept)])
    return Corpus(tuple(kept), name=corpus.name)


def retyped(corpus: Corpus, share: float, seed: int = 0) -> Corpus:
    """`corpus` with `share` of its entities (drawn at random) given another of its types."""
    rng = random.Random(seed)
    types = sorted(corpus.entity_types)
    places = [
        (d, s, span)
        for d, doc in enumerate(corpus.documents)
        for s, sent in enumerate(doc.sentences)
        for span in sent.spans
    ]
    chosen = set(rng.sample(range(len(places)), round(share * len(places))))
    new_tags = {}
    for n, (d, s, span) in enumerate(places):
        if n not in chosen:
            continue
        tags = new_tags.setdefault((d, s), list(corpus.documents[d].sentences[s].tags))
        label = rng.choice([t for t in types if t != span.label])
        for t in range(span.start, span.end):
            tags[t] = ("B-" if t == span.start else "I-") + label
    documents = []
    for d, doc in enumerate(corpus.documents):
        sentences = tuple(
            Sentence(sent.tokens, tuple(new_tags[(d, s)])) if (d, s) in new_tags else sent
            for s, sent in enumerate(doc.sentences)
        )
        documents.append(Document(doc.id, sentences))
    return Corpus(tuple(documents), name=f"{corpus.name}-retyped")


def load_case(shared: Path, name: str, smoke: bool) -> tuple[Corpus, list[tuple[str, ...]], AuditSettings]:
    """The corpus, its true tags and the audit settings of case `name`."""
    if name in SETS:
        corpus, truth = load_set(shared, name, 40 if smoke else 0)
        return corpus, truth, AuditSettings(k=2 if smoke else 5, training=fold_config(epochs=1 if smoke else None))
    clean = read_corpus(shared / "noisebench" / "clean.dev.txt", "conll")
    if smoke:
        clean = first_sentences(clean, 40)
    settings = AuditSettings(k=2 if smoke else 5, training=fold_config(epochs=1 if smoke else None))
    if name.startswith("clean-dev-"):
        clean = first_sentences(clean, int(name.rsplit("-", 1)[1]))
        settings = AuditSettings(k=2, mode="fast")
    truth = [tuple(s.tags) for s in clean.sentences]
    corpus = retyped(clean, int(name.rsplit("-", 1)[1]) / 100) if name.startswith("retype-") else clean
    return corpus, truth, settings


def cross_validation(corpus: Corpus, settings: AuditSettings, folder: Path) -> tuple[CrossValResult, float]:
    """The audit's cross-validation of `corpus`, cached in `folder`; and its wall time in seconds."""
    started = time.perf_counter()
    result = cross_validate_once(corpus, settings, cache_dir=folder, dynamics="fast" != settings.mode)
    return result, time.perf_counter() - started


def run_case(args, name: str) -> dict:
    corpus, truth, settings = load_case(args.shared, name, args.smoke)
    folder = args.cache / (name if name not in SETS else name)
    cv, seconds = cross_validation(corpus, settings, folder)
    flagged = flagged_words(corpus, cv.pred_probs, cv.tags)
    noise = estimate_noise(corpus, flagged, cv.pred_probs, cv.tags, views=cv.views)
    truth_share = true_noise(corpus, truth)
    est = noise["sentences"]
    row = {
        "case": name,
        "sentences": len(corpus),
        "mode": settings.mode,
        "k": settings.k,
        "seconds": round(seconds, 1),
        "true_sentences": round(truth_share["sentences"], 4),
        "true_entities": round(truth_share["entities"], 4),
        "estimate": est,
        "entities": noise["entities"],
        "verdict": noise.get("verdict"),
        "ratio": round(est["estimate"] / truth_share["sentences"], 3) if truth_share["sentences"] else None,
        "covered": None
        if str(noise.get("verdict", "")).startswith("cannot tell")
        else est["low"] <= truth_share["sentences"] <= est["high"],
        "line": describe_noise(noise),
        "flagged": noise["flagged"],
        "false_flags": noise.get("false_flags"),
        "detection": noise["detection"],
    }
    return row


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "nerqa-bench" / "real_noise", help="fold caches"
    )
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    add_smoke(parser, cases="clean-dev,retype-50,crowdbest")
    args = parse(parser)
    if args.smoke:
        args.cache = args.cache.parent / "noise_estimate-smoke"
    args.cache.mkdir(parents=True, exist_ok=True)
    from nerqa.models.runtime import quiet_transformers, set_threads

    quiet_transformers()
    print(f"torch threads: {set_threads()}")
    rows = []
    print(f"{'case':<15} {'sents':>6} {'true':>7} {'estimate (interval)':>26} {'ratio':>6} {'covers':>6}  verdict")
    for name in args.cases.split(","):
        row = run_case(args, name)
        rows.append(row)
        est = row["estimate"]
        interval = f"{est['estimate']:.1%} ({est['low']:.1%}-{est['high']:.1%})"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        print(
            f"{name:<15} {row['sentences']:>6} {row['true_sentences']:>7.1%} {interval:>26} {ratio:>6} "
            f"{'-' if row['covered'] is None else 'yes' if row['covered'] else 'no':>6}  {row['verdict']}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
