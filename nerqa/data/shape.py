"""Word-shape features: what an uncased encoder never sees.

An uncased tokenizer lowercases every word before the model reads it, so "Apple" and "apple",
"AIDS" and "aids" reach it as one string. Capitalisation, digits and punctuation are among
the strongest signs of a named entity (general-domain names are capitalised; gene and
chemical names mix case and digits), so every audit classifier gets them beside the encoder's
features: the fast head concatenates them to each word's features; the fine-tuned models
(`full`, `nerqa.models.classifier.ShapedTokenClassifier`; `top`, `nerqa.models.top`) add them into the sequence
the encoder reads, so attention sees the neighbours' capitalisation, and beside its output at
the classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The features, in column order (each 0 or 1).
SHAPES = (
    "lower",  # letters, all lowercase
    "title",  # an uppercase letter, then lowercase letters
    "upper",  # two or more letters, all uppercase
    "mixed",  # upper and lower case otherwise ("mRNA", "McCain", "iPhone")
    "has_digit",
    "all_digits",
    "punct",  # no letter or digit
    "inner_punct",  # a hyphen, slash, dot or apostrophe between other characters ("IL-2", "O'Neil")
    "single_char",
    "sentence_start",
    "long",  # more than 12 characters
)
N_SHAPES = len(SHAPES)


def word_shape(word: str, first: bool = False) -> list[float]:
    """The `SHAPES` features of one word (`first`: it starts its sentence)."""
    letters = [c for c in word if c.isalpha()]
    has_upper = any(c.isupper() for c in letters)
    has_lower = any(c.islower() for c in letters)
    lower = bool(letters) and not has_upper
    title = (
        bool(letters)
        and letters[0].isupper()
        and word[0].isalpha()
        and all(c.islower() for c in letters[1:])
        and len(letters) > 1
    )
    upper = len(letters) > 1 and not has_lower
    mixed = has_upper and has_lower and not title
    has_digit = any(c.isdigit() for c in word)
    all_digits = word.isdigit()
    punct = not any(c.isalnum() for c in word)
    inner = len(word) > 2 and any(not c.isalnum() for c in word[1:-1])
    return [
        float(v)
        for v in (
            lower,
            title,
            upper,
            mixed,
            has_digit,
            all_digits,
            punct,
            inner,
            len(word) == 1,
            first,
            len(word) > 12,
        )
    ]


def window_shapes(owned: Sequence[tuple[int, int]], length: int, sentence_shapes: np.ndarray) -> np.ndarray:
    """The shapes of a window's words at their first sub-words: `(length, N_SHAPES)` float32,
    zeros elsewhere. `owned`: the window's `(position, word)` pairs (`nerqa.models.windows.Window`)."""
    out = np.zeros((length, N_SHAPES), dtype=np.float32)
    if owned:
        positions, words = zip(*owned)
        out[list(positions)] = sentence_shapes[list(words)]
    return out


def word_shapes(words: Sequence[str]) -> np.ndarray:
    """The shape features of a sentence's words: an `(n_words, N_SHAPES)` float32 array of 0/1."""
    if not words:
        return np.zeros((0, N_SHAPES), dtype=np.float32)
    return np.array([word_shape(w, i == 0) for i, w in enumerate(words)], dtype=np.float32)
