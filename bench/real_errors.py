"""Real-error benchmark: audit CoNLL-2003 dev and score the audit against CleanCoNLL's human corrections.

CleanCoNLL (Rücker & Akbik, 2023) re-annotated CoNLL-2003. Its dev tokens differ from the
original release in a few places (a token split in three), so the two token streams are
aligned with difflib and each dev token gets CleanCoNLL's label (`corrected_tags`); a dev
sentence whose tags differ is one with a real label error (417 of 3,250). Printed per setup
(dev audited alone; with `--repeats N`, also as `audit --repeats N` does it, its time the sum of
the repeats'; with `--reference`, also with CoNLL train behind every fold) and per
ranking of the same cross-validated pred_probs:
- sentence AUROC, AUPRC, precision at k (k = the corrected sentences), at 5 % and at 10 %;
- span recall by kind: of CleanCoNLL's corrections (missed: a span it added; ghost: one it
  removed; shift: other boundaries; type: other type), the share that a span issue of the
  audit overlaps, among all issues and among those of the top 10 % of sentences;
- suggestion accuracy: of the span issues that overlap a correction, the share whose
  suggestion, accepted as `nerqa accept` would, gives CleanCoNLL's reading of those tokens;
  among all of them, among those in the top 5 % of sentences, and among those whose
  suggestion has a confidence of 0.9 or more;
- the sentence figures again without the sentences whose only correction is CleanCoNLL's
  new guideline for metonymy (a LOC span made ORG: "England" the team), which the original
  annotation applies nowhere.
Rankings: `before (issue 18)` (rebuilt from its parts), `nerqa` (the audit's now), and
cleanlab's sentence score on the out-of-sample probabilities, on entity types and on the IOB
tags (cleanlab's default).

The cross-validation is cached under `--cache` (one fold-cache folder per setup, with the
wall time of its first, uncached run in `SETUP.json`), so a scoring change re-scores in
seconds. The test split and CoNLL++ are never read.

    python bench/real_errors.py [--cache DIR] [--reference [--alone]] [--repeats N] [--folds 5] [--shared DIR]
"""

from __future__ import annotations

import argparse
import difflib
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from nerqa.auditing import fold_config, score, sentence_quality, with_dynamics
from nerqa.auditing.crossval import CrossValResult, cross_validate, mean_of
from nerqa.auditing.issues import SPAN_TYPES, Issue, cleanlab_scores, span_issues
from nerqa.data.corpus import Corpus, Document
from nerqa.data.formats import read_corpus
from nerqa.data.tags import spans_from_tags
from nerqa.review.spans import suggested_fix


def corrected_tags(corpus: Corpus, clean: Corpus) -> list[tuple[str, ...]]:
    """CleanCoNLL's tags for each sentence of `corpus`, by aligning the two token streams:
    where a token of `corpus` was split or rejoined, it takes the entity of the clean tokens it
    became (the first one's type), or O."""
    tokens = [t for s in corpus.sentences for t in s.tokens]
    theirs = [t for s in clean.sentences for t in s.tokens]
    their_tags = [t for s in clean.sentences for t in s.tags]
    mapped = ["O"] * len(tokens)
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, tokens, theirs, autojunk=False).get_opcodes():
        if op == "equal":
            mapped[i1:i2] = their_tags[j1:j2]
            continue
        entities = [t.split("-", 1)[1] for t in their_tags[j1:j2] if t != "O"]
        for k in range(i1, i2):
            mapped[k] = f"{'B' if k == i1 else 'I'}-{entities[0]}" if entities else "O"
    out, position = [], 0
    for sentence in corpus.sentences:
        out.append(tuple(mapped[position : position + len(sentence)]))
        position += len(sentence)
    return out


