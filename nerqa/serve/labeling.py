"""A Label Studio labeling config, as far as a named-entity backend needs it: which `<Labels>`
tag marks spans on which `<Text>`, what task field holds the text, and which labels it offers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass

from nerqa.errors import ConfigError


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
