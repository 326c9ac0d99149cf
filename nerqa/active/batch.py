"""A batch chosen from a pool and written out as corpus files or tool tasks.

A batch chosen and written out: `select_batch` chooses from a pool with `SelectSettings`
(the cold-start rules and the predictor included), and `batch_files` builds the batch in a
corpus format or as annotation-tool tasks, with `selection.jsonl` (why each sentence was
chosen) and `summary.json`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nerqa.active.diversity import DIVERSITY
from nerqa.active.select import Selection
from nerqa.active.strategies import DEFAULT_STRATEGY, STRATEGIES
from nerqa.config import check_choice, check_range
from nerqa.data.corpus import Corpus
from nerqa.data.formats import ReadOptions
from nerqa.data.probs import type_classes
from nerqa.errors import ConfigError, NerqaError
from nerqa.progress import ProgressCallback, quiet


def selection_tasks(selection: Selection, tool: str) -> str:
    """The batch as annotation-tool tasks, rank order, pre-annotated with the model's spans.

    Each task carries `rank`, `score`, `strategy`, `reason`, `doc_id` and `position` under
    `nerqa` (Prodigy also shows rank, score and reason as `meta`). Label Studio's prediction
    `score` is `(rank - 1) / batch size`: sorting by it ascending follows nerqa's order.
    """
    from nerqa.data.tags import spans_from_tags
    from nerqa.interop.task_formats import dump_tasks, task_record

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
    from nerqa.interop.task_formats import TOOLS, label_config

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


@dataclass(frozen=True)
class SelectSettings:
    """How `select_batch` chooses, checked when made: `budget` sentences by `strategy` with the
    `diversity` guard, `seed` for random choices; with a trained `model` its uncertainty,
    without one a cold start that chooses for coverage of the `encoder`'s embeddings (default:
    the bundled MiniLM); `to` the batch format (a corpus format or an annotation tool)."""

    budget: int
    strategy: str = DEFAULT_STRATEGY
    diversity: str = "near-duplicates"
    seed: int = 42
    model: Path | None = None
    encoder: Path | None = None
    to: str = "jsonl"

    def __post_init__(self) -> None:
        from nerqa.data.formats import FORMATS
        from nerqa.interop.task_formats import TOOLS

        check_choice("--strategy", self.strategy, STRATEGIES)
        check_choice("--diversity", self.diversity, DIVERSITY)
        check_choice("--to", self.to, FORMATS + TOOLS)
        check_range("--budget", self.budget, low=1, integer=True)
        if self.model is not None and self.encoder is not None:
            raise ConfigError("--encoder is for a cold start (no --model); a trained model brings its own encoder")
        if self.cold_start and (self.strategy != DEFAULT_STRATEGY or self.diversity != "near-duplicates"):
            raise ConfigError(
                "without --model there are no uncertainty scores: a cold start chooses for coverage (drop "
                "--strategy and --diversity)"
            )

    @property
    def cold_start(self) -> bool:
        return self.model is None

    def predictor(self):
        """The trained classifier's predictor, or (no model) the bare encoder's for a cold start."""
        from nerqa.active.predictors import ClassifierPredictor, EncoderPredictor

        if self.model is None:
            return EncoderPredictor(self.encoder)
        from nerqa.models.classifier import load_classifier

        return ClassifierPredictor(load_classifier(self.model))


def select_batch(
    pool: str | Path,
    settings: SelectSettings,
    *,
    labeled: Corpus | None = None,
    format: str | None = None,
    options: ReadOptions | None = None,
    text: bool = False,
    spread: Callable | None = None,
    progress: ProgressCallback = quiet,
) -> tuple[Selection, dict[Path, str]]:
    """Choose `settings.budget` sentences of the unlabeled `pool` (`open_pool`: raw text, a
    folder of .txt files, or a corpus read with `format`/`options`, its labels ignored; `text`:
    raw text whatever it looks like) that `labeled` does not hold, and build the batch's files
    (`batch_files`, names relative to the batch folder). `spread` wraps the predictor to run
    elsewhere (`nerqa.active.ray_pool.RayPredictor` over a cluster)."""
    from nerqa.active.pool import labeled_keys, open_pool
    from nerqa.active.select import PoolStream, select

    started = time.perf_counter()
    predictor = settings.predictor()
    if spread is not None:
        predictor = spread(predictor)
    documents, total = open_pool(pool, format=format, options=options, text=text)
    selection = select(
        documents,
        predictor,
        budget=settings.budget,
        strategy=settings.strategy,
        diversity=settings.diversity,
        skip=labeled_keys(labeled) if labeled is not None else frozenset(),
        seed=settings.seed,
        stream=PoolStream(total_documents=total, progress=progress),
    )
    types = type_classes(selection.tags)[1:] or (list(labeled.entity_types) if labeled is not None else [])
    summary = {
        "pool": str(pool),
        "model": str(settings.model) if settings.model else None,
        "encoder": str(settings.encoder) if settings.encoder else None,
        "labeled": labeled.name if labeled is not None else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return selection, batch_files(selection, Path(), settings.to, types=types, summary=summary, options=options)
