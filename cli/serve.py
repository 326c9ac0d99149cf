"""`nerqa serve`: a Label Studio ML backend with active learning.

`nerqa serve`: a Label Studio ML backend: predictions with an active-learning score, and
retraining on the annotations Label Studio sends."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nerqa.active.strategies import DEFAULT_STRATEGY, STRATEGIES
from nerqa.files import claim_folder
from nerqa_cli.console import console, existing_path, prepare_models, user_errors
from nerqa_cli.reading import CorpusReader, ForceOpt, with_reader

OutOpt = Annotated[
    Path,
    typer.Option("--out", "-o", help="Folder for the annotation store (SQLite), the retrained models and serve.log."),
]
RetrainEveryOpt = Annotated[
    int, typer.Option(help="Retrain after this many new annotations (0: only on Label Studio's Start Training).")
]
RetrainOpt = Annotated[
    str,
    typer.Option(
        metavar="fast|full",
        help="fast: a BiLSTM head on the model's frozen encoder (seconds); full: fine-tune the whole model.",
    ),
]
CorpusOpt = Annotated[
    Optional[Path], typer.Option(help="What MODEL was trained on: each retraining learns from it and the annotations.")
]
StrategyOpt = Annotated[
    str,
    typer.Option(
        metavar="|".join(s for s in STRATEGIES if s != "random"),
        help="Uncertainty behind each prediction's score (as nerqa select's).",
    ),
]


@with_reader
def serve_cli(
    model: Annotated[Path, typer.Argument(help="Trained token classifier (nerqa train's folder, or any HF one).")],
    out: OutOpt = Path("serve"),
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9090,
    retrain_every: RetrainEveryOpt = 20,
    retrain: RetrainOpt = "fast",
    corpus: CorpusOpt = None,
    strategy: StrategyOpt = DEFAULT_STRATEGY,
    epochs: Annotated[float, typer.Option(help="Epochs of a full retraining.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of every retraining: one store, one model.")] = 42,
    force: ForceOpt = False,
    *,
    reader: CorpusReader,
) -> None:
    """Serve a model to Label Studio as an ML backend, with active learning and retraining."""
    with user_errors():
        from nerqa.serve.app import sdk
        from nerqa.serve.backend import ServeSettings
        from nerqa.serve.server import SERVE_FOLDER_NAMES, serve

        sdk()  # a missing SDK: one line, before any folder is made or model loaded

        settings = ServeSettings(every=retrain_every, retrain=retrain, strategy=strategy, epochs=epochs, seed=seed)
        existing_path(model)
        claim_folder(out, own=SERVE_FOLDER_NAMES, force=force)
        base = reader.read(corpus) if corpus is not None else None
        prepare_models()
        say = lambda line: console.print(line, highlight=False, markup=False)  # noqa: E731
        serve(model, out, settings, host=host, port=port, corpus=base, log=say)
