"""Real annotators' errors, every set at once: how each ranking of the audit finds them, how
noisy the audit says each corpus is, and what fixing it is worth.

The sets (`realsets.py`), each a corpus as people labelled it and the truth for the same tokens:
`conll-dev` (CoNLL-2003 dev against CleanCoNLL), and NoiseBench's train split as `expert`,
`crowdbest` and `crowd` labelled it, against `clean.train`.

Each set is cross-validated once with the audit's defaults (`both`, with training dynamics) and
cached under `--cache` (the wall time of the first, uncached run kept beside it); every ranking
then re-scores the same cross-validation in seconds. Printed per set: the audit time and CV F1,
the audit's estimate of the share of sentences and entities in error beside the true share, then
per ranking:
- sentence AUROC, AUPRC, precision at k (k = the sentences in error), at 5 % and at 10 %;
- span recall by kind: of the true corrections (missed: a span the truth adds; ghost: one it
  removes; shift: other boundaries; type: other type), the share that a span issue overlaps,
  among all issues and among those of the top 10 % of sentences;
- suggestion accuracy: of the span issues that overlap a correction, the share whose
  suggestion, accepted as `nerqa accept` would, gives the true reading of those tokens.
The baselines are always there: cleanlab's sentence score on the out-of-sample probabilities,
on the dynamics-mixed ones (the audit's `cleanlab_score` column) and on the training-time ones,
and the area under the margin alone; `*` marks the best of them on that set. Beside them: the
audit's ranking before issue 28 and before issue 19, and a few candidates. On `conll-dev` the
sentence figures come again without the sentences whose only correction is CleanCoNLL's new
metonymy guideline (a LOC span made ORG), which the original annotation applies nowhere.
`--repeats N` adds conll-dev audited as `audit --repeats N` does; `--reference` adds it with
CoNLL train behind every fold.

`--loop` adds the review loop, simulated (`run_loop`): on `expert`, `crowdbest` and `crowd`, a
reviewer who knows the clean labels works down the review queue (`nerqa.review.simulate`), the
decisions go through nerqa's store and `apply_decisions`, and a model trained on each result is
scored on `clean.dev`. Every trained arm is cached by its corpus and seed (`CACHE/loop`), so a
run cut short resumes, and `--export-arms DIR` writes the untrained ones for
`bench/train_arms.py` on another machine.

    python bench/real_noise.py [--sets conll-dev,expert,crowdbest,crowd] [--loop] [--repeats N]
        [--reference] [--cache DIR] [--shared DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from realsets import (
    SETS,
    before_ranking,
    corrections,
    crossval,
    guideline_change,
    load_conll,
    load_set,
    measure,
    report,
    sentence_figures,
)

from nerqa.auditing import score, sentence_quality, with_dynamics
from nerqa.auditing.crossval import CrossValResult, mean_of
from nerqa.auditing.issues import SPAN_TYPES, Issue, cleanlab_scores, word_margins
from nerqa.auditing.noise import true_noise
from nerqa.auditing.run import word_features
from nerqa.config import TrainConfig, fold_config
from nerqa.data.corpus import Corpus
from nerqa.data.formats import read_corpus, write_corpus
from nerqa.review.apply import apply_decisions
from nerqa.review.decisions import DecisionStore
from nerqa.review.session import Filters, ReviewSession
from nerqa.review.simulate import review_order, review_with_truth

BASELINES = ("cleanlab, out-of-sample", "cleanlab, dynamics-mixed", "cleanlab, training-time", "margin alone")


def baselines(corpus: Corpus, cv: CrossValResult) -> dict[str, np.ndarray]:
    """Name -> sentence scores `(n_sentences,)`, lower = more suspicious."""
    out = {
        "cleanlab, out-of-sample": cleanlab_scores(corpus, cv.pred_probs, cv.tags)[0],
        "cleanlab, out-of-sample, IOB tags": cleanlab_scores(corpus, cv.pred_probs, cv.tags, level="iob")[0],
    }
    if cv.dynamics is not None:
        out["cleanlab, dynamics-mixed"] = cleanlab_scores(corpus, with_dynamics(cv.pred_probs, cv.dynamics), cv.tags)[0]
        training = with_dynamics(cv.pred_probs, cv.dynamics, 1.0)
        out["cleanlab, training-time"] = cleanlab_scores(corpus, training, cv.tags)[0]
        margins = word_margins(corpus, cv.dynamics, cv.tags)
        out["margin alone"] = np.array([m.min() if len(m) else 1.0 for m in margins])
    return {name: np.asarray(scores, dtype=float) for name, scores in out.items()}


def rank(scores: np.ndarray) -> np.ndarray:
    """Each sentence's rank in [0, 1] by `scores` (0: most suspicious), ties at their mean rank."""
    from scipy.stats import rankdata

    return (rankdata(scores) - 1) / max(len(scores) - 1, 1)


