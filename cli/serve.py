"""`nerqa serve`: a Label Studio ML backend: predictions with an active-learning score, and
retraining on the annotations Label Studio sends."""

from __future__ import annotations

import logging
import signal
import socket
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from nerqa.active.strategies import DEFAULT_STRATEGY, STRATEGIES
from nerqa.errors import NerqaError
from nerqa.files import claim_folder
from nerqa_cli.console import console, counted, existing_path, prepare_models, user_errors
from nerqa_cli.reading import CorpusReader, ForceOpt, with_reader

LOG_FILE = "serve.log"


def _log_to(path: Path) -> logging.Handler:
    """The web server's and the SDK's own logs (requests, tracebacks) go to the log file only."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("werkzeug", "label_studio_ml"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return handler


@with_reader
def serve_cli(
    model: Annotated[Path, typer.Argument(help="Trained token classifier (nerqa train's folder, or any HF one).")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Folder for the annotation store (SQLite), the retrained models and serve.log."
        ),
    ] = Path("serve"),
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9090,
    retrain_every: Annotated[
        int, typer.Option(help="Retrain after this many new annotations (0: only on Label Studio's Start Training).")
    ] = 20,
    retrain: Annotated[
        str,
        typer.Option(
            metavar="fast|full",
            help="fast: a BiLSTM head on the model's frozen encoder (seconds); full: fine-tune the whole model.",
        ),
    ] = "fast",
    corpus: Annotated[
        Optional[Path],
        typer.Option(help="What MODEL was trained on: each retraining learns from it and the annotations."),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(
            metavar="|".join(s for s in STRATEGIES if s != "random"),
            help="Uncertainty behind each prediction's score (as nerqa select's).",
        ),
    ] = DEFAULT_STRATEGY,
    epochs: Annotated[float, typer.Option(help="Epochs of a full retraining.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of every retraining: one store, one model.")] = 0,
    force: ForceOpt = False,
    *,
    reader: CorpusReader,
) -> None:
    """Serve a model to Label Studio as an ML backend, with active learning and retraining."""
    with user_errors():
        from nerqa.serve.backend import ServeSettings

        settings = ServeSettings(every=retrain_every, retrain=retrain, strategy=strategy, epochs=epochs, seed=seed)
        existing_path(model)
        from nerqa.serve.backend import STORE_FILE, VERSIONS_FOLDER

        claim_folder(out, own=(STORE_FILE, VERSIONS_FOLDER, LOG_FILE), force=force)
        base = reader.read(corpus) if corpus is not None else None
        log_file = out / LOG_FILE
        handler = _log_to(log_file)

        def log(line: str) -> None:
            text = f"{time.strftime('%H:%M:%S')} {line}"
            console.print(text, highlight=False, markup=False)
            handler.stream.write(text + "\n")
            handler.flush()

        prepare_models()
        from nerqa.serve.app import make_app, sdk
        from nerqa.serve.backend import Backend

        sdk()  # a missing SDK: one line before the model loads
        try:
            # Bound here, not by werkzeug, which prints its own message and exits on a busy port.
            listening = socket.create_server((host, port))
        except OSError as error:
            raise NerqaError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
        backend = Backend(model, out, settings, corpus=base, log=log)
        from werkzeug.serving import make_server

        # `kill` stops the server as Ctrl-C does (every annotation is already committed), from
        # before the line that says it serves: a kill the moment it is read still stops cleanly.
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        server = None
        try:
            server = make_server(host, port, make_app(backend), threaded=True, fd=listening.fileno())
            stored = len(backend.store.annotations())
            every = f"every {retrain_every} annotations" if retrain_every else "on Start Training only"
            log(
                f"Serving {backend.version} (types: {', '.join(backend.types)}) at http://{host}:{server.port}; "
                f"{counted(stored, 'annotation')} stored in {backend.store.path}; retraining ({retrain}) {every}"
            )
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            if server is not None:
                server.server_close()
            # Torch's threads must not be running when the interpreter exits (it aborts).
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if backend.training.running:
                log("Stopping: waiting for the retraining to finish or abandon")
            backend.close()
        log(f"Stopped; {counted(len(backend.store.annotations()), 'annotation')} kept in {backend.store.path}")
