"""The real-error sets of `bench/real_noise.py` and the figures it measures on each.

- `conll-dev`: CoNLL-2003 dev against CleanCoNLL's corrections. CleanCoNLL (Rücker & Akbik,
  2023) re-annotated CoNLL-2003; its dev tokens differ from the original release in a few
  places (a token split in three), so the two token streams are aligned with difflib and each
  dev token gets CleanCoNLL's label (`corrected_tags`).
- `expert`, `crowdbest`, `crowd`: NoiseBench's train split (4,879 sentences) as the original
  experts, the crowd at its best and the crowd's majority vote labelled it, against
  `clean.train` (the same tokens).

The test splits, CoNLL++ and NoiseBench's other variants are never read.
"""

from __future__ import annotations

import difflib
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from nerqa.auditing import AuditSettings, fold_config, sentence_quality, with_dynamics
from nerqa.auditing.confident import cleanlab_scores
from nerqa.auditing.crossval import CrossValResult, cross_validate_once
from nerqa.auditing.issues import Issue
from nerqa.auditing.spans import span_issues
from nerqa.data.corpus import Corpus, Document
from nerqa.data.formats import read_corpus
from nerqa.data.tags import spans_from_tags
from nerqa.review.spans import suggested_fix

SETS = ("conll-dev", "expert", "crowdbest", "crowd")


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


def load_conll(shared: Path, sentences: int = 0) -> tuple[Corpus, list[tuple[str, ...]], Corpus]:
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


def load_set(shared: Path, name: str, sentences: int = 0) -> tuple[Corpus, list[tuple[str, ...]]]:
    """The corpus as labelled and the true tags of each sentence; the first `sentences`' documents (0: all)."""
    if name == "conll-dev":
        dev, truth, _ = load_conll(shared, sentences)
        return dev, truth
    folder = shared / "noisebench"
    noisy = read_corpus(folder / f"{name}.train.txt", "conll")
    clean = read_corpus(folder / "clean.train.txt", "conll")
    if [s.tokens for s in noisy.sentences] != [s.tokens for s in clean.sentences]:
        raise SystemExit(f"{name}.train.txt and clean.train.txt hold different tokens")
    truth = [tuple(s.tags) for s in clean.sentences]
    if sentences:
        kept, n = [], 0
        for document in noisy.documents:
            if n >= sentences:
                break
            kept.append(document)
            n += len(document.sentences)
        noisy, truth = Corpus(tuple(kept), name=noisy.name), truth[:n]
    return noisy, truth


def crossval(
    dev: Corpus, args, cache: Path, setup: str, reference: Corpus | None, repeat: int = 0
) -> tuple[CrossValResult, float]:
    """The audit's cross-validation of `dev` (`args.mode`, default `both`, with dynamics; repeat r with seed
    42 + r, as `audit --repeats` has it), cached in `cache/SETUP[-seedR]`; returns it and the wall
    time of its uncached run (kept in `cache/SETUP[-seedR].json`)."""
    mode = getattr(args, "mode", "both")
    name = setup + (f"-seed{repeat}" if repeat else "") + ("" if mode == "both" else f"-{mode}")
    folder, record = cache / name, cache / f"{name}.json"
    settings = {"folds": args.folds, "epochs": args.epochs, "sentences": len(dev)}
    known = json.loads(record.read_text()) if record.is_file() else {}
    started = time.perf_counter()
    result = cross_validate_once(
        dev,
        AuditSettings(k=args.folds, mode=mode, training=fold_config(epochs=args.epochs, seed=42 + repeat)),
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
    scored = with_dynamics(cv.pred_probs, cv.dynamics, 0.25)  # issue 18's weight, as it was
    types, _, flagged = cleanlab_scores(dev, scored, cv.tags)
    issues = sorted(span_issues(dev, scored, cv.tags, flagged=flagged), key=lambda i: i.score)
    return sentence_quality(len(dev), issues, types), issues


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
    by_type: dict[str, list[bool]] = {}
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
                by_type.setdefault(issue.type, []).append(ok)
        out[f"suggestion {name}"] = right / max(flagged, 1)
        out[f"flagged {name}"] = flagged
    sure = [(ok, c) for ok, c in verdicts if c is not None and c >= 0.9]
    out["suggestion sure"] = sum(ok for ok, _ in sure) / max(len(sure), 1)
    out["flagged sure"] = len(sure)
    # Per issue type: of the issues that overlap a correction, the share whose suggestion is right.
    for kind, oks in sorted(by_type.items()):
        out[f"suggestion {kind}"] = sum(oks) / len(oks)
        out[f"flagged {kind}"] = len(oks)
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
    kinds = [
        k
        for k in ("wrong_tag", "missed_span", "ghost_span", "span_shift", "inconsistent", "sparse")
        if f"flagged {k}" in figures
    ]
    print(
        "  "
        + " " * 20
        + " suggestion accuracy by issue type: "
        + ", ".join(f"{k} {figures[f'suggestion {k}']:.3f} of {figures[f'flagged {k}']}" for k in kinds),
        flush=True,
    )
