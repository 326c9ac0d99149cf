"""nerqa: data-centric quality assurance for named-entity corpora.

The public API, one plain function per arrow of the data flow:

    corpus = read_corpus("train.tsv")                       # any supported format
    result = train(corpus, TrainConfig(), dev=dev)          # fine-tune a token classifier
    probs = predict_probs(result.classifier, [s.tokens for s in corpus.sentences])
    found = audit(corpus, TrainConfig(epochs=4), k=5)       # cross-validated label issues
    write_outputs(found, "audit/")
"""

import importlib

# Imported on first use: `import nerqa.formats` must not pay for torch and transformers.
_HOME = {
    "AuditResult": "audit", "audit": "audit", "score": "audit", "write_outputs": "audit",
    "TrainConfig": "config",
    "Corpus": "corpus", "Document": "corpus", "Sentence": "corpus",
    "cross_validate": "crossval", "document_folds": "crossval",
    "CorpusFormatError": "errors", "ModelError": "errors", "NerqaError": "errors",
    "ReadOptions": "formats", "read_corpus": "formats", "read_splits": "formats", "write_corpus": "formats", "write_splits": "formats",
    "Issue": "issues",
    "Evaluation": "metrics", "evaluate_tags": "metrics",
    "Classifier": "model", "evaluate": "model", "load_classifier": "model", "predict_probs": "model", "train": "model",
    "corpus_stats": "stats", "surface_forms": "stats",
    "Span": "tags", "spans_from_tags": "tags", "tags_from_spans": "tags",
}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f"nerqa.{_HOME[name]}"), name)
    raise AttributeError(f"module 'nerqa' has no attribute {name!r}")


__all__ = [
    "AuditResult", "Classifier", "Corpus", "CorpusFormatError", "Document", "Evaluation", "Issue", "ModelError",
    "NerqaError", "ReadOptions", "Sentence", "Span", "TrainConfig", "audit", "corpus_stats", "cross_validate",
    "document_folds", "evaluate", "evaluate_tags", "load_classifier", "predict_probs", "read_corpus", "read_splits",
    "score", "spans_from_tags", "surface_forms", "tags_from_spans", "train", "write_corpus", "write_splits",
    "write_outputs",
]
__version__ = "0.1.0"
