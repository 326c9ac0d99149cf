"""Word-level predictions of a trained classifier.

Word-level predictions of a trained classifier: pred_probs, tagged corpora, and seqeval scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.metrics import Evaluation, evaluate_tags
from nerqa.data.probs import tags_from_probs
from nerqa.errors import ModelError
from nerqa.models.classifier import (
    Classifier,
    ShapedTokenClassifier,
    batched_forward,
)
from nerqa.models.windows import encode, word_probabilities
from nerqa.progress import ProgressCallback, quiet, renamed_tasks


def predict_probs(
    classifier: Classifier,
    sentences: Sequence[Sequence[str]],
    *,
    batch_size: int = 64,
    progress: ProgressCallback = quiet,
) -> list[np.ndarray]:
    """Word-level tag probabilities for each sentence.

    Returns:
        Per sentence, an `(n_words, n_tags)` float32 array (rows sum to 1), columns in
        `classifier.tags` order. Every word gets a row, however long the sentence.

    Args:
        classifier: a loaded classifier.
        sentences: per sentence, its words.
        batch_size: windows per forward pass.
        progress: Progress callback `(task, completed, total, info)`: `predict`, in sentences.
    """
    if not sentences:
        return []
    model, tokenizer = classifier.model, classifier.tokenizer
    windows = encode(tokenizer, sentences, max_length=classifier.max_length, stride=classifier.stride)
    shapes = None
    if isinstance(model, ShapedTokenClassifier):
        from nerqa.data.shape import window_shapes, word_shapes

        sentence_shapes = [word_shapes(s) for s in sentences]
        shapes = [window_shapes(w.owned, len(w), sentence_shapes[w.sentence]) for w in windows]
    probs: list[np.ndarray | None] = [None] * len(windows)
    was_training = model.training
    model.eval()
    try:
        forward = lambda batch: torch.softmax(model(**batch).logits.float(), dim=-1)  # noqa: E731
        on = next(model.parameters()).device
        for chosen, scores in batched_forward(
            windows,
            forward,
            pad_id=tokenizer.pad_token_id or 0,
            on=on,
            batch_size=batch_size,
            progress=progress,
            shapes=shapes,
        ):
            for row, index in enumerate(chosen):
                probs[index] = scores[row, : len(windows[index])]
    finally:
        model.train(was_training)
    return word_probabilities(windows, probs, [len(s) for s in sentences])  # type: ignore[arg-type]


def evaluate(classifier: Classifier, corpus: Corpus, *, progress: ProgressCallback = quiet) -> Evaluation:
    """Strict entity-level scores of the classifier on a labeled corpus (progress task `evaluate`).

    Args:
        classifier: a loaded classifier.
        corpus: a labeled corpus.
        progress: Progress callback `(task, completed, total, info)`.

    Returns:
        The `Evaluation`: per-type, micro and macro scores.
    """
    unknown = sorted(set(corpus.tag_set) - set(classifier.tags))
    if unknown:
        raise ModelError(
            f"the corpus has tags the model does not know: {', '.join(unknown)} (model tags: "
            f"{', '.join(classifier.tags)})"
        )
    probs = predict_probs(
        classifier, [s.tokens for s in corpus.sentences], progress=renamed_tasks(progress, {"predict": "evaluate"})
    )
    return evaluate_tags([s.tags for s in corpus.sentences], tags_from_probs(probs, classifier.tags))


def tag_corpus(
    classifier: Classifier, corpus: Corpus, *, progress: ProgressCallback = quiet
) -> tuple[Corpus, list[np.ndarray]]:
    """The corpus with its tags replaced by the classifier's, and the word-level probabilities.

    Args:
        classifier: a loaded classifier.
        corpus: the corpus to tag (its tags are ignored).
        progress: Progress callback `(task, completed, total, info)`.
    """
    probs = predict_probs(classifier, [s.tokens for s in corpus.sentences], progress=progress)
    predicted = iter(tags_from_probs(probs, classifier.tags))
    documents = tuple(
        Document(
            d.id,
            tuple(Sentence(s.tokens, tuple(next(predicted)), s.offsets, s.source) for s in d.sentences),
            d.text,
            d.sections,
        )
        for d in corpus.documents
    )
    return Corpus(documents, name=corpus.name), probs
