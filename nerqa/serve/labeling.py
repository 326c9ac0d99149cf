"""A Label Studio labeling config, as far as a named-entity backend needs it.

A Label Studio labeling config, as far as a named-entity backend needs it: which `<Labels>`
tag marks spans on which `<Text>`, what task field holds the text, and which labels it offers;
and the conversions between a task under that config and nerqa's sentences and spans.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nerqa.data.corpus import Document, Sentence
from nerqa.data.formats.common import document_from_text
from nerqa.data.tags import spans_from_tags
from nerqa.errors import ConfigError, NerqaError


@dataclass(frozen=True)
class LabelingConfig:
    """`from_name`: the `<Labels>` tag's name; `to_name`: its `<Text>`; `field`: the task
    data field the text is read from (`$text` -> `text`); `labels`: the label values."""

    from_name: str
    to_name: str
    field: str
    labels: tuple[str, ...]


def parse_labeling_config(xml: str) -> LabelingConfig:
    """The first `<Labels>` on a `<Text>` of a labeling config; `ConfigError` if there is none."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        raise ConfigError(f"the labeling config is not valid XML: {error}") from None
    texts = {t.get("name"): t for t in root.iter("Text")}
    for labels in root.iter("Labels"):
        text = texts.get(labels.get("toName"))
        if text is None or not (text.get("value") or "").startswith("$"):
            continue
        values = tuple(label.get("value") for label in labels.iter("Label") if label.get("value"))
        return LabelingConfig(labels.get("name") or "", labels.get("toName") or "", text.get("value")[1:], values)
    raise ConfigError(
        'the labeling config has no <Labels toName="..."> on a <Text value="$field">: '
        "nerqa serve labels named-entity spans in text"
    )


def check_labels(config: LabelingConfig, types: Sequence[str]) -> None:
    """Refuse a config offering a label the model cannot produce (one `ConfigError` naming them)."""
    unknown = [label for label in config.labels if label not in types]
    if unknown:
        raise ConfigError(
            f"the labeling config's label{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"{'are' if len(unknown) > 1 else 'is'} not a type this model predicts ({', '.join(types)}); "
            "use the model's type names in <Label value=...>"
        )
    if not config.labels:
        raise ConfigError(f"the labeling config's <Labels name={config.from_name!r}> offers no <Label>")


def task_document(task: dict, config: LabelingConfig) -> Document:
    """A Label Studio task's text as nerqa reads raw text (sentences, words, character offsets);
    an empty document when the task has no text."""
    data = task.get("data") or {}
    text = data.get(config.field)
    if not isinstance(text, str) or not text.strip():
        return Document(None, (), "")
    return document_from_text(None, text, [(0, len(text))], [], path=f"task {task.get('id')}", line=None)


def regions(
    text: str,
    sentence: Sentence,
    probs: np.ndarray,
    tags: Sequence[str],
    config: LabelingConfig,
    column: dict[str, int],
) -> list[dict]:
    """The `labels` regions (character offsets in `text`) of a sentence's predicted `tags`, each
    scored by its words' mean probability of their tag (`probs` `(n_words, n_tags)`, a tag's
    column in `column`); types the project does not label are left out."""
    out = []
    for span in spans_from_tags(tags):
        if span.label not in config.labels:
            continue
        start, end = sentence.offsets[span.start][0], sentence.offsets[span.end - 1][1]
        confidence = float(np.mean([probs[w, column[tags[w]]] for w in range(span.start, span.end)]))
        out.append(
            {
                "from_name": config.from_name,
                "to_name": config.to_name,
                "type": "labels",
                "value": {"start": start, "end": end, "text": text[start:end], "labels": [span.label]},
                "score": round(confidence, 6),
            }
        )
    return out


def annotated_spans(task: dict, result: list, config: LabelingConfig) -> tuple[str, list[tuple[int, int, str]]]:
    """A task's text and the `(start, end, label)` spans of an annotation's regions on the
    config's `<Labels>` (other regions, such as relations, are left out)."""
    text = (task.get("data") or {}).get(config.field)
    if not isinstance(text, str):
        raise NerqaError(f"task {task.get('id')}: no text in data.{config.field}")
    spans = []
    for region in result:
        value = region.get("value") or {}
        if region.get("from_name", config.from_name) != config.from_name or "start" not in value:
            continue
        labels = value.get("labels") or []
        if labels:
            spans.append((int(value["start"]), int(value["end"]), str(labels[0])))
    return text, sorted(spans)