def candidates(
    corpus: Corpus, cv: CrossValResult, base: dict[str, np.ndarray], features: list[np.ndarray] | None = None
) -> dict[str, tuple[np.ndarray, list[Issue]]]:
    """Name -> (sentence scores, span issues most suspicious first) of each ranking of nerqa's:
    today's (with the neighbour issues where `features` are given), and rank means of it with
    the baselines (ranks, so that no scale needs fitting)."""
    result = score(corpus, cv.pred_probs, cv.tags, crossval=cv)
    spans = [i for i in result.issues if i.type in SPAN_TYPES]
    today = np.asarray(result.sentence_scores)
    out = {"nerqa": (today, spans), "before (issue 19)": before_ranking(corpus, cv)}
    if features is not None:
        out["before (issue 29)"] = out["nerqa"]
        now = score(corpus, cv.pred_probs, cv.tags, crossval=cv, features=features)
        out["nerqa"] = (np.asarray(now.sentence_scores), [i for i in now.issues if i.type in SPAN_TYPES])
    if "cleanlab, training-time" in base:
        # Issue 19's ranking (today's without cleanlab's training-time score): its margin cap,
        # cleanlab's dynamics-mixed score as a tie-break.
        before = sentence_quality(len(corpus), spans, base["cleanlab, dynamics-mixed"], base["margin alone"])
        out["before (issue 28)"] = (before, spans)
        training, margin = base["cleanlab, training-time"], base["margin alone"]
        out["ranks: nerqa + training-time"] = ((rank(today) + rank(training)) / 2, spans)
        out["ranks: nerqa + training + margin"] = ((rank(today) + rank(training) + rank(margin)) / 3, spans)
        out["ranks: nerqa + out-of-sample + training"] = (
            (rank(today) + rank(base["cleanlab, out-of-sample"]) + rank(training)) / 3,
            spans,
        )
        out["min rank: nerqa, training-time"] = (np.minimum(rank(today), rank(training)), spans)
    return out


def noise_variants(corpus: Corpus, cv: CrossValResult) -> dict[str, float]:
    """Other estimates of the share of sentences in error, beside the audit's, to choose from:
    confident learning on each kind of probabilities, and the expected share
    `mean(1 - prod(p(given type)))` of each."""
    from nerqa.data.probs import type_level

    kinds = {"out-of-sample": cv.pred_probs}
    if cv.dynamics is not None:
        kinds["dynamics-mixed"] = with_dynamics(cv.pred_probs, cv.dynamics)
        kinds["training-time"] = with_dynamics(cv.pred_probs, cv.dynamics, 1.0)
    out = {}
    for name, probs in kinds.items():
        _, _, flagged = cleanlab_scores(corpus, probs, cv.tags)
        out[f"confident learning, {name}"] = len({i for i, _ in flagged}) / len(corpus)
        _, ids, typed = type_level(cv.tags, probs, [s.tags for s in corpus.sentences])
        right = [p[np.arange(len(i)), i] for p, i in zip(typed, ids)]
        out[f"expected, {name}"] = float(np.mean([1 - np.prod(r) for r in right]))
    return out


def _share(values: dict) -> str:
    return f"{values['estimate']:.1%} ({values['low']:.1%}-{values['high']:.1%})"