def corrections(corpus: Corpus, truth: list[tuple[str, ...]]) -> dict[int, list[tuple[int, int, str]]]:
    """Per sentence, CleanCoNLL's corrections as `(start, end, kind)`: `missed` (a span it
    added), `ghost` (one it removed), `shift` (overlapping, other boundaries), `type` (same
    boundaries, other type)."""
    out: dict[int, list[tuple[int, int, str]]] = {}
    for index, (sentence, tags) in enumerate(zip(corpus.sentences, truth)):
        given, clean = set(sentence.spans), set(spans_from_tags(tags))
        found = []
        for span in clean - given:
            twins = [g for g in given - clean if g.start < span.end and span.start < g.end]
            if not twins:
                found.append((span.start, span.end, "missed"))
            elif any((g.start, g.end) == (span.start, span.end) for g in twins):
                found.append((span.start, span.end, "type"))
            else:
                lo, hi = min([span.start] + [g.start for g in twins]), max([span.end] + [g.end for g in twins])
                found.append((lo, hi, "shift"))
        for span in given - clean:
            if not any(c.start < span.end and span.start < c.end for c in clean):
                found.append((span.start, span.end, "ghost"))
        if found:
            out[index] = found
    return out


def load(shared: Path, sentences: int = 0) -> tuple[Corpus, list[tuple[str, ...]], Corpus]:
    """CoNLL dev (the first `sentences`' documents, 0: all), CleanCoNLL's tags for it, and CoNLL train."""
    root = shared / "conll2003"
    dev = read_corpus(root / "dev.txt", "conll")
    truth = corrected_tags(dev, read_corpus(root / "dev.cleanconll.txt", "conll"))
    train = read_corpus(root / "train.txt", "conll")
    if sentences:
        kept: list[Document] = []
        while sum(len(d.sentences) for d in kept) < sentences:
            kept.append(dev.documents[len(kept)])
        n = sum(len(d.sentences) for d in kept)
        dev, truth = Corpus(tuple(kept), name=dev.name), truth[:n]
        train = Corpus(train.documents[: max(1, len(train.documents) * sentences // len(train))], name=train.name)
    return dev, truth, train


def crossval(
    dev: Corpus, args, cache: Path, setup: str, reference: Corpus | None, repeat: int = 0
) -> tuple[CrossValResult, float]:
    """The audit's default cross-validation of `dev` (`both`, with dynamics; repeat r with seed
    42 + r, as `audit --repeats` has it), cached in `cache/SETUP[-seedR]`; returns it and the wall
    time of its uncached run (kept in `cache/SETUP[-seedR].json`)."""
    name = setup + (f"-seed{repeat}" if repeat else "")
    folder, record = cache / name, cache / f"{name}.json"
    settings = {"folds": args.folds, "epochs": args.epochs, "sentences": len(dev)}
    known = json.loads(record.read_text()) if record.is_file() else {}
    started = time.perf_counter()
    result = cross_validate(
        dev,
        fold_config(epochs=args.epochs).replace(seed=42 + repeat),
        k=args.folds,
        mode="both",
        cache_dir=folder,
        dynamics=True,
        reference=reference,
    )
    seconds = time.perf_counter() - started
    if known.get("settings") == settings:
        seconds = known["seconds"]
    elif not result.cached_folds:  # only a whole, uninterrupted run's time is the audit's time
        record.write_text(json.dumps({"settings": settings, "seconds": seconds}))
    return result, seconds


def before_ranking(dev: Corpus, cv: CrossValResult) -> tuple[np.ndarray, list[Issue]]:
    """The audit's ranking before issue 19, rebuilt from its parts: span issues and cleanlab's
    scores on the out-of-sample probabilities mixed with the training dynamics at 0.25; a
    sentence scores its lowest span-issue score, cleanlab's as a 1e-3 tie-break."""
    scored = with_dynamics(cv.pred_probs, cv.dynamics, 0.25)
    types, _, flagged = cleanlab_scores(dev, scored, cv.tags)
    issues = sorted(span_issues(dev, scored, cv.tags, flagged=flagged), key=lambda i: i.score)
    return sentence_quality(len(dev), issues, types), issues


def rankings(dev: Corpus, cv: CrossValResult) -> dict[str, tuple[np.ndarray, list[Issue]]]:
    """Name -> (sentence scores `(n_sentences,)`, lower = more suspicious; span issues, most
    suspicious first) for each ranking compared on the same cross-validation."""
    result = score(dev, cv.pred_probs, cv.tags, crossval=cv)
    before = before_ranking(dev, cv)
    spans_now = [i for i in result.issues if i.type in SPAN_TYPES]
    plain, _, _ = cleanlab_scores(dev, cv.pred_probs, cv.tags)
    iob, _, _ = cleanlab_scores(dev, cv.pred_probs, cv.tags, level="iob")
    return {
        "before (issue 18)": before,
        "nerqa": (np.asarray(result.sentence_scores), spans_now),
        "cleanlab, types": (np.asarray(plain), before[1]),
        "cleanlab, IOB tags": (np.asarray(iob), before[1]),
    }


def guideline_change(dev: Corpus, truth: list[tuple[str, ...]], fixes: dict) -> set[int]:
    """The corrected sentences whose every correction is a LOC span made ORG: CleanCoNLL's new
    guideline for a country or city standing for a team or government, which the original
    annotation applied nowhere (every "England" in train and dev is LOC), so no model trained
    on the corpus, nor its consistency, can see it."""
    out = set()
    for index, found in fixes.items():
        given = {(s.start, s.end): s.label for s in dev.sentences[index].spans}
        clean = {(s.start, s.end): s.label for s in spans_from_tags(truth[index])}
        if all(k == "type" and given.get((a, b)) == "LOC" and clean.get((a, b)) == "ORG" for a, b, k in found):
            out.add(index)
    return out


def sentence_figures(wrong: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC, precision at k (the number wrong), 5 % and 10 %, and recall at 5 %, of
    `scores` (lower = more suspicious) against `wrong` (1 = the sentence holds an error)."""
    order = np.argsort(scores, kind="stable")
    n = len(wrong)
    out = {"AUROC": roc_auc_score(wrong, -scores), "AUPRC": average_precision_score(wrong, -scores)}
    for name, k in (("P@k", int(wrong.sum())), ("P@5%", round(0.05 * n)), ("P@10%", round(0.10 * n))):
        out[name] = float(wrong[order[:k]].mean()) if k else 0.0
    out["R@5%"] = float(wrong[order[: round(0.05 * n)]].sum() / max(wrong.sum(), 1))
    return out


def measure(
    dev: Corpus, truth: list[tuple[str, ...]], fixes: dict, scores: np.ndarray, issues: list[Issue]
) -> dict[str, float]:
    """The figures of one ranking (see the module docstring)."""
    wrong = np.array([tuple(s.tags) != t for s, t in zip(dev.sentences, truth)], dtype=int)
    order = np.argsort(scores, kind="stable")
    n = len(dev)
    out = sentence_figures(wrong, scores)
    top10 = set(order[: round(0.10 * n)].tolist())
    top5 = set(order[: round(0.05 * n)].tolist())

    def hits(issue: Issue) -> list[tuple[int, int, str]]:
        return [c for c in fixes.get(issue.index, []) if issue.start < c[1] and c[0] < issue.end]

    for name, pool in (("all", issues), ("top10", [i for i in issues if i.index in top10])):
        found: Counter = Counter()
        for issue in pool:
            for c in hits(issue):
                found[(issue.index, c)] = 1
        for kind in ("missed", "ghost", "shift", "type"):
            total = sum(1 for cs in fixes.values() for c in cs if c[2] == kind)
            out[f"{kind} {name}"] = sum(1 for (_, c) in found if c[2] == kind) / max(total, 1)
    verdicts: list[tuple[bool, float | None]] = []
    for name, pool in (("all", issues), ("top5", [i for i in issues if i.index in top5])):
        right = flagged = 0
        for issue in pool:
            if not hits(issue):
                continue
            flagged += 1
            after = suggested_fix(dev.sentences[issue.index].spans, issue)
            lo = min([issue.start] + [c[0] for c in hits(issue)])
            hi = max([issue.end] + [c[1] for c in hits(issue)])
            inside = lambda spans: {(s.start, s.end, s.label) for s in spans if s.start < hi and lo < s.end}  # noqa: E731
            ok = inside(after) == inside(spans_from_tags(truth[issue.index]))
            right += ok
            if name == "all":
                verdicts.append((ok, issue.confidence))
        out[f"suggestion {name}"] = right / max(flagged, 1)
        out[f"flagged {name}"] = flagged
    sure = [(ok, c) for ok, c in verdicts if c is not None and c >= 0.9]
    out["suggestion sure"] = sum(ok for ok, _ in sure) / max(len(sure), 1)
    out["flagged sure"] = len(sure)
    return out


def report(name: str, figures: dict[str, float]) -> None:
    print(
        f"  {name:20} AUROC {figures['AUROC']:.3f}  AUPRC {figures['AUPRC']:.3f}  P@k {figures['P@k']:.3f}  "
        f"P@5% {figures['P@5%']:.3f}  P@10% {figures['P@10%']:.3f}  R@5% {figures['R@5%']:.3f}"
    )
    print(
        "  "
        + " " * 20
        + " span recall (all / top 10 %): "
        + ", ".join(
            f"{k} {figures[f'{k} all']:.2f}/{figures[f'{k} top10']:.2f}" for k in ("missed", "ghost", "shift", "type")
        )
    )
    print(
        "  "
        + " " * 20
        + f" suggestion accuracy: {figures['suggestion all']:.3f} of {figures['flagged all']} flagged errors, "
        f"{figures['suggestion top5']:.3f} of {figures['flagged top5']} in the top 5 %, "
        f"{figures['suggestion sure']:.3f} of {figures['flagged sure']} with confidence >= 0.9",
        flush=True,
    )


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=None, help="fold caches and timings (default: a temporary one)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=None, help="epochs per full-mode fold (default: the audit's)")
    parser.add_argument("--sentences", type=int, default=0, help="dev sentences (0: all)")
    parser.add_argument("--reference", action="store_true", help="also audit dev with CoNLL train as --reference")
    parser.add_argument("--alone", action="store_true", help="with --reference: skip dev audited alone")
    parser.add_argument(
        "--repeats", type=int, default=1, help="also dev audited as `audit --repeats N` does (N cross-validations)"
    )
    add_smoke(parser, sentences=60, folds=2, epochs=1, reference=True, repeats=2)
    args = parse(parser)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="nerqa-real-"))
    cache.mkdir(parents=True, exist_ok=True)
    from nerqa.models.runtime import quiet_transformers, set_threads

    quiet_transformers()
    print(f"torch threads: {set_threads()}")
    dev, truth, train = load(args.shared, args.sentences)
    fixes = corrections(dev, truth)
    wrong = sum(tuple(s.tags) != t for s, t in zip(dev.sentences, truth))
    kinds = Counter(c[2] for cs in fixes.values() for c in cs)
    guideline = guideline_change(dev, truth, fixes)
    wrong_at = np.array([tuple(s.tags) != t for s, t in zip(dev.sentences, truth)], dtype=int)
    print(
        f"CoNLL dev: {len(dev):,} sentences, {wrong} with a corrected label; corrections {dict(sorted(kinds.items()))}"
    )
    setups = [] if args.reference and args.alone else [("dev", None, 1)]
    if args.repeats > 1 and not args.alone:
        setups.append(("dev", None, args.repeats))
    if args.reference:
        setups.append(("dev-ref", train, 1))
    for setup, reference, repeats in setups:
        runs = [crossval(dev, args, cache, f"{setup}-{len(dev)}", reference, r) for r in range(repeats)]
        cv, seconds = mean_of([cv for cv, _ in runs]), sum(t for _, t in runs)
        f1 = score(dev, cv.pred_probs, cv.tags).summary["cv_metrics"]["micro"]["f1"]
        behind = f", CoNLL train ({len(reference):,} sentences) behind every fold" if reference else ""
        again = f", {repeats} repeats averaged" if repeats > 1 else ""
        print(f"\n{setup}{behind}{again}: cross-validation {seconds:.0f} s (uncached runs), CV F1 {f1:.3f}")
        started = time.perf_counter()
        ranked = rankings(dev, cv)
        print(f"  (all rankings scored in {time.perf_counter() - started:.1f} s)")
        for name, (scores, issues) in ranked.items():
            report(name, measure(dev, truth, fixes, scores, issues))
        rest = np.array([i not in guideline for i in range(len(dev))])
        print(
            f"  without the {len(guideline)} sentences whose only correction is LOC -> ORG "
            f"({int(rest.sum()):,} sentences, {sum(wrong_at[i] for i in np.flatnonzero(rest))} corrected):"
        )
        for name, (scores, _) in ranked.items():
            figures = sentence_figures(wrong_at[rest], scores[rest])
            print(f"  {name:20} AUROC {figures['AUROC']:.3f}  AUPRC {figures['AUPRC']:.3f}  P@5% {figures['P@5%']:.3f}")


if __name__ == "__main__":
    main()
