"""CoNLL-2003 train and dev audited together, the dev part scored against CleanCoNLL: does the
audit's ranking stay ahead of every cleanlab baseline when the fold models are strong?

`joint`: `train.txt` and `dev.txt` cross-validated as one corpus (as `nerqa audit train.txt
dev.txt` does) with `--mode` (default: the audit's); every ranking and baseline is computed
on the whole, then measured on the dev sentences alone. Timed, with the peak memory of this
process.

`--trained`: dev audited with a model trained on the train split (`nerqa train`'s defaults,
cached), as `nerqa audit dev.txt --trained MODEL` does: no cross-validation and no dynamics.

    python bench/joint_audit.py [--mode once+fast] [--trained] [--cache DIR] [--shared DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import time
from pathlib import Path

import numpy as np
from real_noise import BASELINES, baselines
from realsets import corrections, crossval, load_conll, measure, report

from nerqa.auditing import score
from nerqa.auditing.confident import cleanlab_scores
from nerqa.auditing.issues import SPAN_TYPES
from nerqa.auditing.pipeline import word_features
from nerqa.config import AuditSettings, fold_config
from nerqa.data.parts import join


def dev_part(scores: np.ndarray, issues: list, offset: int) -> tuple[np.ndarray, list]:
    """The dev sentences' scores, and their issues with indices counted from dev's first sentence."""
    return scores[offset:], [dataclasses.replace(i, index=i.index - offset) for i in issues if i.index >= offset]


def figures_on_dev(dev, truth, scored: dict[str, tuple[np.ndarray, list]], issues: list) -> dict[str, dict]:
    """Each ranking's figures on dev (`measure`), the baselines with nerqa's issues."""
    fixes = corrections(dev, truth)
    out = {name: measure(dev, truth, fixes, s, i if i is not None else issues) for name, (s, i) in scored.items()}
    best = max((b for b in BASELINES if b in out), key=lambda b: out[b]["AUPRC"])
    for name, values in out.items():
        report(name + (" *" if name == best else ""), values)
    nerqa = out["nerqa"]
    print(
        f"  nerqa against the best baseline ({best}): AUPRC {nerqa['AUPRC'] - out[best]['AUPRC']:+.3f}, "
        f"P@5% {nerqa['P@5%'] - out[best]['P@5%']:+.3f}",
        flush=True,
    )
    return out


def run_joint(args) -> dict:
    dev, truth, train = load_conll(args.shared, args.sentences)
    joint, joint_parts = join({"train.txt": train, "dev.txt": dev})
    started = time.perf_counter()
    cv, seconds = crossval(joint, args, args.cache, f"conll-joint-{len(joint)}", None)
    print(
        f"\njoint: {len(joint):,} sentences ({len(train):,} train + {len(dev):,} dev), mode {args.mode}: "
        f"cross-validation {seconds:.0f} s (uncached), this run {time.perf_counter() - started:.0f} s, "
        f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB",
        flush=True,
    )
    base = baselines(joint, cv)
    features = cv.features if cv.features is not None else word_features(joint, fold_config())
    result = score(joint, cv.pred_probs, cv.tags, crossval=cv, features=features)  # as the audit scores it
    spans = [i for i in result.issues if i.type in SPAN_TYPES]
    offset = len(train)
    nerqa_scores, nerqa_issues = dev_part(np.asarray(result.sentence_scores), spans, offset)
    scored = {"nerqa": (nerqa_scores, nerqa_issues)}
    scored.update({name: (s[offset:], None) for name, s in base.items()})
    parts = {p["name"]: p for p in _parts(result, joint_parts)}
    print(f"  CV F1: train part {parts['train.txt']['cv_f1']:.3f}, dev part {parts['dev.txt']['cv_f1']:.3f}")
    return {"seconds": seconds, "figures": figures_on_dev(dev, truth, scored, nerqa_issues)}


def _parts(result, parts) -> list[dict]:
    from nerqa.auditing.parts import add_parts

    add_parts(result, parts)
    return result.summary["parts"]


def run_trained(args) -> dict:
    """Dev scored with a model trained on the train split (cached in CACHE/conll-train-model)."""
    from nerqa.config import TrainConfig
    from nerqa.models.classifier import load_classifier
    from nerqa.models.predict import predict_probs
    from nerqa.models.training import train_to_folder

    dev, truth, train = load_conll(args.shared, args.sentences)
    folder = args.cache / "conll-train-model"
    if not (folder / "config.json").is_file():
        started = time.perf_counter()
        train_to_folder(train, TrainConfig(), folder)
        print(f"trained on CoNLL train in {time.perf_counter() - started:.0f} s", flush=True)
    classifier = load_classifier(folder)
    probs = predict_probs(classifier, [s.tokens for s in dev.sentences])
    result = score(dev, probs, classifier.tags)
    f1 = result.summary["cv_metrics"]["micro"]["f1"]
    print(f"\n--trained: dev scored with a model trained on train; F1 {f1:.3f}")
    spans = [i for i in result.issues if i.type in SPAN_TYPES]
    scored = {
        "nerqa": (np.asarray(result.sentence_scores), spans),
        "cleanlab, out-of-sample": (np.asarray(cleanlab_scores(dev, probs, classifier.tags)[0]), None),
        "cleanlab, out-of-sample, IOB tags": (
            np.asarray(cleanlab_scores(dev, probs, classifier.tags, level="iob")[0]),
            None,
        ),
    }
    return {"figures": figures_on_dev(dev, truth, scored, spans)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "nerqa-bench" / "real_noise")
    parser.add_argument("--mode", default=AuditSettings().mode)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--trained", action="store_true", help="also dev with a model trained on train")
    parser.add_argument("--sentences", type=int, default=0, help="dev's first N sentences, train cut alike (0: all)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    out = {"joint": run_joint(args)}
    if args.trained:
        out["trained"] = run_trained(args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
