"""nerqa: data-centric quality assurance for named-entity corpora.

The public API, one plain function per arrow of the data flow:

    corpus = read_corpus("train.tsv")                       # any supported format
    result = train(corpus, TrainConfig(), dev=dev)          # fine-tune a token classifier
    probs = predict_probs(result.classifier, [s.tokens for s in corpus.sentences])
    found = audit(corpus, fold_config(), k=5)               # cross-validated label issues
    write_outputs(found, "audit/")                          # the audit folder
    again = load_audit("audit/", corpus)                    # ... read back
"""

import importlib

# Imported on first use: `import nerqa.formats` must not pay for torch and transformers.
_HOME = {
    "audit": "audit", "score": "audit", "write_outputs": "audit", "fold_config": "audit",
    "AuditSettings": "config", "TrainConfig": "config",
    "Corpus": "corpus", "Document": "corpus", "Sentence": "corpus",
    "CrossValResult": "crossval", "cross_validate": "crossval", "document_folds": "crossval",
    "AuditFolderError": "errors", "ConfigError": "errors", "CorpusFormatError": "errors", "FormatDetectionError": "errors",
    "ModelError": "errors", "NerqaError": "errors",
    "ReadOptions": "formats", "read_corpus": "formats", "read_splits": "formats", "write_corpus": "formats", "write_splits": "formats",
    "Issue": "issues",
    "Evaluation": "metrics", "evaluate_tags": "metrics",
    "Classifier": "model", "evaluate": "model", "load_classifier": "model", "predict_probs": "model", "tag_corpus": "model",
    "AuditResult": "outputs", "load_audit": "outputs", "write_audit": "outputs",
    "load_probs": "probs", "save_probs": "probs", "tags_from_probs": "probs",
    "ProgressCallback": "progress",
    "corpus_stats": "stats", "surface_forms": "stats",
    "Span": "tags", "spans_from_tags": "tags", "tags_from_spans": "tags",
    "TrainResult": "training", "save_training": "training", "train": "training",
}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f"nerqa.{_HOME[name]}"), name)
    raise AttributeError(f"module 'nerqa' has no attribute {name!r}")


__all__ = sorted(_HOME)
__version__ = "0.1.0"
