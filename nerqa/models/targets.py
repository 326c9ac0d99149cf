"""Training targets from an audit: each word learns a mix of its given tag and the audit's
out-of-sample probabilities (`nerqa train --audit-targets`).

Where the cross-validated models doubt a label, the target puts part of its weight on what they
read instead; where they agree with it, the target is nearly the one-hot tag. Nothing in the
corpus changes: the labels stay as given (and as reviewed), only what training learns from them
is softened. A sentence whose tags differ from the audited ones (a decision changed it, or it was
edited since) learns its tags alone: what a person decided wins over the audit's evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nerqa.data.corpus import Corpus
from nerqa.errors import NerqaError

# The share of the target given to the out-of-sample probabilities (the rest to the given tag).
DEFAULT_TARGET_WEIGHT = 0.5


@dataclass(frozen=True)
class AuditTargets:
    """Per training sentence, an `(n_words, n_tags)` float32 target distribution or None (learn
    the tags alone), and what was done: sentences `mixed`, `kept` (their tags differ from the
    audited ones) and `unaudited` (not in the audit), with the `weight` and the audit `folder`."""

    targets: list[np.ndarray | None]
    mixed: int
    kept: int
    unaudited: int
    weight: float
    folder: str

    def summary(self) -> dict:
        """What the training report records."""
        return {
            "audit": self.folder,
            "weight": self.weight,
            "sentences_mixed": self.mixed,
            "sentences_kept_as_tagged": self.kept,
            "sentences_not_in_audit": self.unaudited,
        }


def mixed_targets(
    tags: Sequence[str], given: Sequence[str], probs: np.ndarray, prob_tags: Sequence[str], weight: float
) -> np.ndarray:
    """`(1 - weight) * one_hot(given) + weight * probs`, `(n_words, len(tags))` float32. `probs`
    is `(n_words, len(prob_tags))`; its columns are matched to `tags` by name (a tag the audit did
    not have gets 0) and renormalised over `tags`."""
    columns = {t: i for i, t in enumerate(prob_tags)}
    out = np.zeros((len(given), len(tags)), dtype=np.float32)
    for j, tag in enumerate(tags):
        if tag in columns:
            out[:, j] = probs[:, columns[tag]]
    total = out.sum(axis=1, keepdims=True)
    out = np.divide(out, total, out=np.zeros_like(out), where=total > 0)
    index = {t: j for j, t in enumerate(tags)}
    hard = np.zeros_like(out)
    hard[np.arange(len(given)), [index[t] for t in given]] = 1.0
    # A word whose probabilities had no column among `tags` learns its tag alone.
    soft = np.where(total > 0, out, hard)
    return ((1 - weight) * hard + weight * soft).astype(np.float32)


def audit_targets(
    corpus: Corpus, folder: str | Path, tags: Sequence[str], weight: float = DEFAULT_TARGET_WEIGHT
) -> AuditTargets:
    """The targets for training on `corpus` (the audited corpus, or it corrected by `apply`) from
    the audit in `folder`. Sentences are matched to the audit's by content (document, words,
    occurrence: `nerqa.auditing.folder.sentence_digests`), so a corrected or reordered copy
    matches too.

    Raises `NerqaError` (one line) when the folder holds no audit, or none of the corpus's
    sentences is in it."""
    from nerqa.auditing.folder import load_audit_probs

    if not 0 < weight <= 1:
        raise NerqaError(f"target weight {weight:g}: choose a share above 0 and at most 1")
    records, probs, prob_tags = load_audit_probs(folder)
    return targets_from_audit(corpus, records, probs, prob_tags, tags, weight, str(folder))


def targets_from_audit(
    corpus: Corpus,
    records: Sequence[dict],
    probs: Sequence[np.ndarray],
    prob_tags: Sequence[str],
    tags: Sequence[str],
    weight: float,
    folder: str,
) -> AuditTargets:
    """`audit_targets` on an audit's sentence records and probabilities already read."""
    from nerqa.auditing.folder import sentence_digests

    by_key = {r["key"]: (i, r["tags"]) for i, r in enumerate(records)}
    targets: list[np.ndarray | None] = []
    mixed = kept = unaudited = 0
    for (key, tag_digest), sentence in zip(sentence_digests(corpus), corpus.sentences):
        index, audited_tags = by_key.get(key, (None, None))
        if index is None or len(probs[index]) != len(sentence):
            unaudited += 1
            targets.append(None)
        elif audited_tags != tag_digest:
            kept += 1
            targets.append(None)
        else:
            mixed += 1
            targets.append(mixed_targets(tags, sentence.tags, probs[index], prob_tags, weight))
    if not mixed and not kept:
        raise NerqaError(f"{folder}: none of the {len(corpus):,} training sentences is in this audit")
    return AuditTargets(targets, mixed, kept, unaudited, weight, folder)