def run_set(args, name: str, cache: Path, *, reference: Corpus | None = None, repeats: int = 1) -> dict:
    """Every figure of one set (with `reference` behind every fold, or `repeats` cross-validations
    averaged, for the conll-dev setups of `--reference` and `--repeats`)."""
    corpus, truth = load_set(args.shared, name, args.sentences)
    fixes = corrections(corpus, truth)
    wrong = np.array([tuple(s.tags) != t for s, t in zip(corpus.sentences, truth)], dtype=int)
    setup = f"{name}{'-ref' if reference is not None else ''}-{len(corpus)}"
    runs = [crossval(corpus, args, cache, setup, reference, r) for r in range(repeats)]
    cv, seconds = (runs[0][0] if repeats == 1 else mean_of([c for c, _ in runs])), sum(t for _, t in runs)
    result = score(corpus, cv.pred_probs, cv.tags, crossval=cv)  # as the audit scores it
    f1 = result.summary["cv_metrics"]["micro"]["f1"]
    estimated, true = result.summary["noise"], true_noise(corpus, truth)
    behind = f", {len(reference):,} sentences of CoNLL train behind every fold" if reference is not None else ""
    again = f", {repeats} cross-validations averaged" if repeats > 1 else ""
    print(
        f"\n{name}{behind}{again}: {len(corpus):,} sentences, {int(wrong.sum()):,} hold an error ({wrong.mean():.1%}); "
        f"cross-validation {seconds:.0f} s (uncached runs), CV F1 {f1:.3f}",
        flush=True,
    )
    print(
        f"  noise: estimated {_share(estimated['sentences'])} of sentences (true {true['sentences']:.1%}), "
        f"{_share(estimated['entities'])} of entities (true {true['entities']:.1%}); per type, estimated / true: "
        + ", ".join(
            f"{t} {v['estimate']:.1%} / {true['per_type'].get(t, 0.0):.1%}" for t, v in estimated["per_type"].items()
        )
    )
    for label, estimate in noise_variants(corpus, cv).items():
        print(f"    {label:44} {estimate:.1%} of sentences")
    features = None if args.no_neighbours else word_features(corpus, fold_config())
    repeated = repeated_figures(corpus, truth, fixes, cv, features, name) if features is not None else {}
    started = time.perf_counter()
    base = baselines(corpus, cv)
    ranked = candidates(corpus, cv, base, features)
    issues = next(iter(ranked.values()))[1]
    figures = {n: measure(corpus, truth, fixes, s, i) for n, (s, i) in ranked.items()}
    for baseline, scores in base.items():
        figures[baseline] = measure(corpus, truth, fixes, scores, issues)
    present = [b for b in BASELINES if b in figures]
    best = max(present, key=lambda b: figures[b]["AUPRC"])
    print(f"  (every ranking scored in {time.perf_counter() - started:.1f} s)")
    for ranking, values in figures.items():
        report(ranking + (" *" if ranking == best else ""), values)
    nerqa = figures["nerqa"]
    print(
        f"  nerqa against the best baseline ({best}): AUPRC {nerqa['AUPRC'] - figures[best]['AUPRC']:+.3f}, "
        f"P@5% {nerqa['P@5%'] - figures[best]['P@5%']:+.3f}"
    )
    if name == "conll-dev":
        guideline = guideline_change(corpus, truth, fixes)
        rest = np.array([i not in guideline for i in range(len(corpus))])
        print(
            f"  without the {len(guideline)} sentences whose only correction is LOC -> ORG "
            f"({int(rest.sum()):,} sentences, {int(wrong[rest].sum())} in error):"
        )
        scores = {**{n: s for n, (s, _) in ranked.items()}, **base}
        for ranking in ("nerqa", best):
            values = sentence_figures(wrong[rest], np.asarray(scores[ranking])[rest])
            print(f"  {ranking:20} AUROC {values['AUROC']:.3f}  AUPRC {values['AUPRC']:.3f}  P@5% {values['P@5%']:.3f}")
    return {
        "sentences": len(corpus),
        "wrong": int(wrong.sum()),
        "seconds": seconds,
        "cv_f1": f1,
        "best_baseline": best,
        "noise": {"estimated": estimated, "true": true},
        "figures": {k: {m: float(v) for m, v in f.items()} for k, f in figures.items()},
        "repeated": repeated,
    }


def touched(issues: Sequence[Issue], fixes: dict, kind: str = "type") -> float:
    """The share of the corrections of `kind` that one of `issues` overlaps."""
    wanted = {(i, c) for i, cs in fixes.items() for c in cs if c[2] == kind}
    hit = {
        (x.index, c) for x in issues for c in fixes.get(x.index, []) if c[2] == kind and x.start < c[1] and c[0] < x.end
    }
    return len(hit) / max(len(wanted), 1)


def question_cover(questions, corpus: Corpus, truth, guideline: set[int], top: int = 20) -> tuple[int, int]:
    """Of the `guideline` sentences (whose only correction is LOC -> ORG), how many hold a
    mention of one of the `top` questions that the truth makes ORG; and how many of those
    questions suggest ORG themselves."""
    covered, suggesting = set(), set()
    for question in questions[:top]:
        for index, start, end, _ in question.mentions:
            if index in guideline and truth[index][start] == "B-ORG":
                covered.add(index)
                if question.suggested == "ORG":
                    suggesting.add(index)
    return len(covered), len(suggesting)


