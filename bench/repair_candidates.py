"""Ways to repair what no one reviews, measured on every real set at once: how each candidate
changes the labels against the truth, and (with `--train`) what training on soft targets does.

Candidates that change labels (`nerqa autofix` took the best), scored without training by the
errors (span differences from the truth) they add or remove and the label F1 against the truth:
- token relabel: each word takes the fold models' tag where its probability is at least tau
  (out-of-sample, or mixed with the training dynamics);
- issue relabel: the suggestions of the audit's span issues at confidence >= tau, all types or
  a subset (what `nerqa autofix` does, with its noise gate on top).
The sets are the cross-validations `real_noise.py` and `noise_estimate.py` cache: CoNLL dev
(against CleanCoNLL), NoiseBench `expert`, `crowdbest` and `crowd` (against `clean.train`),
and NoiseBench `clean.dev`, a corpus without errors. Each set's noise estimate (lower bound) is
printed beside it: the gate `nerqa autofix` applies.

Then what one review decision fixes: a reviewer who knows the truth (`nerqa.review.simulate`)
makes 300 decisions down the queue in the audit's rank order deciding one issue at a time, and
in the review queue's default order (`reach`) extending each decision to the linked mentions it
checks; printed per set: the errors (corrections, `realsets.corrections`) fixed, and decisions
per error fixed.

Printed last, what `nerqa accept` without a filter is measured on: per issue type, of the
suggestions that would change something, the share that gives the truth's reading of the words
they touch, at any confidence and at >= 0.9, per set.

`--train VARIANT,...` also trains, per NoiseBench variant, a model on the labels as given and one
on soft targets (each word's target: half its tag, half the fold models' probabilities,
`nerqa.models.targets.mixed_targets`) and scores both on `clean.dev`.

    python bench/repair_candidates.py [--sets ...] [--train crowdbest,expert] [--train-epochs 3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from realsets import crossval, load_set

from nerqa.auditing import ScoringSettings, score, with_dynamics
from nerqa.auditing.issues import SPAN_TYPES
from nerqa.data.corpus import Corpus
from nerqa.data.formats import read_corpus
from nerqa.data.tags import spans_from_tags, tags_from_spans, to_iob2
from nerqa.review.spans import suggested_fix

SETS = ("conll-dev", "expert", "crowdbest", "crowd", "clean-dev")
SUBSETS = {"all span types": SPAN_TYPES, "missed + shift": ("missed_span", "span_shift")}


def label_figures(tags: list, truth: list) -> tuple[int, float]:
    """Span differences from the truth, and entity F1 of the labels against it."""
    tp = fp = fn = 0
    for given, true in zip(tags, truth):
        a, b = set(spans_from_tags(given)), set(spans_from_tags(true))
        tp, fp, fn = tp + len(a & b), fp + len(a - b), fn + len(b - a)
    return fp + fn, 2 * tp / max(2 * tp + fp + fn, 1)


def token_relabel(corpus: Corpus, probs, tags, tau: float) -> list:
    out = []
    for sentence, p in zip(corpus.sentences, probs):
        best, sure = p.argmax(1), p.max(1)
        new = [tags[b] if sure[i] >= tau else t for i, (b, t) in enumerate(zip(best, sentence.tags))]
        out.append(tuple(to_iob2(new, repair=True)))
    return out


def issue_relabel(corpus: Corpus, issues, tau: float, types) -> list:
    states = [tuple(s.spans) for s in corpus.sentences]
    for issue in issues:
        if issue.type in types and issue.confidence is not None and issue.confidence >= tau:
            states[issue.index] = suggested_fix(states[issue.index], issue)
    return [tuple(tags_from_spans(st, len(s))) for st, s in zip(states, corpus.sentences)]


def suggestion_right(corpus: Corpus, truth: list, issues) -> dict[str, list[tuple[float, bool]]]:
    """Per issue type, `(confidence, right)` of every suggestion that changes something: right
    when accepting it gives the truth's reading of the words it touches (`words_of`)."""
    from nerqa.review.simulate import words_of

    out: dict[str, list[tuple[float, bool]]] = {}
    for issue in issues:
        now = tuple(corpus.sentences[issue.index].spans)
        after = suggested_fix(now, issue)
        if set(after) == set(now):
            continue
        true = spans_from_tags(truth[issue.index])
        lo, hi = words_of(issue, now, after, true)
        inside = lambda spans: {s for s in spans if s.start < hi and lo < s.end}  # noqa: E731
        out.setdefault(issue.type, []).append((issue.confidence or 0.0, inside(after) == inside(true)))
    return out


def load(args, name: str):
    if name == "clean-dev":
        corpus = read_corpus(args.shared / "noisebench" / "clean.dev.txt", "conll")
        truth, setup = [tuple(s.tags) for s in corpus.sentences], "clean-dev"
    else:
        corpus, truth = load_set(args.shared, name, args.sentences)
        setup = f"{name}-{len(corpus)}"
    cv, _ = crossval(corpus, args, args.cache, setup, None)
    return corpus, truth, cv


