"""nerqa: data-centric quality assurance for named-entity corpora.

The public API, one plain function per arrow of the data flow:

    corpus = read_corpus("train.tsv")                       # any supported format
    result = train(corpus, TrainConfig(), dev=dev)          # fine-tune a token classifier
    probs = predict_probs(result.classifier, [s.tokens for s in corpus.sentences])
    found = audit(corpus, AuditSettings(k=5))              # cross-validated label issues
    write_outputs(found, "audit/")                          # the audit folder
    again = load_audit("audit/", corpus)                    # ... read back
"""

import importlib

# Imported on first use: `import nerqa.data.formats` must not pay for torch and transformers.
_HOME = {
    "audit": "auditing",
    "score": "auditing",
    "write_outputs": "auditing",
    "fold_config": "config",
    "cross_validate": "auditing",
    "AuditSettings": "config",
    "TrainConfig": "config",
    "Corpus": "data.corpus",
    "Document": "data.corpus",
    "Sentence": "data.corpus",
    "CrossValResult": "auditing.crossval",
    "cross_validate_once": "auditing.crossval",
    "document_folds": "auditing.crossval",
    "AuditFolderError": "errors",
    "ConfigError": "errors",
    "CorpusFormatError": "errors",
    "FormatDetectionError": "errors",
    "ModelError": "errors",
    "NerqaError": "errors",
    "ReadOptions": "data.formats",
    "read_corpus": "data.formats",
    "read_splits": "data.formats",
    "write_corpus": "data.formats",
    "write_splits": "data.formats",
    "Issue": "auditing.issues",
    "Evaluation": "data.metrics",
    "evaluate_tags": "data.metrics",
    "Classifier": "models.classifier",
    "load_classifier": "models.classifier",
    "evaluate": "models.predict",
    "predict_probs": "models.predict",
    "tag_corpus": "models.predict",
    "AuditResult": "auditing.folder",
    "load_audit": "auditing.folder",
    "write_audit": "auditing.folder",
    "load_probs": "data.probs",
    "save_probs": "data.probs",
    "tags_from_probs": "data.probs",
    "ProgressCallback": "progress",
    "corpus_stats": "data.stats",
    "surface_forms": "data.stats",
    "Span": "data.tags",
    "spans_from_tags": "data.tags",
    "tags_from_spans": "data.tags",
    "TrainResult": "models.training",
    "save_training": "models.training",
    "train": "models.training",
}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f"nerqa.{_HOME[name]}"), name)
    raise AttributeError(f"module 'nerqa' has no attribute {name!r}")


__all__ = sorted(_HOME)
__version__ = "0.1.0"
