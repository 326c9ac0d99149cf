"""Tasks in the annotation tools' formats, and spans between their offsets and tokens.

Tasks for the annotation tools people already use (Label Studio, Prodigy, doccano).

A task is one sentence, its tokens joined by single spaces, pre-annotated with spans and
carrying nerqa's own fields under `nerqa` (Label Studio: `data.nerqa`), so the tool's export
maps back. Review tasks (`nerqa.review.roundtrip`) and selected batches (`nerqa.active.select`) are
built here.

- Label Studio (`labelstudio`): a JSON list of tasks; spans are `predictions` (each a
  `model_version`, an optional `score`, and a `result` of `labels` regions) for the
  `<Labels name="label" toName="text">` config that `label_config` writes.
- Prodigy (`prodigy`): JSONL with `text`, `tokens` and `spans` (`token_end` inclusive, as
  Prodigy has it) and a `meta` that Prodigy shows beside the task.
- doccano (`doccano`): JSONL with `text` and `label` (`[start, end, type]`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from nerqa.data.tags import Span, ordered
from nerqa.errors import NerqaError

TOOLS = ("labelstudio", "prodigy", "doccano")
FROM_NAME, TO_NAME = "label", "text"
# A task's spans under one name: (model_version, spans, score or None).
Prediction = tuple[str, Sequence[Span], "float | None"]


def check_tool(tool: str) -> str:
    if tool not in TOOLS:
        raise NerqaError(f"unknown tool {tool!r}; tools are {', '.join(TOOLS)}")
    return tool


def token_starts(tokens: Sequence[str]) -> list[int]:
    """Character offset of each token in `" ".join(tokens)`."""
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    return starts


def char_spans(tokens: Sequence[str], spans: Sequence[Span]) -> list[tuple[int, int, str]]:
    """Token spans as `(start, end, type)` character spans over `" ".join(tokens)`."""
    starts = token_starts(tokens)
    return [(starts[s.start], starts[s.end - 1] + len(tokens[s.end - 1]), s.label) for s in spans]


def token_spans(tokens: Sequence[str], spans: Sequence[tuple[int, int, str]], *, where: str) -> tuple[Span, ...]:
    """Character spans over `" ".join(tokens)` back to token spans (sorted, repeats dropped);
    a span that does not start and end on token edges is an error naming `where`."""
    starts = token_starts(tokens)
    first = {c: i for i, c in enumerate(starts)}
    last = {c + len(t): i for i, (c, t) in enumerate(zip(starts, tokens))}
    out = []
    for start, end, label in spans:
        if start not in first or end not in last:
            raise NerqaError(f"{where}: span {start}-{end} ({label}) does not start and end at token edges")
        out.append(Span(first[start], last[end] + 1, label))
    return ordered(out)


LINKED_NAME = "linked"


def label_config(types: Sequence[str], *, linked: bool = False) -> str:
    """A Label Studio labeling config for the tasks: one `Labels` over the text; with `linked`,
    below it a checkbox per linked mention (`Choices` loaded from the task's `linked` list), to
    extend the decision to the ticked ones."""
    labels = "".join(f'<Label value="{t}"/>' for t in types)
    extend = (
        '<Header value="Make the same change at these mentions too (tick them):"/>'
        f'<Choices name="{LINKED_NAME}" toName="{TO_NAME}" choice="multiple" value="${LINKED_NAME}"/>'
        if linked
        else ""
    )
    return (
        f'<View><Labels name="{FROM_NAME}" toName="{TO_NAME}">{labels}</Labels><Text name="{TO_NAME}" '
        f'value="$text"/>{extend}</View>'
    )


def labelstudio_result(tokens: Sequence[str], spans: Sequence[Span], prefix: str) -> list[dict]:
    """Label Studio `labels` regions for token spans over `" ".join(tokens)`; region ids are
    `prefix` and a number."""
    text = " ".join(tokens)
    return [
        {
            "id": f"{prefix}{n}",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "value": {"start": a, "end": b, "text": text[a:b], "labels": [label]},
        }
        for n, (a, b, label) in enumerate(char_spans(tokens, spans))
    ]


def task_record(
    tool: str, tokens: Sequence[str], predictions: Sequence[Prediction], nerqa: dict, *, meta: dict | None = None
) -> dict:
    """One task for `tool`.

    Args:
        predictions: the spans to show. Label Studio gets every one as a prediction; Prodigy
            and doccano, which show one set, get the last one, and the others under
            `nerqa.<model_version>_spans` as `[start, end, type]` lists.
        nerqa: nerqa's fields (ids, scores, reasons) for mapping the export back.
        meta: what Prodigy shows beside the task (default: none).
    """
    check_tool(tool)
    text = " ".join(tokens)
    # Sentence bounds make nerqa's reader keep the task as one sentence.
    bounds = [[0, len(text)]]
    if tool == "labelstudio":
        data = {"text": text, "sentences": bounds, "nerqa": nerqa}
        if "linked" in nerqa:
            data[LINKED_NAME] = [{"value": mention["label"]} for mention in nerqa["linked"]]
        if nerqa.get("doc_id") is not None:
            data["doc_id"] = nerqa["doc_id"]
        return {
            "data": data,
            "predictions": [
                {
                    "model_version": name,
                    **({"score": score} if score is not None else {}),
                    "result": labelstudio_result(tokens, spans, f"{name[:1]}{n}-"),
                }
                for n, (name, spans, score) in enumerate(predictions)
            ],
        }
    shown = predictions[-1][1] if predictions else ()
    others = {
        f"{name}_spans": [[a, b, label] for a, b, label in char_spans(tokens, spans)]
        for name, spans, _ in predictions[:-1]
    }
    fields = {**nerqa, **others}
    if tool == "prodigy":
        starts = token_starts(tokens)
        return {
            "text": text,
            "tokens": [
                {"text": t, "start": c, "end": c + len(t), "id": i, "ws": i < len(tokens) - 1}
                for i, (t, c) in enumerate(zip(tokens, starts))
            ],
            "spans": [
                {"start": a, "end": b, "token_start": s.start, "token_end": s.end - 1, "label": s.label}
                for s, (a, b, _) in zip(shown, char_spans(tokens, shown))
            ],
            "sentences": bounds,
            "meta": meta or {},
            "nerqa": fields,
        }
    return {
        "text": text,
        "label": [[a, b, label] for a, b, label in char_spans(tokens, shown)],
        "sentences": bounds,
        "nerqa": fields,
    }


def dump_tasks(records: Sequence[dict], tool: str) -> str:
    """Tasks as the tool imports them: a JSON list for Label Studio, JSONL otherwise."""
    if check_tool(tool) == "labelstudio":
        return json.dumps(list(records), ensure_ascii=False, indent=1) + "\n"
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def read_records(path: Path) -> list[tuple[str, dict]]:
    """`(where, record)` pairs from a tool's export: a JSON list or JSONL; `where` names the
    file and the task number (JSON list) or line (JSONL)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise NerqaError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise NerqaError(f"{path}: not valid UTF-8 at byte {error.start}") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise NerqaError(f"{path}, line {error.lineno}: not JSON: {error.msg}") from None
        return [(f"{path}, task {n}", r) for n, r in enumerate(data, start=1)]
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                out.append((f"{path}, line {number}", json.loads(line)))
            except json.JSONDecodeError as error:
                raise NerqaError(f"{path}, line {number}: not JSON: {error.msg}") from None
    return out
