"""Label-noise benchmark: inject known span errors, audit, and measure how many are found.

Per corpus (NCBI disease with its four categories, from PubTator; BC5CDR-disease, one type)
a fixed subset of sentences gets errors at 5 % of its entities, seeded, split evenly over
the span types (no wrong_tag with a single type): wrong_tag (other type), missed_span (an
entity's tags removed), ghost_span (a span labeled over untagged words), span_shift (one
boundary moved by one token). The audit runs in each mode; printed per corpus and mode:
recall and precision of the injected errors among the top-k span issues (k = number
injected), sentence-level AUROC / AUPRC of nerqa's sentence score, and the same for
cleanlab's sentence score on entity types and cleanlab's default sentence score (IOB tags,
self-confidence, min) on the same pred_probs.

A realistic noise mode (`--noise realistic`, run beside the random one by default) makes
errors the way annotators do (`inject_realistic`). `--reference` measures instead `nerqa
audit --reference`: NCBI dev with errors, audited alone and with NCBI train behind every fold.
Each mode is audited from an empty fold cache of its own, so its time is its whole cost; the
first mode is the baseline the others are compared with (time ratio in one run). A mode is
`MODE[:setting=value,...]` with TrainConfig settings and `folds` (`both:epochs=4,folds=4`);
`before` is the audit's defaults before issue 11 (`both`, 6 epochs at 2e-4, all in fp32). With
`--cache DIR`, each finished mode's figures are kept there and a rerun resumes at the first
unfinished mode (which starts over, so each time is one uninterrupted audit).

    python bench/noise.py [--sentences 2000|0] [--modes before both] [--noise random realistic]
        [--reference [--alone]] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from unittest import mock

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

import nerqa.auditing
import nerqa.auditing.runners
import nerqa.models.runtime
import nerqa.models.trainer_setup
from nerqa.auditing import AuditSettings, ScoringSettings, audit, fold_config
from nerqa.auditing.confident import cleanlab_scores
from nerqa.auditing.issues import SPAN_TYPES
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import read_corpus
from nerqa.data.tags import Span, tags_from_spans
from nerqa.models.head import HEAD_VERSION


def subset(corpus: Corpus, sentences: int) -> Corpus:
    """The first documents holding at least `sentences` sentences."""
    kept, n = [], 0
    for document in corpus.documents:
        if n >= sentences:
            break
        kept.append(document)
        n += len(document.sentences)
    return Corpus(tuple(kept), name=corpus.name)


def inject(corpus: Corpus, rate: float, seed: int) -> tuple[Corpus, dict[int, list[tuple[int, int, str]]]]:
    """Corrupt `rate` of the entities; returns the noisy corpus and the injected (start, end, kind) per sentence."""
    rng = random.Random(seed)
    types = corpus.entity_types
    kinds = [k for k in ("wrong_tag", "missed_span", "ghost_span", "span_shift") if k != "wrong_tag" or len(types) > 1]
    spans = [list(s.spans) for s in corpus.sentences]
    places = [(i, j) for i, ss in enumerate(spans) for j in range(len(ss))]
    n = round(rate * len(places))
    chosen = rng.sample(places, n)
    injected: dict[int, list[tuple[int, int, str]]] = {}
    touched = set()
    for number, (i, j) in enumerate(chosen):
        if i in touched:
            continue  # one injection per sentence keeps the ground truth unambiguous
        kind = kinds[number % len(kinds)]
        span = spans[i][j]
        length = len(corpus.sentences[i])
        others = [s for s in spans[i] if s is not span]
        if kind == "wrong_tag":
            spans[i][j] = Span(span.start, span.end, rng.choice([t for t in types if t != span.label]))
            where = (span.start, span.end)
        elif kind == "missed_span":
            del spans[i][j]
            where = (span.start, span.end)
        elif kind == "ghost_span":
            free = [
                t
                for t in range(length)
                if all(not (s.start <= t < s.end) for s in spans[i]) and corpus.sentences[i].tokens[t].isalpha()
            ]
            if not free:
                continue
            start = rng.choice(free)
            end = start + 1
            spans[i].append(Span(start, end, rng.choice(types)))
            where = (start, end)
        else:
            options = []
            if span.end < length and all(not (s.start <= span.end < s.end) for s in others):
                options.append(Span(span.start, span.end + 1, span.label))
            if span.end - span.start > 1:
                options.append(Span(span.start, span.end - 1, span.label))
            if span.start > 0 and all(not (s.start <= span.start - 1 < s.end) for s in others):
                options.append(Span(span.start - 1, span.end, span.label))
            if not options:
                continue
            new = rng.choice(options)
            spans[i][j] = new
            where = (min(new.start, span.start), max(new.end, span.end))
        touched.add(i)
        injected[i] = [(where[0], where[1], kind)]
    documents, k = [], 0
    for document in corpus.documents:
        sentences = []
        for sentence in document.sentences:
            sentences.append(
                Sentence(sentence.tokens, tuple(tags_from_spans(spans[k], len(sentence))), sentence.offsets)
                if k in injected
                else sentence
            )
            k += 1
        documents.append(Document(document.id, tuple(sentences), document.text, document.sections))
    return Corpus(tuple(documents), name=corpus.name), injected


def _rebuild(corpus: Corpus, spans: list[list[Span]], changed: set[int]) -> Corpus:
    documents, k = [], 0
    for document in corpus.documents:
        sentences = []
        for sentence in document.sentences:
            sentences.append(
                Sentence(
                    sentence.tokens,
                    tuple(tags_from_spans(sorted(spans[k], key=lambda s: s.start), len(sentence))),
                    sentence.offsets,
                )
                if k in changed
                else sentence
            )
            k += 1
        documents.append(Document(document.id, tuple(sentences), document.text, document.sections))
    return Corpus(tuple(documents), name=corpus.name)


def confusable(corpus: Corpus) -> dict[str, str]:
    """Each type's most confusable other type: the one whose spans share the most head words
    (last tokens) with it ("syndrome" heads both SpecificDisease and DiseaseClass spans)."""
    heads: dict[str, Counter] = {}
    for sentence in corpus.sentences:
        for span in sentence.spans:
            heads.setdefault(span.label, Counter())[sentence.tokens[span.end - 1].lower()] += 1
    pairs = {}
    for a in heads:
        shared = {b: sum(min(n, heads[b][w]) for w, n in heads[a].items()) for b in heads if b != a}
        if shared:
            pairs[a] = max(shared, key=shared.get)
    return pairs


def inject_realistic(corpus: Corpus, rate: float, seed: int) -> tuple[Corpus, dict[int, list[tuple[int, int, str]]]]:
    """Errors the way annotators make them, at `rate` of the entities, one per sentence:
    - `consistent`: one surface form mislabeled the same way in 2-4 sentences (left untagged,
      or given its confusable type), as an annotator with a wrong rule for that form does;
    - `confusion`: a span given the type most confusable with its own (shared head words);
      with one type, an entity left untagged instead;
    - `modifier`: a boundary that takes in the word before the span (an adjective, a title)
      or drops the span's first word ("acute leukemia" -> "leukemia").
    Returns the noisy corpus and the injected (start, end, kind) per sentence."""
    rng = random.Random(seed)
    types = corpus.entity_types
    partner = confusable(corpus)
    spans = [list(s.spans) for s in corpus.sentences]
    target = round(rate * sum(len(ss) for ss in spans))
    injected: dict[int, list[tuple[int, int, str]]] = {}
    where_form: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for i, ss in enumerate(spans):
        for j, span in enumerate(ss):
            where_form.setdefault(
                tuple(t.lower() for t in corpus.sentences[i].tokens[span.start : span.end]), []
            ).append((i, j))
    forms = [f for f, places in where_form.items() if len({i for i, _ in places}) >= 3]
    rng.shuffle(forms)
    budget = {"consistent": target // 3, "confusion": target // 3, "modifier": target - 2 * (target // 3)}

    def relabel(i: int, j: int, kind: str) -> bool:
        span = spans[i][j]
        if i in injected:
            return False
        if len(types) > 1 and span.label in partner:
            spans[i][j] = Span(span.start, span.end, partner[span.label])
        else:
            del spans[i][j]
        injected[i] = [(span.start, span.end, kind)]
        return True

    done = 0
    for form in forms:  # consistent: the same wrong reading of one form, in 2-4 places
        if done >= budget["consistent"]:
            break
        places = [(i, j) for i, j in where_form[form] if i not in injected]
        by_sentence = {i: j for i, j in places}  # one place per sentence
        chosen = rng.sample(
            sorted(by_sentence.items()), min(len(by_sentence) - 1, rng.randint(2, 4), budget["consistent"] - done)
        )
        for i, j in sorted(chosen, key=lambda p: -p[1]):
            done += relabel(i, j, "consistent")
    places = [(i, j) for i, ss in enumerate(spans) for j in range(len(ss))]
    rng.shuffle(places)
    done = 0
    for i, j in places:  # confusion
        if done >= budget["confusion"]:
            break
        if i not in injected and j < len(spans[i]):
            done += relabel(i, j, "confusion")
    rng.shuffle(places)
    done = 0
    for i, j in places:  # modifier
        if done >= budget["modifier"]:
            break
        if i in injected or j >= len(spans[i]):
            continue
        span, tokens = spans[i][j], corpus.sentences[i].tokens
        taken = {t for s in spans[i] for t in range(s.start, s.end)}
        before = span.start - 1
        if before >= 0 and before not in taken and tokens[before].isalpha() and rng.random() < 0.5:
            spans[i][j] = Span(before, span.end, span.label)
            injected[i] = [(before, span.end, "modifier")]
        elif span.end - span.start > 1:
            spans[i][j] = Span(span.start + 1, span.end, span.label)
            injected[i] = [(span.start, span.end, "modifier")]
        else:
            continue
        done += 1
    return _rebuild(corpus, spans, set(injected)), injected


def measure(noisy: Corpus, injected, result) -> dict:
    k = sum(len(v) for v in injected.values())
    span_issues = [i for i in result.issues if i.type in SPAN_TYPES][:k]

    def hit(issue) -> bool:
        return any(issue.start < e and s < issue.end for s, e, _ in injected.get(issue.index, []))

    found = {(i.index) for i in span_issues if hit(i)}
    precision = sum(hit(i) for i in span_issues) / max(len(span_issues), 1)
    recall = len(found) / max(k, 1)
    truth = np.array([i in injected for i in range(len(noisy))], dtype=int)
    nerqa_scores = np.asarray(result.sentence_scores)
    baseline, _, _ = cleanlab_scores(noisy, result.pred_probs, result.tags, level="iob")
    by_kind: dict[str, list[int]] = {}
    for index, items in injected.items():
        for _, _, kind in items:
            by_kind.setdefault(kind, [0, 0])[1] += 1
            by_kind[kind][0] += index in found
    out = {"k": k, "recall@k": recall, "precision@k": precision, "by_kind": by_kind}
    for name, scores in (
        ("nerqa", nerqa_scores),
        ("cleanlab types", result.cleanlab_scores),
        ("cleanlab default", baseline),
    ):
        out[name] = (roc_auc_score(truth, -scores), average_precision_score(truth, -scores))
    return out


# The audit's defaults before issue 11 (6 epochs at 2e-4, five folds, everything in fp32 on
# a CPU), for side-by-side runs.
MODE_ALIASES = {"before": "both:epochs=6,learning_rate=2e-4,cpu_bf16=0,shapes=0,dynamics=0"}


def parse_mode(spec: str) -> tuple[str, dict, int | None]:
    """`MODE[:setting=value,...]` (or an alias in MODE_ALIASES) -> (mode, TrainConfig changes,
    folds or None). Settings are TrainConfig fields plus `folds`, e.g. `both:epochs=4,folds=4`,
    `cpu_bf16=0`: compute in fp32 on a CPU with native bf16; `shapes=0|1`: the full runner's
    models without or with word shapes; `dynamics=W`: the weight of the training dynamics in
    the scores (these three are kept in the changes, for `run_modes`)."""
    mode, _, settings = MODE_ALIASES.get(spec, spec).partition(":")
    changes: dict = {}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition("=")
        try:
            changes[key] = (
                int(value)
                if key == "folds"
                else float(value)
                if key in ("epochs", "learning_rate", "warmup_ratio")
                else value
            )
        except ValueError:
            raise SystemExit(f"--modes {spec}: {key} must be a number, not {value!r}") from None
    return mode, changes, changes.pop("folds", None)


def run_modes(
    name: str, noisy: Corpus, injected, modes: list[str], args, cache: Path, reference: Corpus | None = None
) -> dict[str, dict]:
    """Audit `noisy` in each mode, each from an empty fold cache of its own, so every mode's
    time is its whole cost; print and return the figures per mode. A finished mode's figures
    are kept in `cache` (NAME-MODE.json): a run cut short resumes at the first unfinished mode,
    which starts over (its partial folds are dropped, so its time stays one uninterrupted audit)."""
    out = {}
    for spec in modes:
        mode, changes, folds = parse_mode(spec)
        label = f"{name}-{spec.replace(':', '-').replace(',', '-')}"
        saved = cache / f"{label}.json"
        cpu_bf16 = changes.pop("cpu_bf16", "1") != "0"
        full_shapes = changes.pop("shapes", None)
        scoring = ScoringSettings()
        scoring = scoring.replace(dynamics_weight=float(changes.pop("dynamics", scoring.dynamics_weight)))
        shaped = nerqa.auditing.runners.FULL_SHAPES if full_shapes is None else full_shapes != "0"
        config = fold_config(epochs=args.epochs, learning_rate=args.lr).replace(**changes)
        settings = {
            "mode": mode,
            "folds": folds or args.folds,
            "config": config.cache_settings(),
            "cpu_bf16": cpu_bf16,
            "full_shapes": shaped,
            "head": HEAD_VERSION,
            "dynamics": scoring.dynamics_weight,
        }
        m = json.loads(saved.read_text()) if saved.is_file() else None
        if m is not None and m.get("settings", settings) == settings:
            note = f" (measured {m['measured']})"
        else:
            shutil.rmtree(cache / label, ignore_errors=True)
            chosen = lambda real=nerqa.models.runtime.native_bf16: cpu_bf16 and real()  # noqa: E731
            started = time.perf_counter()
            with (
                mock.patch.object(nerqa.models.runtime, "native_bf16", chosen),
                mock.patch.object(nerqa.models.trainer_setup, "native_bf16", chosen),
                mock.patch.object(nerqa.auditing.runners, "FULL_SHAPES", shaped),
            ):
                result = audit(
                    noisy,
                    AuditSettings(k=folds or args.folds, mode=mode, training=config, scoring=scoring),
                    cache_dir=cache / label,
                    reference=reference,
                )
            m = measure(noisy, injected, result)
            m.update(
                seconds=time.perf_counter() - started,
                cv_f1=result.summary["cv_metrics"]["micro"]["f1"],
                measured=time.strftime("%Y-%m-%d %H:%M"),
                settings=settings,
            )
            saved.write_text(json.dumps(m, default=str))
            note = ""
        print(
            f"  {spec:8} {m['seconds']:7.1f} s{note}  CV F1 {m['cv_f1']:.3f}  top-{m['k']}: recall "
            f"{m['recall@k']:.3f} precision {m['precision@k']:.3f}"
        )
        print(
            "        recall by kind: " + ", ".join(f"{kind} {a}/{b}" for kind, (a, b) in sorted(m["by_kind"].items()))
        )
        for score in ("nerqa", "cleanlab types", "cleanlab default"):
            auroc, value = m[score]
            print(f"        sentence score {score:17}: AUROC {auroc:.3f}  AUPRC {value:.3f}", flush=True)
        out[spec] = m
    first = modes[0]
    for mode in modes[1:]:
        print(
            f"  {mode}/{first}: time {out[mode]['seconds'] / out[first]['seconds']:.3f}, recall "
            f"{out[mode]['recall@k'] / max(out[first]['recall@k'], 1e-9):.2f}x, AUPRC "
            f"{out[mode]['nerqa'][1] / out[first]['nerqa'][1]:.2f}x"
        )
    return out


def describe(name: str, noisy: Corpus, injected) -> None:
    kinds = Counter(kind for items in injected.values() for _, _, kind in items)
    print(
        f"\n{name}: {len(noisy):,} sentences, {sum(noisy.entity_counts().values()):,} entities, injected {dict(kinds)}",
        flush=True,
    )


INJECTORS = {"random": inject, "realistic": inject_realistic}
# The benchmarks' corpora, under --shared.
SOURCES = {"ncbi": "ncbi_disease/pubtator/NCBItrainset_corpus.txt", "bc5cdr": "bc5cdr_disease/train.tsv"}


def add_corpus_options(parser: argparse.ArgumentParser, *, sentences: int = 2000) -> None:
    """The options every noise benchmark shares: --shared, --sentences, --corpora, --noise."""
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--sentences", type=int, default=sentences, help="sentences per corpus (0: the whole corpus)")
    parser.add_argument("--corpora", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    parser.add_argument("--noise", nargs="+", default=list(INJECTORS), choices=list(INJECTORS))


def noisy_corpora(args: argparse.Namespace):
    """Per corpus and noise kind asked for: `(label, noisy, injected)`, the label
    `NAME-SENTENCES-KIND` naming its cache folders; each corpus read once, errors at 5 %, seed 13."""
    for name in args.corpora:
        corpus = read_corpus(args.shared / SOURCES[name])
        clean = subset(corpus, args.sentences) if args.sentences else corpus
        for kind in args.noise:
            noisy, injected = INJECTORS[kind](clean, 0.05, seed=13)
            yield f"{name}-{len(clean)}-{kind}", noisy, injected


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_options(parser)
    parser.add_argument(
        "--modes", nargs="+", default=["before", "both"], help="the first is the baseline the others are compared with"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=None, help="epochs per full-mode fold (default: the audit's)")
    parser.add_argument(
        "--lr", type=float, default=None, help="learning rate per full-mode fold (default: the audit's)"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="instead: NCBI dev with errors, audited alone and with NCBI train as --reference",
    )
    parser.add_argument("--alone", action="store_true", help="with --reference: NCBI dev audited alone only")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder for each finished mode's figures and folds (default: a temporary one); a rerun resumes at "
        "the first unfinished mode",
    )
    add_smoke(parser, sentences=60, corpora=["ncbi"], noise=["random"], modes=["both"], folds=2, epochs=1)
    args = parse(parser)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="nerqa-noise-"))
    from nerqa.models.runtime import quiet_transformers, set_threads

    quiet_transformers()
    print(f"torch threads: {set_threads()}")
    if args.reference:
        dev = read_corpus(args.shared / "ncbi_disease/pubtator/NCBIdevelopset_corpus.txt")
        train = read_corpus(args.shared / "ncbi_disease/pubtator/NCBItrainset_corpus.txt")
        for kind in args.noise:
            noisy, injected = INJECTORS[kind](dev, 0.05, seed=13)
            describe(f"ncbi dev, {kind} errors, alone", noisy, injected)
            run_modes(f"dev-{kind}", noisy, injected, args.modes, args, cache)
            if args.alone:
                continue
            describe(f"ncbi dev, {kind} errors, NCBI train ({len(train):,} sentences) as --reference", noisy, injected)
            run_modes(f"dev-ref-{kind}", noisy, injected, args.modes, args, cache, reference=train)
        return
    for label, noisy, injected in noisy_corpora(args):
        name, _, kind = label.split("-")
        describe(f"{name}, {kind} errors", noisy, injected)
        run_modes(label, noisy, injected, args.modes, args, cache)


if __name__ == "__main__":
    main()
