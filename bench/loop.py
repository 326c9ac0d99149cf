"""The whole review loop, measured: inject errors, audit, review, apply, retrain, evaluate.

NCBI disease (PubTator, four categories) train gets span errors at 5 % of its entities, as
bench/noise.py injects them (wrong_tag, missed_span, ghost_span, span_shift; one per
sentence). The noisy corpus is audited; then two ways of acting on the audit are compared:

- a simulated reviewer looks at the top N issues (N = 2 x the injected errors), most
  suspicious first, and accepts a suggestion only where it makes the sentence read as the
  clean corpus does there; otherwise keeps the label;
- the same reviewer filtering the queue to actionable issue types (`nerqa relabel --type`
  with every type but the `sparse` notes, whose suggestion is to look, not to change);
- blind bulk acceptance: every suggestion among the same top N is accepted, no reviewer.

Each set of decisions is stored and applied as `nerqa relabel` / `nerqa apply` do. Printed:
injected errors found (an issue in the top N overlaps them) and fixed (the sentence reads as
the clean one again), labels wrongly changed (span disagreements with the clean corpus that
the noisy corpus did not have), review effort (issues looked at per error fixed), and the
test F1 (NCBI test) of models trained with one fixed setting on the clean, noisy and both
corrected corpora, with the share of the F1 lost to noise that each correction recovers.

    python bench/loop.py [--sentences N] [--mode both|full|fast] [--epochs 4] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from noise import inject, subset  # noqa: E402

from nerqa.auditing import AuditSettings, audit, write_outputs  # noqa: E402
from nerqa.auditing.issues import ISSUE_TYPES  # noqa: E402
from nerqa.config import TrainConfig  # noqa: E402
from nerqa.data.corpus import Corpus  # noqa: E402
from nerqa.data.formats import read_corpus  # noqa: E402
from nerqa.models.predict import evaluate  # noqa: E402
from nerqa.models.runtime import quiet_transformers  # noqa: E402
from nerqa.models.training import train  # noqa: E402
from nerqa.review.apply import apply_decisions  # noqa: E402
from nerqa.review.decisions import DecisionStore  # noqa: E402
from nerqa.review.session import Filters, ReviewSession  # noqa: E402
from nerqa.review.spans import change_of  # noqa: E402

quiet_transformers()  # the library never prints; neither should transformers' load reports here


def reads_as_clean(current, proposed, clean) -> bool:
    """Does the proposed change make the changed window read exactly as the clean corpus?"""
    change = change_of(current, proposed)
    if change is None:
        return False
    clean_window = change_of(current, clean)
    inside = tuple(
        sorted(
            (s.start - change.lo, s.end - change.lo, s.label)
            for s in clean
            if change.lo <= s.start and s.end <= change.hi
        )
    )
    crossing = any(
        s.start < change.hi and change.lo < s.end and (s.start < change.lo or s.end > change.hi) for s in clean
    )
    return (
        clean_window is not None and not crossing and inside == tuple((s.start, s.end, s.label) for s in change.after)
    )


def review(
    result, folder: Path, clean: Corpus, n: int, *, blind: bool, types: frozenset[str] = frozenset()
) -> tuple[ReviewSession, int]:
    """Decide on the top `n` issues (of `types`, as `nerqa relabel --type` filters them; empty:
    all); returns the session and the number of issues looked at."""
    session = ReviewSession(
        result, DecisionStore.open(folder), "blind-bulk" if blind else "simulated-reviewer", filters=Filters(types)
    )
    looked = 0
    for issue in session.issues[:n]:
        if session.status(issue) is not None:
            continue  # settled by an earlier decision on the same sentence
        looked += 1
        proposed = session.suggestion(issue)
        current = session.spans(issue.index)
        if proposed == current:
            session.decide(issue, "keep")
        elif blind or reads_as_clean(current, proposed, tuple(clean.sentences[issue.index].spans)):
            session.decide(issue, "accept")
        else:
            session.decide(issue, "keep")
    return session, looked


def disagreements(a: Corpus, b: Corpus) -> list[set]:
    return [set(x.spans) ^ set(y.spans) for x, y in zip(a.sentences, b.sentences)]


def outcome(clean: Corpus, noisy: Corpus, corrected: Corpus, injected: dict, top: list) -> dict:
    found = {
        i
        for i in injected
        if any(t.index == i and any(t.start < e and s < t.end for s, e, _ in injected[i]) for t in top)
    }
    fixed = {i for i in injected if set(corrected.sentences[i].spans) == set(clean.sentences[i].spans)}
    before, after = disagreements(noisy, clean), disagreements(corrected, clean)
    wrong = sum(len(a - b) for a, b in zip(after, before))
    return {"injected": len(injected), "found": len(found), "fixed": len(fixed), "labels_wrongly_changed": wrong}


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument(
        "--sentences", type=int, default=0, help="first documents holding this many sentences (0: all of train)"
    )
    parser.add_argument("--mode", default="both", choices=["both", "full", "fast"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=4, help="epochs of the clean/noisy/corrected models")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cache", type=Path, default=None, help="keep audit folds here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument(
        "--skip-training", action="store_true", help="review figures only: no clean/noisy/corrected models"
    )
    add_smoke(parser, sentences=60, folds=2, epochs=1, mode="fast")
    args = parse(parser)

    ncbi = args.shared / "ncbi_disease" / "pubtator"
    clean = read_corpus(ncbi / "NCBItrainset_corpus.txt")
    if args.sentences:
        clean = subset(clean, args.sentences)
    test = read_corpus(ncbi / "NCBItestset_corpus.txt")
    noisy, injected = inject(clean, 0.05, args.seed)
    n = 2 * len(injected)
    print(
        f"NCBI train: {len(clean):,} sentences, {sum(clean.entity_counts().values()):,} entities; injected "
        f"{len(injected)} errors; reviewing the top {n} issues",
        flush=True,
    )
    figures: dict = {"sentences": len(clean), "injected": len(injected), "top_n": n, "mode": args.mode}
    with tempfile.TemporaryDirectory(prefix="nerqa-loop-") as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        settings = AuditSettings(k=args.folds, mode=args.mode)
        result = audit(noisy, settings, cache_dir=args.cache or folder / "cache")
        write_outputs(result, folder / "audit")
        figures["audit_seconds"] = round(time.perf_counter() - started, 1)
        print(
            f"audit ({args.mode}): {figures['audit_seconds']:,} s, {len(result.issues):,} issues, CV F1 "
            f"{result.summary['cv_metrics']['micro']['f1']:.3f}",
            flush=True,
        )
        corrected = {}
        actionable = frozenset(t for t in ISSUE_TYPES if t != "sparse")
        for name, blind, types in (
            ("reviewer", False, frozenset()),
            ("reviewer, actionable types", False, actionable),
            ("bulk", True, frozenset()),
        ):
            audit_dir = folder / f"audit-{len(corrected)}"
            write_outputs(result, audit_dir)
            session, looked = review(result, audit_dir, clean, n, blind=blind, types=types)
            applied = apply_decisions(noisy, session.store.effective())
            corrected[name] = applied.corpus
            figures[name] = {
                **outcome(clean, noisy, applied.corpus, injected, session.issues[:n]),
                "looked_at": looked,
                "conflicts": len(applied.conflicts),
                "spans": applied.summary()["total"],
            }
            row = figures[name]
            effort = row["looked_at"] / row["fixed"] if row["fixed"] else float("inf")
            row["issues_per_fix"] = round(effort, 2)
            print(
                f"{name}: looked at {looked}, found {row['found']}/{len(injected)} "
                f"({row['found'] / len(injected):.0%}), "
                f"fixed {row['fixed']}/{len(injected)} ({row['fixed'] / len(injected):.0%}), labels wrongly "
                f"changed {row['labels_wrongly_changed']}, "
                f"{effort:.2f} issues looked at per error fixed",
                flush=True,
            )
        if args.skip_training:
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2))
            return
        config = TrainConfig(epochs=args.epochs, seed=42, early_stopping_patience=None, tensorboard=False)
        f1 = {}
        for name, corpus in (("clean", clean), ("noisy", noisy), *corrected.items()):
            started = time.perf_counter()
            model = train(corpus, config, tags=clean.tag_set).classifier
            f1[name] = evaluate(model, test).micro.f1
            print(f"test F1 trained on {name}: {f1[name]:.4f} ({time.perf_counter() - started:,.0f} s)", flush=True)
        lost = f1["clean"] - f1["noisy"]
        figures["test_f1"] = {k: round(v, 4) for k, v in f1.items()}
        for name in corrected:
            recovered = (f1[name] - f1["noisy"]) / lost if lost > 0 else float("nan")
            figures[name]["f1_recovered"] = round(recovered, 3)
            print(f"{name}: recovers {recovered:.0%} of the {lost:.4f} F1 lost to noise", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
