"""Hypothesis strategies the parser tests share: valid IOB2 tag sequences and CoNLL files with
extra columns."""

from __future__ import annotations

from hypothesis import strategies as st

WORD = st.text(alphabet="abcXYZ019.,-/()'", min_size=1, max_size=6).filter(lambda w: w != "-DOCSTART-")
TYPES = st.sampled_from(["PER", "LOC", "ORG"])


@st.composite
def iob2_tags(draw, length: int) -> list[str]:
    """A valid IOB2 sequence of `length` tags."""
    tags, previous = [], "O"
    for _ in range(length):
        kind = draw(st.sampled_from(["O", "B", "I"] if previous != "O" else ["O", "B"]))
        tags.append("O" if kind == "O" else f"{kind}-{previous[2:] if kind == 'I' else draw(TYPES)}")
        previous = tags[-1]
    return tags


@st.composite
def conll_files(draw) -> tuple[str, int]:
    """CoNLL text with 0-4 extra columns between token and tag, optional DOCSTART lines, spaces
    or TABs; and the number of columns per token line."""
    extra = draw(st.integers(0, 4))
    separator = draw(st.sampled_from([" ", "\t"]))
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            lines += [separator.join(["-DOCSTART-"] + ["-X-"] * extra + ["O"]), ""]
        for _ in range(draw(st.integers(1, 3))):
            length = draw(st.integers(1, 6))
            tags = draw(iob2_tags(length))
            for tag in tags:
                middle = [draw(WORD) for _ in range(extra)]
                lines.append(separator.join([draw(WORD), *middle, tag]))
            lines.append("")
    return "\n".join(lines) + "\n", extra + 2
