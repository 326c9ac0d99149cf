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

`--loop` adds the review loop, simulated (`run_loop`, the grid in `loop_arms`): on `crowd` and
`crowdbest`, no fixes, repair (`nerqa autofix`), 300 reviews + repair and the ceiling with three
seeds, 300 reviews alone and 1,000 reviews + repair with one; on `expert` and `clean.train`,
repair against no fixes. A reviewer who knows the clean labels works down the review queue
(`nerqa.review.simulate`, extending each decision to the linked mentions it checks), the
decisions go through nerqa's store and `apply_decisions`, and a model trained on each result is
scored on `clean.dev`. Every trained arm is cached by its corpus, seed and schedule
(`CACHE/loop`), so a run cut short resumes, and `--export-arms DIR` writes the untrained ones
for `bench/train_arms.py` on another machine. `--plot PNG` draws F1 against the reviews.

    python bench/real_noise.py [--sets conll-dev,expert,crowdbest,crowd] [--loop] [--loop-sets ...]
        [--loop-seeds 3] [--loop-epochs E] [--plot PNG] [--repeats N] [--reference] [--cache DIR] [--shared DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
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

from nerqa.auditing import AuditSettings, ScoringSettings, score, sentence_quality, with_dynamics
from nerqa.auditing.confident import cleanlab_scores
from nerqa.auditing.crossval import CrossValResult, mean_of
from nerqa.auditing.issues import SPAN_TYPES, Issue
from nerqa.auditing.noise import true_noise
from nerqa.auditing.pipeline import word_features
from nerqa.auditing.scoring import word_margins
from nerqa.config import TrainConfig, fold_config
from nerqa.data.corpus import Corpus
from nerqa.data.formats import read_corpus, write_corpus
from nerqa.review.apply import apply_decisions
from nerqa.review.decisions import DecisionStore
from nerqa.review.session import ReviewSession
from nerqa.review.simulate import review_order, review_with_truth

BASELINES = ("cleanlab, out-of-sample", "cleanlab, dynamics-mixed", "cleanlab, training-time", "margin alone")


def baselines(corpus: Corpus, cv: CrossValResult) -> dict[str, np.ndarray]:
    """Name -> sentence scores `(n_sentences,)`, lower = more suspicious."""
    out = {
        "cleanlab, out-of-sample": cleanlab_scores(corpus, cv.pred_probs, cv.tags)[0],
        "cleanlab, out-of-sample, IOB tags": cleanlab_scores(corpus, cv.pred_probs, cv.tags, level="iob")[0],
    }
    if cv.dynamics is not None:
        out["cleanlab, dynamics-mixed"] = cleanlab_scores(
            corpus, with_dynamics(cv.pred_probs, cv.dynamics, ScoringSettings().dynamics_weight), cv.tags
        )[0]
        training = with_dynamics(cv.pred_probs, cv.dynamics, 1.0)
        out["cleanlab, training-time"] = cleanlab_scores(corpus, training, cv.tags)[0]
        margins = word_margins(corpus, cv.dynamics, cv.tags)
        out["margin alone"] = np.array([m.min() if len(m) else 1.0 for m in margins])
    return {name: np.asarray(scores, dtype=float) for name, scores in out.items()}


def scoring_settings(spec: str) -> AuditSettings:
    """The audit's settings with `--scoring FIELD=VALUE,...` applied to its `ScoringSettings`
    (through `replace()`: how a weight is swept)."""
    settings = AuditSettings()
    changes = {}
    for item in filter(None, spec.split(",")):
        name, _, value = item.partition("=")
        default = getattr(settings.scoring, name, None)
        if default is None:
            raise SystemExit(f"--scoring: no scoring field {name!r}")
        changes[name] = type(default)(value)
    return settings.replace(scoring=settings.scoring.replace(**changes))


def rank(scores: np.ndarray) -> np.ndarray:
    """Each sentence's rank in [0, 1] by `scores` (0: most suspicious), ties at their mean rank."""
    from scipy.stats import rankdata

    return (rankdata(scores) - 1) / max(len(scores) - 1, 1)


def candidates(
    corpus: Corpus,
    cv: CrossValResult,
    base: dict[str, np.ndarray],
    features: list[np.ndarray] | None = None,
    settings: AuditSettings | None = None,
) -> dict[str, tuple[np.ndarray, list[Issue]]]:
    """Name -> (sentence scores, span issues most suspicious first) of each ranking of nerqa's:
    today's under `settings` (its `scoring`: `--scoring`), with the neighbour issues where
    `features` are given, and rank means of it with the baselines (ranks, so that no scale
    needs fitting)."""
    result = score(corpus, cv.pred_probs, cv.tags, crossval=cv, settings=settings)
    spans = [i for i in result.issues if i.type in SPAN_TYPES]
    today = np.asarray(result.sentence_scores)
    out = {"nerqa": (today, spans), "before (issue 19)": before_ranking(corpus, cv)}
    if features is not None:
        out["before (issue 29)"] = out["nerqa"]
        now = score(corpus, cv.pred_probs, cv.tags, crossval=cv, features=features, settings=settings)
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
        kinds["dynamics-mixed"] = with_dynamics(cv.pred_probs, cv.dynamics, ScoringSettings().dynamics_weight)
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
    ranked = candidates(corpus, cv, base, features, scoring_settings(args.scoring))
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

LOOP_SETS = ("crowd", "crowdbest", "expert", "clean")
LOOP_SEEDS = (42, 43, 44)


@dataclass(frozen=True)
class Arm:
    """One training corpus of the loop: `variant` as given, reviewed for `budget` issues (0: no
    review) in the review queue's order with linked extensions, then with `repair` (`nerqa
    autofix`: `auto` as it decides, `forced` past its noise gate), or the clean labels
    (`ceiling`); trained with `seed`."""

    variant: str
    budget: int = 0
    repair: str = ""
    seed: int = LOOP_SEEDS[0]
    ceiling: bool = False

    @property
    def label(self) -> str:
        if self.ceiling:
            return "clean.train (ceiling)"
        parts = [f"{self.budget:,} reviews"] if self.budget else []
        parts += {"auto": ["repair"], "forced": ["repair, forced"]}.get(self.repair, [])
        return " + ".join(parts) or "no fixes"


def loop_arms(variants: Sequence[str], seeds: Sequence[int] = LOOP_SEEDS) -> list[Arm]:
    """The grid, in the order it is worth having when a run stops early: on `crowd` and
    `crowdbest`, no fixes, repair, 300 reviews + repair and the ceiling, seed by seed; then,
    with one seed, 300 reviews alone and 1,000 reviews + repair there, and repair against no
    fixes on `expert` and on `clean.train` itself (a corpus without errors), repair forced past
    its noise gate on `expert`."""
    noisy = [v for v in variants if v in ("crowd", "crowdbest")]
    arms = []
    for seed in seeds:
        for variant in noisy:
            arms += [Arm(variant, seed=seed), Arm(variant, repair="auto", seed=seed), Arm(variant, 300, "auto", seed)]
            arms.append(Arm(variant, seed=seed, ceiling=True))
    for variant in noisy:
        arms += [Arm(variant, 300), Arm(variant, 1000, "auto")]
    if "expert" in variants:
        arms += [Arm("expert"), Arm("expert", repair="auto"), Arm("expert", repair="forced")]
    if "clean" in variants:
        arms += [Arm("clean"), Arm("clean", repair="auto")]
    return arms


def with_tags(corpus: Corpus, tags: Sequence[Sequence[str]]) -> Corpus:
    """`corpus` with each sentence's tags replaced, documents kept."""
    rows = iter(tags)
    documents = tuple(
        replace(d, sentences=tuple(replace(s, tags=tuple(next(rows))) for s in d.sentences)) for d in corpus.documents
    )
    return replace(corpus, documents=documents)


def errors(corpus: Corpus, truth: Sequence[Sequence[str]]) -> int:
    """The corrections that would make `corpus` read as `truth` (`realsets.corrections`)."""
    return sum(len(c) for c in corrections(corpus, list(truth)).values())


def reviewed_corpus(arm: Arm, result, truth: Sequence[Sequence[str]], scratch: Path) -> tuple[Corpus, dict]:
    """The arm's training corpus, made through nerqa's own session, decision store and
    `apply_decisions` (what `nerqa apply` writes), and what was done: the reviewer's actions,
    the errors (corrections) the reviews fixed, and the automatic fixes."""
    from nerqa.review.autofix import AUTOFIX_REVIEWER, plan_autofix, record_autofix

    corpus = result.corpus
    if arm.ceiling:
        return with_tags(corpus, truth), {}
    if not arm.budget and not arm.repair:
        return corpus, {}
    folder = scratch / f"{arm.variant}-{arm.budget}-{arm.repair}-{arm.seed}"
    folder.mkdir(parents=True)
    counts: dict = {}
    with DecisionStore.open(folder) as store:
        if arm.budget:
            session = ReviewSession(result, store, "simulated", order="reach")
            before = errors(corpus, truth)
            done = review_with_truth(session, truth, review_order(session, "nerqa"), arm.budget, linked=True)
            counts.update(done)
            reviewed = apply_decisions(corpus, store.effective()).corpus
            counts["errors fixed by reviews"] = before - errors(reviewed, truth)
        if arm.repair:
            robot = ReviewSession(result, store, AUTOFIX_REVIEWER)
            plan = plan_autofix(robot, force=arm.repair == "forced")
            counts["automatic fixes"] = len(record_autofix(robot, plan))
        corrected = apply_decisions(corpus, store.effective()).corpus
    return corrected, counts


def arm_key(corpus: Corpus, arm: Arm, epochs: float | None = None) -> str:
    """What a trained arm depends on: its corpus, its seed and the training schedule (defaults)."""
    schedule = TrainConfig(seed=arm.seed).with_options(epochs=epochs).cache_settings()
    return hashlib.sha256(
        json.dumps([corpus.fingerprint(), schedule], sort_keys=True, default=str).encode()
    ).hexdigest()[:16]


def loop_set(args, cache: Path, variant: str) -> tuple:
    """A variant's audit (`score` on the cached cross-validation, run first where the cache
    lacks it), the true tags, and the tag set every arm trains with."""
    corpus, truth = load_set(args.shared, variant, args.sentences)
    cv, _ = crossval(corpus, args, cache, f"{variant}-{len(corpus)}", None)
    result = score(corpus, cv.pred_probs, cv.tags, crossval=cv)
    tags = tuple(sorted(set(with_tags(corpus, truth).tag_set) | set(cv.tags), key=cv.tags.index))
    return result, truth, tags


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
    variants = [v for v in args.loop_sets.split(",") if v in LOOP_SETS]
    sets: dict[str, tuple] = {}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for arm in loop_arms(variants, LOOP_SEEDS[: args.loop_seeds]):
            if arm.variant not in sets:  # audited when first needed: a run cut short has the first arms
                sets[arm.variant] = loop_set(args, cache, arm.variant)
            result, truth, tags = sets[arm.variant]
            started = time.perf_counter()
            trained, counts = reviewed_corpus(arm, result, truth, Path(scratch))
            review_seconds = time.perf_counter() - started
            key = arm_key(trained, arm, args.loop_epochs)
            saved = store / f"{key}.json"
            row = {"arm": arm, "key": key, "counts": counts, "errors": errors(trained, truth)}
            row["review_seconds"] = review_seconds
            if saved.exists():
                row.update(json.loads(saved.read_text()))
            elif args.cached_only:
                pass  # reported as not trained
            elif export:
                if key not in {p["key"] for p in plan}:  # the ceiling is one corpus for every variant
                    write_corpus(trained, export / f"{key}.conll", "conll")
                    plan.append({"key": key, "corpus": f"{key}.conll", "seed": arm.seed, "arm": arm.label})
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
                scratch_file = saved.with_suffix(".part")
                scratch_file.write_text(json.dumps({"key": key, "label": arm.label, **figures}, indent=1))
                scratch_file.replace(saved)
                row.update(figures)
            rows.append(row)
            print(f"  {arm.variant} {arm.label}, seed {arm.seed}: " + _loop_cell(row), flush=True)
    if export:
        (export / "arms.json").write_text(
            json.dumps({"tags": list(tags), "epochs": args.loop_epochs, "arms": plan}, indent=1)
        )
        print(
            f"\n{len(plan)} arms to train: python bench/train_arms.py {export}; "
            f"then copy {export}/results/*.json to {store}"
        )
        return {}
    table = loop_table(rows)
    if args.plot:
        plot_loop(table, args.plot)
        print(f"\nWrote the plot to {args.plot}")
    return table


def _loop_cell(row: dict) -> str:
    done = ", ".join(f"{n} {a}" for a, n in sorted(row["counts"].items()))
    f1 = f"F1 {row['f1']:.4f}" if "f1" in row else "not trained"
    return f"{row['errors']:,} errors left" + (f" ({done})" if done else "") + f"; {f1}"


def _spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def loop_table(rows: list[dict]) -> dict:
    """Print the loop table: per variant and arm, F1 on clean.dev and the gap closed (the share of
    the way from no fixes to the ceiling, at the same seed), as mean ± standard deviation over the
    seeds trained (n), and what the reviews and repair did. Returns the same, with every seed."""
    trained = [r for r in rows if "f1" in r]
    none = {(r["arm"].variant, r["arm"].seed): r["f1"] for r in trained if r["arm"].label == "no fixes"}
    ceiling = {r["arm"].seed: r["f1"] for r in trained if r["arm"].ceiling}
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["arm"].variant, row["arm"].label), []).append(row)
    print("\nWhat fixing is worth: F1 on clean.dev (best epoch), gap closed = share of no fixes -> ceiling, same seed")
    out: dict = {}
    for (variant, label), members in groups.items():
        f1s = [m["f1"] for m in members if "f1" in m]
        gaps = []
        for m in members:
            low, high = none.get((variant, m["arm"].seed)), ceiling.get(m["arm"].seed)
            if "f1" in m and low is not None and high is not None and high > low and label != "no fixes":
                gaps.append((m["f1"] - low) / (high - low))
        counts = members[0]["counts"]
        reviews = sum(counts.get(action, 0) for action in ("accept", "keep", "edit", "skip"))  # the reviewer's own
        fixed = counts.get("errors fixed by reviews")
        per_error = reviews / fixed if reviews and fixed else None
        record = {
            "arm": label,
            "reviews": members[0]["arm"].budget,
            "decisions": reviews,
            "seeds": [m["arm"].seed for m in members if "f1" in m],
            "f1": f1s,
            "gap_closed": gaps,
            "errors_left": members[0]["errors"],
            "counts": counts,
            "decisions_per_error_fixed": per_error,
        }
        out.setdefault(variant, []).append(record)
        f1_mean, f1_sd = _spread(f1s) if f1s else (float("nan"), 0.0)
        gap = f"  gap closed {_spread(gaps)[0]:+.1%} ± {_spread(gaps)[1]:.1%}" if gaps else ""
        plain = [m["f1"] for m in groups.get((variant, "no fixes"), []) if "f1" in m]
        if f1s and len(plain) > 1 and label != "no fixes":
            # Apart from no fixes when the means differ by more than two of its standard deviations.
            record["apart_from_no_fixes"] = abs(f1_mean - _spread(plain)[0]) > 2 * _spread(plain)[1]
            gap += f" ({'apart from' if record['apart_from_no_fixes'] else 'within'} 2 SD of no fixes)"
        print(
            f"  {variant:9} {label:26} n={len(f1s)}  errors left {members[0]['errors']:>5,}  "
            + (f"F1 {f1_mean:.4f} ± {f1_sd:.4f}" if f1s else "F1 -")
            + gap
            + (f"  {per_error:.2f} decisions per error fixed" if per_error else "")
        )
    return out


