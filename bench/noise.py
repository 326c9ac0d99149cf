"""Label-noise benchmark: inject known span errors, audit, and measure how many are found.

Per corpus (NCBI disease with its four categories, from PubTator; BC5CDR-disease, one type)
a fixed subset of sentences gets errors at 5 % of its entities, seeded, split evenly over
the span types (no wrong_tag with a single type): wrong_tag (other type), missed_span (an
entity's tags removed), ghost_span (a span labeled over untagged words), span_shift (one
boundary moved by one token). The audit runs in each mode (`both` averages the full and fast
folds trained just before it, read back from the fold cache); printed per corpus and mode:
recall and precision of the injected errors among the top-k span issues (k = number
injected), sentence-level AUROC / AUPRC of nerqa's sentence score, and the same for
cleanlab's sentence score on entity types and cleanlab's default sentence score (IOB tags,
self-confidence, min) on the same pred_probs.

    python bench/noise.py [--sentences 2000] [--modes full fast both] [--folds 5] [--epochs 6] [--lr 2e-4] [--cache DIR]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from nerqa.audit import audit, fold_config
from nerqa.corpus import Corpus, Document, Sentence
from nerqa.formats import read_corpus
from nerqa.issues import SPAN_TYPES, cleanlab_scores
from nerqa.tags import Span, tags_from_spans


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
            free = [t for t in range(length) if all(not (s.start <= t < s.end) for s in spans[i]) and corpus.sentences[i].tokens[t].isalpha()]
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
            sentences.append(Sentence(sentence.tokens, tuple(tags_from_spans(spans[k], len(sentence))), sentence.offsets) if k in injected else sentence)
            k += 1
        documents.append(Document(document.id, tuple(sentences), document.text, document.sections))
    return Corpus(tuple(documents), name=corpus.name), injected


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
    for name, scores in (("nerqa", nerqa_scores), ("cleanlab types", result.cleanlab_scores), ("cleanlab default", baseline)):
        out[name] = (roc_auc_score(truth, -scores), average_precision_score(truth, -scores))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--modes", nargs="+", default=["full", "fast", "both"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=None, help="epochs per fold (default: the audit's)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate per fold (default: the audit's)")
    parser.add_argument("--corpora", nargs="+", default=["ncbi", "bc5cdr"])
    parser.add_argument("--cache", type=Path, default=None, help="fold cache folder (default: a temporary one); a rerun re-scores without training")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="nerqa-noise-"))
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    sources = {"ncbi": args.shared / "ncbi_disease/pubtator/NCBItrainset_corpus.txt", "bc5cdr": args.shared / "bc5cdr_disease/train.tsv"}
    for name in args.corpora:
        clean = subset(read_corpus(sources[name]), args.sentences)
        noisy, injected = inject(clean, 0.05, seed=13)
        kinds = {}
        for items in injected.values():
            for _, _, kind in items:
                kinds[kind] = kinds.get(kind, 0) + 1
        print(f"\n{name}: {len(noisy):,} sentences, {sum(noisy.entity_counts().values()):,} entities, injected {kinds}")
        auprc: dict[str, float] = {}
        trained: dict[str, float] = {}  # seconds of the modes whose folds were trained in this run
        for mode in args.modes:
            started = time.perf_counter()
            result = audit(noisy, fold_config(epochs=args.epochs, learning_rate=args.lr), k=args.folds, mode=mode, cache_dir=cache)
            seconds = time.perf_counter() - started
            m = measure(noisy, injected, result)
            cv_f1 = result.summary["cv_metrics"]["micro"]["f1"]
            cached = len(result.summary["timings"]["cached_folds"])
            if not cached:
                trained[mode] = seconds
            elif mode == "both" and "full" in trained and "fast" in trained:
                # both = the mean of the full and fast folds just trained (read back from the cache).
                trained[mode] = trained["full"] + trained["fast"] + seconds
            shown = f"{trained[mode]:7.1f} s" if mode in trained else f"{seconds:7.1f} s (folds from an earlier run's cache)"
            print(f"  {mode:5} {shown}  CV F1 {cv_f1:.3f}  top-{m['k']}: recall {m['recall@k']:.3f} precision {m['precision@k']:.3f}")
            print("        recall by kind: " + ", ".join(f"{kind} {a}/{b}" for kind, (a, b) in sorted(m["by_kind"].items())))
            for score in ("nerqa", "cleanlab types", "cleanlab default"):
                auroc, value = m[score]
                print(f"        sentence score {score:17}: AUROC {auroc:.3f}  AUPRC {value:.3f}")
            auprc[mode] = m["nerqa"][1]
        for slow in ("full", "both"):
            if "fast" in auprc and slow in auprc:
                ratio = f", time {trained['fast'] / trained[slow]:.3f}" if "fast" in trained and slow in trained else " (no time ratio: folds from an earlier run)"
                print(f"  fast/{slow}: AUPRC {auprc['fast'] / auprc[slow]:.2f}{ratio}")

if __name__ == "__main__":
    main()