def repeated_figures(corpus: Corpus, truth, fixes: dict, cv: CrossValResult, features, name: str) -> dict:
    """Issue 29's figures on one set: the share of type corrections that the top N issues touch
    (N: the audit's issue count without neighbours), before and with the neighbour issues; how
    many the neighbour issues alone touch; the guideline questions' cover of the LOC -> ORG
    sentences, and on conll-dev the top 20 questions themselves."""
    before = score(corpus, cv.pred_probs, cv.tags, crossval=cv)
    now = score(corpus, cv.pred_probs, cv.tags, crossval=cv, features=features)
    n = len(before.issues)
    neighbours = [i for i in now.issues if "neighbours" in i.evidence]
    guideline = guideline_change(corpus, truth, fixes)
    covered, suggesting = question_cover(now.questions, corpus, truth, guideline)
    out = {
        "issues": n,
        "neighbour issues": len(neighbours),
        "type touched, top N, before": touched(before.issues, fixes),
        "type touched, top N, now": touched(now.issues[:n], fixes),
        "type touched, all, now": touched(now.issues, fixes),
        "type touched by neighbour issues": touched(neighbours, fixes),
        "guideline sentences": len(guideline),
        "questions": len(now.questions),
        "guideline sentences covered by the top 20 questions": covered,
        "... by those suggesting ORG": suggesting,
        "neighbour seconds": now.summary["timings"]["neighbour_seconds"],
    }
    print(
        f"  repeated errors: {len(neighbours)} neighbour issues ({out['neighbour seconds']:.1f} s); type corrections "
        f"touched by the top {n:,} issues {out['type touched, top N, before']:.1%} before, "
        f"{out['type touched, top N, now']:.1%} now ({out['type touched by neighbour issues']:.1%} by neighbour "
        f"issues alone); {len(now.questions)} questions, the top 20 cover {covered} of the {len(guideline)} "
        f"LOC -> ORG sentences ({suggesting} with ORG suggested)"
    )
    if name == "conll-dev":
        for question in now.questions[:20]:
            print(f"    {question.id:4} {question.describe()}")
    return out


# --- what fixing is worth: the review loop, simulated -----------------------------------------

LOOP_SETS = ("expert", "crowdbest", "crowd")
BUDGETS = (100, 300, 1000)
LOOP_SEEDS = (42, 43)


@dataclass(frozen=True)
class Arm:
    """One training corpus of the loop: `variant` as given (`none`), reviewed in `order` for
    `budget` issues (`nerqa`, `cleanlab`, `random`), bulk-accepted at confidence 0.9 (`bulk`), or
    the clean labels (`ceiling`); trained with `seed`."""

    variant: str
    order: str
    budget: int = 0
    seed: int = LOOP_SEEDS[0]

    @property
    def label(self) -> str:
        name = {"none": "no fixes", "ceiling": "clean.train (ceiling)", "bulk": "bulk accept >= 0.9"}.get(self.order)
        return name or f"{self.order} order, {self.budget:,} reviews"


def loop_arms(variants: Sequence[str]) -> list[Arm]:
    """Every arm on `crowdbest`, with a second seed at 300 reviews (and for no fixes and the
    ceiling, which the gap closed is measured between); on the others, nerqa's order at 300 and
    1,000 reviews, no fixes and the ceiling."""
    arms = []
    for variant in variants:
        arms += [Arm(variant, "none"), Arm(variant, "ceiling")]
        if variant == "crowdbest":
            # 300 reviews first, then bulk accept, 1,000 and 100: a run cut short has the middle budget
            for budget in (300, None, 1000, 100):
                arms += (
                    [Arm(variant, o, budget) for o in ("nerqa", "cleanlab", "random")]
                    if budget
                    else [Arm(variant, "bulk")]
                )
            second = LOOP_SEEDS[1]
            arms += [Arm(variant, "none", seed=second), Arm(variant, "ceiling", seed=second)]
            arms += [Arm(variant, o, 300, second) for o in ("nerqa", "cleanlab", "random")]
        else:
            arms += [Arm(variant, "nerqa", b) for b in BUDGETS[1:]]
    return arms


def with_tags(corpus: Corpus, tags: Sequence[Sequence[str]]) -> Corpus:
    """`corpus` with each sentence's tags replaced, documents kept."""
    rows = iter(tags)
    documents = tuple(
        replace(d, sentences=tuple(replace(s, tags=tuple(next(rows))) for s in d.sentences)) for d in corpus.documents
    )
    return replace(corpus, documents=documents)


