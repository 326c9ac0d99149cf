"""Sub-word windows for token classification, and word-level probabilities.

Sub-word features for token classification: word/label alignment, windows, word-level probabilities.

A sentence is a list of words; the fast tokenizer splits words into sub-words and tells,
through `word_ids()`, which word each sub-word came from. Labels sit on the first sub-word of
each word (or on all sub-words with `label_all_subwords`); other positions get -100, which
the loss ignores. Sentences longer than the model's window are cut into overlapping windows;
each word is predicted in the window where it has the most context on both sides, so every
word gets exactly one prediction and nothing is truncated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

IGNORE = -100


@dataclass(frozen=True)
class Window:
    """One model input: a slice of a sentence's sub-words with special tokens added.

    Attributes:
        sentence: index of the sentence in the encoded list.
        input_ids: sub-word ids, special tokens included; length <= max_length.
        labels: label id per position (-100 where no loss applies), or None when unlabeled.
        owned: `(position, word)` pairs: the positions whose output is word `word`'s prediction
            (its first sub-word, in the window that owns it).
    """

    sentence: int
    input_ids: list[int]
    labels: list[int] | None
    owned: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.input_ids)


def _subwords(tokenizer, sentences: Sequence[Sequence[str]]) -> list[tuple[list[int], list[int]]]:
    """Sub-word ids and their word index for each sentence (no special tokens).

    Words the tokenizer turns into nothing (a zero-width space, a control character) are
    replaced by the unknown token so every word has at least one sub-word.
    """
    encoded = tokenizer([list(s) for s in sentences], is_split_into_words=True, add_special_tokens=False)
    out = []
    for index, sentence in enumerate(sentences):
        ids = encoded["input_ids"][index]
        word_ids = encoded.word_ids(index)
        present = set(word_ids)
        if len(present - {None}) < len(sentence):
            words = [w if i in present else (tokenizer.unk_token or "[UNK]") for i, w in enumerate(sentence)]
            again = tokenizer([words], is_split_into_words=True, add_special_tokens=False)
            ids, word_ids = again["input_ids"][0], again.word_ids(0)
        out.append((list(ids), [w if w is not None else -1 for w in word_ids]))
    return out


def encode(
    tokenizer,
    sentences: Sequence[Sequence[str]],
    labels: Sequence[Sequence[int]] | None = None,
    *,
    max_length: int = 128,
    stride: int = 32,
    label_all_subwords: bool = False,
) -> list[Window]:
    """Encode sentences (lists of words) into windows of at most `max_length` sub-words.

    Args:
        labels: per sentence, one label id per word (`None` for prediction).
        stride: sub-words of overlap between consecutive windows of a long sentence.

    Returns:
        Windows in sentence order; a sentence that fits yields exactly one.
    """
    prefix, suffix = special_affixes(tokenizer)
    room = max_length - len(prefix) - len(suffix)
    if room < 2:
        raise ValueError(f"max_length {max_length} leaves no room for sub-words")
    stride = max(0, min(stride, room // 2))
    windows: list[Window] = []
    for index, (ids, word_ids) in enumerate(_subwords(tokenizer, sentences)):
        first = [p for p in range(len(ids)) if word_ids[p] >= 0 and (p == 0 or word_ids[p - 1] != word_ids[p])]
        starts = list(range(0, max(len(ids) - room, 0) + 1, room - stride)) if len(ids) > room else [0]
        if starts[-1] + room < len(ids):
            starts.append(len(ids) - room)
        # Each first sub-word belongs to the window where it is farthest from an edge.
        owner = {}
        for p in first:
            candidates = [s for s in starts if s <= p < s + room]
            owner[p] = max(candidates, key=lambda s: min(p - s, s + room - 1 - p))
        for s in starts:
            piece = ids[s : s + room]
            with_specials = prefix + piece + suffix
            offset = len(prefix)
            owned = [(offset + p - s, word_ids[p]) for p in first if owner[p] == s]
            window_labels = None
            if labels is not None:
                sentence_labels = labels[index]
                window_labels = [IGNORE] * len(with_specials)
                if label_all_subwords:
                    owned_words = {w for _, w in owned}
                    for p in range(s, min(s + room, len(ids))):
                        if word_ids[p] in owned_words:
                            window_labels[offset + p - s] = sentence_labels[word_ids[p]]
                else:
                    for position, word in owned:
                        window_labels[position] = sentence_labels[word]
            windows.append(Window(index, with_specials, window_labels, owned))
    return windows


def special_affixes(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids the tokenizer puts before and after a single sequence
    (`[CLS]` / `[SEP]` for BERT, `<s>` / `</s>` for RoBERTa)."""
    probe = tokenizer([["x"]], is_split_into_words=True, add_special_tokens=True)
    ids, word_ids = probe["input_ids"][0], probe.word_ids(0)
    content = [i for i, w in enumerate(word_ids) if w is not None]
    return list(ids[: content[0]]), list(ids[content[-1] + 1 :])


def word_probabilities(
    windows: Sequence[Window], window_probs: Sequence[np.ndarray], sentence_lengths: Sequence[int]
) -> list[np.ndarray]:
    """Gather word-level probabilities from per-window sub-word probabilities.

    Args:
        windows: the windows from `encode`.
        window_probs: per window, an `(n_positions, n_tags)` array of probabilities.
        sentence_lengths: number of words of each sentence.

    Returns:
        Per sentence, an `(n_words, n_tags)` float32 array whose rows sum to 1.
    """
    n_tags = window_probs[0].shape[1] if len(window_probs) else 0
    out = [np.full((n, n_tags), np.nan, dtype=np.float32) for n in sentence_lengths]
    for window, probs in zip(windows, window_probs):
        for position, word in window.owned:
            out[window.sentence][word] = probs[position]
    for index, array in enumerate(out):
        if np.isnan(array).any():
            missing = int(np.isnan(array).any(axis=1).argmax())
            raise RuntimeError(f"sentence {index}: word {missing} got no prediction (an alignment bug)")
    return out


def length_batches(
    items: Sequence[int], length: Callable[[int], int], size: int, *, longest_first: bool = False
) -> list[list[int]]:
    """`items` cut into batches of `size` items of similar `length` (sub-words or words), so
    that padding nearly vanishes. The sort is stable: items of one length keep their order,
    which a caller shuffles first for random ties."""
    order = sorted(items, key=length, reverse=longest_first)
    return [order[i : i + size] for i in range(0, len(order), size)]