def relabel_figures(args) -> dict:
    """Print the relabel candidates per set; returns each set's `suggestion_right`."""
    right = {}
    for name in args.sets.split(","):
        corpus, truth, cv = load(args, name)
        result = score(corpus, cv.pred_probs, cv.tags, crossval=cv)
        noise = result.summary["noise"]
        base, f1 = label_figures([s.tags for s in corpus.sentences], truth)
        print(
            f"\n{name}: {len(corpus):,} sentences, {base:,} span differences from the truth, label F1 {f1:.4f}; "
            f"noise estimate {noise['sentences']['estimate']:.1%}, lower bound {noise['sentences']['low']:.1%} "
            f"({noise['verdict']})"
        )
        kinds = {"out-of-sample": cv.pred_probs}
        if cv.dynamics is not None:
            kinds["dynamics-mixed"] = with_dynamics(cv.pred_probs, cv.dynamics, ScoringSettings().dynamics_weight)
        for kind, probs in kinds.items():
            for tau in (0.5, 0.7, 0.9, 0.98):
                errors, f1_after = label_figures(token_relabel(corpus, probs, cv.tags, tau), truth)
                print(f"  token relabel, {kind:15} tau {tau:4}: errors {errors - base:+6,}  F1 {f1_after - f1:+.4f}")
        for subset, types in SUBSETS.items():
            for tau in (0.6, 0.7, 0.8, 0.9):
                errors, f1_after = label_figures(issue_relabel(corpus, result.issues, tau, types), truth)
                print(f"  issue relabel, {subset:15} >= {tau:4}: errors {errors - base:+6,}  F1 {f1_after - f1:+.4f}")
        right[name] = suggestion_right(corpus, truth, result.issues)
    return right


def review_figures(args, budget: int = 300) -> None:
    """Errors fixed by `budget` simulated decisions per set: rank order one at a time, against
    reach order with linked extensions."""
    import tempfile

    from realsets import corrections

    from nerqa.review.apply import apply_decisions
    from nerqa.review.decisions import DecisionStore
    from nerqa.review.session import ReviewSession
    from nerqa.review.simulate import review_order, review_with_truth

    print(f"\nWhat {budget} review decisions fix (errors: corrections to reach the truth)")
    for name in args.sets.split(","):
        corpus, truth, cv = load(args, name)
        result = score(corpus, cv.pred_probs, cv.tags, crossval=cv)
        before = sum(len(c) for c in corrections(corpus, truth).values())
        cells = []
        for order, linked in (("score", False), ("reach", True)):
            with tempfile.TemporaryDirectory() as folder, DecisionStore.open(folder) as store:
                session = ReviewSession(result, store, "simulated", order=order)
                done = review_with_truth(session, truth, review_order(session, "nerqa"), budget, linked=linked)
                after = apply_decisions(corpus, store.effective()).corpus
            decisions = sum(done[a] for a in ("accept", "keep", "edit", "skip"))
            fixed = before - sum(len(c) for c in corrections(after, truth).values())
            per_error = f"{decisions / fixed:.2f} decisions per error" if fixed > 0 else "none fixed"
            cells.append(f"{order}{' + linked' if linked else ''}: {fixed:,} fixed ({per_error})")
        print(f"  {name:10} {before:>6,} errors; " + "; ".join(cells), flush=True)


def accept_figures(right: dict) -> None:
    """Per issue type and set: the share of suggestions right, at any confidence / at >= 0.9."""
    print("\nSuggestions right (accepting gives the truth's reading), per issue type: all / confidence >= 0.9")
    types = sorted({t for per_set in right.values() for t in per_set})
    print("  " + " " * 14 + "".join(f"{name:>26}" for name in right))
    for kind in types:
        cells = []
        for per_set in right.values():
            rows = per_set.get(kind, [])
            sure = [ok for c, ok in rows if c >= 0.9]
            share = lambda xs: f"{np.mean(xs):.2f} of {len(xs):,}" if xs else "-"  # noqa: E731
            cells.append(f"{share([ok for _, ok in rows])} / {share(sure)}")
        print(f"  {kind:14}" + "".join(f"{c:>26}" for c in cells))


def soft_figures(args) -> None:
    from nerqa.config import TrainConfig
    from nerqa.models.targets import mixed_targets
    from nerqa.models.training import TrainingExtras, train

    dev = read_corpus(args.shared / "noisebench" / "clean.dev.txt", "conll")
    epochs = args.train_epochs
    print(f"\nSoft targets (half the tag, half the fold models' probabilities), {epochs:g} epochs, seed 42:")
    for name in args.train.split(","):
        corpus, _, cv = load(args, name)
        tags = tuple(cv.tags)
        for label, targets in (
            ("tags as given", None),
            (
                "soft targets",
                [mixed_targets(tags, s.tags, p, cv.tags, 0.5) for s, p in zip(corpus.sentences, cv.pred_probs)],
            ),
        ):
            started = time.perf_counter()
            config = TrainConfig(epochs=epochs, seed=42, tensorboard=False)
            trained = train(corpus, config, dev=dev, tags=tags, extras=TrainingExtras(targets=targets))
            f1 = max(h["dev_f1"] for h in trained.history)
            print(
                f"  {name:10} {label:14} F1 on clean.dev {f1:.4f} ({time.perf_counter() - started:.0f} s)", flush=True
            )


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "nerqa-bench" / "real_noise")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=None, help="epochs per fold (default: the audit's)")
    parser.add_argument("--sentences", type=int, default=0, help="sentences per set (0: all)")
    parser.add_argument("--train", default="", help="NoiseBench variants to train with and without soft targets")
    parser.add_argument("--train-epochs", type=float, default=3.0, help="with --train: epochs per model")
    add_smoke(parser, sets="crowdbest", train="crowdbest", sentences=40, folds=2, epochs=1, train_epochs=1)
    args = parse(parser)
    if args.smoke:
        args.cache = args.cache.parent / "real_noise-smoke"
    from nerqa.models.runtime import quiet_transformers, set_threads

    quiet_transformers()
    set_threads()
    np.seterr(all="ignore")
    right = relabel_figures(args)
    review_figures(args)
    accept_figures(right)
    if args.train:
        soft_figures(args)


if __name__ == "__main__":
    main()