def reviewed_corpus(arm: Arm, result, truth: Sequence[Sequence[str]], scratch: Path) -> tuple[Corpus, dict]:
    """The arm's training corpus, reviewed through nerqa's own session, decision store and
    `apply_decisions` (what `nerqa apply` writes), and what the review did."""
    corpus = result.corpus
    if arm.order == "none":
        return corpus, {}
    if arm.order == "ceiling":
        return with_tags(corpus, truth), {}
    folder = scratch / f"{arm.variant}-{arm.order}-{arm.budget}-{arm.seed}"
    folder.mkdir(parents=True)
    with DecisionStore.open(folder) as store:
        session = ReviewSession(result, store, "simulated")
        if arm.order == "bulk":
            counts = Counter(d.action for d in session.bulk_accept(Filters(min_confidence=0.9)))
        else:
            issues = review_order(session, arm.order, seed=arm.seed)
            counts = review_with_truth(session, truth, issues, arm.budget)
        corrected = apply_decisions(corpus, store.effective()).corpus
    return corrected, dict(counts)


def arm_key(corpus: Corpus, arm: Arm, epochs: float | None = None) -> str:
    """What a trained arm depends on: its corpus, its seed and the training schedule (defaults)."""
    schedule = TrainConfig(seed=arm.seed).replace(epochs=epochs).cache_settings()
    return hashlib.sha256(
        json.dumps([corpus.fingerprint(), schedule], sort_keys=True, default=str).encode()
    ).hexdigest()[:16]


def run_loop(args, cache: Path) -> dict:
    """Build every arm's corpus, train those the cache lacks (or export them with
    `--export-arms`), and print F1 on `clean.dev` and the share of the noisy-to-clean gap each
    arm closes (against no fixes and the ceiling of the same seed)."""
    from train_arms import train_arm

    store = cache / "loop"
    store.mkdir(parents=True, exist_ok=True)
    dev = read_corpus(args.shared / "noisebench" / "clean.dev.txt", "conll")
    export, plan = args.export_arms, []
    if export:
        export.mkdir(parents=True, exist_ok=True)
        write_corpus(dev, export / "dev.conll", "conll")
    rows, variants = [], [v for v in args.sets.split(",") if v in LOOP_SETS]
    with tempfile.TemporaryDirectory() as scratch:
        for variant in variants:
            corpus, truth = load_set(args.shared, variant, args.sentences)
            cv, _ = crossval(corpus, args, cache, f"{variant}-{len(corpus)}", None)
            result = score(corpus, cv.pred_probs, cv.tags, crossval=cv)
            tags = tuple(sorted(set(with_tags(corpus, truth).tag_set) | set(cv.tags), key=cv.tags.index))
            for arm in loop_arms([variant]):
                started = time.perf_counter()
                trained, counts = reviewed_corpus(arm, result, truth, Path(scratch))
                review_seconds = time.perf_counter() - started
                wrong = sum(tuple(s.tags) != tuple(t) for s, t in zip(trained.sentences, truth))
                key = arm_key(trained, arm, args.loop_epochs)
                saved = store / f"{key}.json"
                row = {"arm": arm, "key": key, "counts": counts, "wrong": wrong, "review_seconds": review_seconds}
                if saved.exists():
                    row.update(json.loads(saved.read_text()))
                elif export and key not in {p["key"] for p in plan}:  # the ceiling is one corpus for every variant
                    write_corpus(trained, export / f"{key}.conll", "conll")
                    plan.append(
                        {"key": key, "corpus": f"{key}.conll", "seed": arm.seed, "arm": f"{variant}, {arm.label}"}
                    )
                else:
                    with tempfile.TemporaryDirectory() as folder:
                        write_corpus(trained, Path(folder) / "train.conll", "conll")
                        write_corpus(dev, Path(folder) / "dev.conll", "conll")
                        figures = train_arm(
                            Path(folder) / "train.conll",
                            Path(folder) / "dev.conll",
                            arm.seed,
                            tags,
                            epochs=args.loop_epochs,
                        )
                    saved.write_text(json.dumps({"key": key, "label": arm.label, **figures}, indent=1))
                    row.update(figures)
                rows.append(row)
                print(f"  {variant} {arm.label}, seed {arm.seed}: " + _loop_cell(row), flush=True)
            if export:
                (export / "arms.json").write_text(
                    json.dumps({"tags": list(tags), "epochs": args.loop_epochs, "arms": plan}, indent=1)
                )
    if export:
        print(
            f"\n{len(plan)} arms to train: python bench/train_arms.py {export}; "
            f"then copy {export}/results/*.json to {store}"
        )
        return {}
    return loop_table(rows)