def plot_loop(table: dict, path: Path) -> None:
    """F1 on clean.dev against the reviews made, per noisy variant: without and with repair, the
    ceiling as a line; each point the mean over its seeds, bars one standard deviation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = [v for v in ("crowd", "crowdbest") if v in table]
    figure, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 3.6), squeeze=False)
    for axis, variant in zip(axes[0], variants):
        arms = {a["arm"]: a for a in table[variant] if a["f1"]}
        for name, labels in (
            ("reviews alone", ("no fixes", "300 reviews")),
            ("reviews + repair", ("repair", "300 reviews + repair", "1,000 reviews + repair")),
        ):
            points = [arms[label] for label in labels if label in arms]
            if points:
                axis.errorbar(
                    [p["reviews"] for p in points],
                    [_spread(p["f1"])[0] for p in points],
                    yerr=[_spread(p["f1"])[1] for p in points],
                    marker="o",
                    capsize=3,
                    label=name,
                )
        if "clean.train (ceiling)" in arms:
            axis.axhline(_spread(arms["clean.train (ceiling)"]["f1"])[0], linestyle="--", color="grey", label="ceiling")
        axis.set_title(f"NoiseBench {variant}")
        axis.set_xlabel("reviews")
        axis.set_ylabel("F1 on clean.dev")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


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
    parser.add_argument(
        "--scoring",
        default="",
        help="FIELD=VALUE,... of nerqa.config.ScoringSettings for nerqa's ranking (e.g. model_weight=2)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--mode", default="both", help="the audit's fold mode to cross-validate with (default both)")
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
    parser.add_argument("--plot", type=Path, default=None, help="with --loop: draw F1 against reviews to this PNG")
    parser.add_argument(
        "--loop-sets", default=",".join(LOOP_SETS), help="with --loop: comma-separated: " + ", ".join(LOOP_SETS)
    )
    parser.add_argument("--loop-seeds", type=int, default=len(LOOP_SEEDS), help="with --loop: seeds per main arm")
    parser.add_argument(
        "--cached-only", action="store_true", help="with --loop: report the arms trained so far, train none"
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
        loop_seeds=1,
        loop_sets="crowdbest,expert",
        sets="conll-dev,crowdbest",
    )
    args = parse(parser)
    cache = args.cache if not args.smoke else args.cache.parent / "real_noise-smoke"
    cache.mkdir(parents=True, exist_ok=True)
    from nerqa.models.runtime import quiet_transformers, set_threads

    quiet_transformers()
    print(f"torch threads: {set_threads()}")
    results = {name: run_set(args, name, cache) for name in args.sets.split(",") if name}
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
