"""A selection written out: the batch in a corpus format or as annotation-tool tasks, with
`selection.jsonl` (why each sentence was chosen) and `summary.json`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nerqa.active.select import Selection
from nerqa.data.formats import ReadOptions
from nerqa.errors import NerqaError

if TYPE_CHECKING:
    pass


def selection_tasks(selection: Selection, tool: str) -> str:
    """The batch as annotation-tool tasks, rank order, pre-annotated with the model's spans.

    Each task carries `rank`, `score`, `strategy`, `reason`, `doc_id` and `position` under
    `nerqa` (Prodigy also shows rank, score and reason as `meta`). Label Studio's prediction
    `score` is `(rank - 1) / batch size`: sorting by it ascending follows nerqa's order.
    """
    from nerqa.data.tags import spans_from_tags
    from nerqa.interop.tasks import dump_tasks, task_record

    records = []
    for choice, fields in zip(selection.choices, selection.records()):
        predictions = (
            []
            if not selection.tags
            else [("nerqa", spans_from_tags(choice.tags), (choice.rank - 1) / len(selection.choices))]
        )
        fields = {k: v for k, v in fields.items() if k != "text"}
        meta = {"rank": choice.rank, "score": round(choice.score, 4), "reason": choice.reason}
        records.append(task_record(tool, choice.sentence.tokens, predictions, fields, meta=meta))
    return dump_tasks(records, tool)


SELECTION_FILE = "selection.jsonl"
SUMMARY_FILE = "summary.json"


def batch_files(
    selection: Selection,
    folder: str | Path,
    to: str,
    *,
    types: Sequence[str] = (),
    summary: dict | None = None,
    options: ReadOptions | None = None,
) -> dict[Path, str]:
    """Every file of a batch folder, built in memory (so a failure writes nothing):

    - the batch: `batch.EXT` in a corpus format (`text_batch.txt` + `labels_batch.txt` for
      NeMo), or `tasks.json` (Label Studio; with `labelstudio.xml`, its labeling config,
      when the entity `types` are known) / `tasks.jsonl` (Prodigy, doccano);
    - `selection.jsonl`: `Selection.records()`, one line per chosen sentence;
    - `summary.json`: counts, settings and whatever `summary` adds.
    """
    from nerqa.data.formats import EXTENSIONS, FORMATS, dump_text, nemo_files
    from nerqa.interop.tasks import TOOLS, label_config

    folder = Path(folder)
    files: dict[Path, str] = {}
    if to in TOOLS:
        files[folder / ("tasks.json" if to == "labelstudio" else "tasks.jsonl")] = selection_tasks(selection, to)
        if to == "labelstudio" and types:
            files[folder / "labelstudio.xml"] = label_config(types) + "\n"
    elif to == "nemo":
        files.update(nemo_files(selection.corpus(), folder, "batch", options or ReadOptions()))
    elif to in FORMATS:
        files[folder / f"batch{EXTENSIONS[to]}"] = dump_text(selection.corpus(), to)
    else:
        raise NerqaError(
            f"unknown output {to!r}; choose a format ({', '.join(FORMATS)}) or a tool ({', '.join(TOOLS)})"
        )
    files[folder / SELECTION_FILE] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in selection.records())
    content = {
        "strategy": selection.strategy,
        "diversity": selection.diversity,
        "counts": selection.counts,
        "settings": selection.settings,
        "output": to,
        "tags": list(selection.tags),
        **(summary or {}),
    }
    files[folder / SUMMARY_FILE] = json.dumps(content, indent=1, ensure_ascii=False) + "\n"
    return files