def _loop_cell(row: dict) -> str:
    done = ", ".join(f"{n} {a}" for a, n in sorted(row["counts"].items()))
    f1 = f"F1 {row['f1']:.4f}" if "f1" in row else "not trained"
    return f"{row['wrong']:,} sentences in error after" + (f" ({done})" if done else "") + f"; {f1}"


def loop_table(rows: list[dict]) -> dict:
    """Print the loop table: F1 on clean.dev and the gap closed, per variant, arm and seed."""
    print(
        "\nWhat fixing is worth: F1 on clean.dev (best epoch), the share of the gap from no fixes to the ceiling closed"
    )
    out: dict = {}
    ends = {(r["arm"].variant, r["arm"].order, r["arm"].seed): r.get("f1") for r in rows if r["arm"].budget == 0}
    for row in rows:
        arm = row["arm"]
        low, high = ends.get((arm.variant, "none", arm.seed)), ends.get((arm.variant, "ceiling", arm.seed))
        gap = (row["f1"] - low) / (high - low) if "f1" in row and low is not None and high and high > low else None
        print(
            f"  {arm.variant:10} {arm.label:28} seed {arm.seed}  errors left {row['wrong']:>5,}  "
            + (f"F1 {row['f1']:.4f}" if "f1" in row else "F1 -     ")
            + (f"  gap closed {gap:+.1%}" if gap is not None and arm.order not in ("none", "ceiling") else "")
        )
        out.setdefault(arm.variant, []).append(
            {"arm": arm.label, "seed": arm.seed, "counts": row["counts"], "errors_left": row["wrong"],
             "f1": row.get("f1"), "gap_closed": gap, "seconds": row.get("seconds"), "device": row.get("device")}
        )  # fmt: skip
    return out


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "nerqa-bench" / "real_noise",
        help="fold caches and timings (default: ~/.cache/nerqa-bench/real_noise)",
    )
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=None, help="epochs per full-mode fold (default: the audit's)")
    parser.add_argument("--sentences", type=int, default=0, help="sentences per set (0: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="also conll-dev as `audit --repeats N` audits it (N cross-validations)",
    )
    parser.add_argument("--reference", action="store_true", help="also conll-dev with CoNLL train as --reference")
    parser.add_argument(
        "--no-neighbours", action="store_true", help="leave out the neighbour issues and questions (issue 29)"
    )
    parser.add_argument(
        "--loop", action="store_true", help="also the simulated review loop on expert, crowdbest and crowd"
    )
    parser.add_argument(
        "--loop-epochs", type=float, default=None, help="with --loop: epochs per arm (default: nerqa train's)"
    )
    parser.add_argument(
        "--export-arms", type=Path, default=None, help="with --loop: write untrained arms here for train_arms.py"
    )
    add_smoke(
        parser,
        sentences=40,
        folds=2,
        epochs=1,
        reference=True,
        repeats=2,
        loop=True,
        loop_epochs=1,
        sets="conll-dev,crowdbest",
    )
    args = parse(parser)
    cache = args.cache if not args.smoke else args.cache.parent / "real_noise-smoke"
    cache.mkdir(parents=True, exist_ok=True)
    from nerqa.models.runtime import quiet_transformers, set_threads

    quiet_transformers()
    print(f"torch threads: {set_threads()}")
    results = {name: run_set(args, name, cache) for name in args.sets.split(",")}
    if "conll-dev" in results and args.repeats > 1:
        results[f"conll-dev x{args.repeats}"] = run_set(args, "conll-dev", cache, repeats=args.repeats)
    if "conll-dev" in results and args.reference:
        _, _, train = load_conll(args.shared, args.sentences)
        results["conll-dev + train"] = run_set(args, "conll-dev", cache, reference=train)
    print("\nSummary (AUPRC / P@5%):")
    names = sorted({r for result in results.values() for r in result["figures"]})
    print("  " + " " * 42 + "".join(f"{s:>18}" for s in results))
    for ranking in names:
        cells = []
        for result in results.values():
            f = result["figures"].get(ranking)
            cells.append(f"{f['AUPRC']:.3f} / {f['P@5%']:.2f}" if f else "-")
        print(f"  {ranking:42}" + "".join(f"{c:>18}" for c in cells))
    if args.loop:
        results["loop"] = run_loop(args, cache)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
