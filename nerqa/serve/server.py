"""Running `nerqa serve` until a signal, then closing cleanly.

Running `nerqa serve`: bind the address, serve the app until Ctrl-C or SIGTERM, then close
the backend cleanly, with every event in the folder's log and handed to a callback."""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from nerqa.data.corpus import Corpus
from nerqa.errors import NerqaError
from nerqa.serve.backend import STORE_FILE, VERSIONS_FOLDER, Backend, ServeSettings
from nerqa.text import counted

LOG_FILE = "serve.log"
# What the serve folder holds that nerqa wrote there.
SERVE_FOLDER_NAMES = (STORE_FILE, VERSIONS_FOLDER, LOG_FILE)


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


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket; bound here, not by werkzeug, which prints its own message and
    exits on a busy port."""
    try:
        return socket.create_server((host, port))
    except OSError as error:
        raise NerqaError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def serve(
    model: str | Path,
    folder: str | Path,
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 9090,
    corpus: Corpus | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> None:
    """Serve `model` to Label Studio from `folder` (its annotation store, retrained versions and
    `serve.log`) at `host:port` until Ctrl-C or SIGTERM; return once the backend is closed (a
    running retraining finished or abandoned). Each event is one line, timed, in `serve.log`
    and passed to `log`. Raises `NerqaError` before loading the model when the SDK is missing
    or the address is taken."""
    from nerqa.serve.app import make_app, sdk

    folder = Path(folder)
    handler = _log_to(folder / LOG_FILE)

    def logged(line: str) -> None:
        text = f"{time.strftime('%H:%M:%S')} {line}"
        log(text)
        handler.stream.write(text + "\n")
        handler.flush()

    sdk()  # a missing SDK: one line before the model loads
    listening = _listen(host, port)
    backend = Backend(model, folder, settings, corpus=corpus, log=logged)
    from werkzeug.serving import make_server

    # `kill` stops the server as Ctrl-C does (every annotation is already committed), from
    # before the line that says it serves: a kill the moment it is read still stops cleanly.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    server = None
    try:
        server = make_server(host, port, make_app(backend), threaded=True, fd=listening.fileno())
        stored = len(backend.store.annotations())
        every = f"every {settings.every} annotations" if settings.every else "on Start Training only"
        logged(
            f"Serving {backend.version} (types: {', '.join(backend.types)}) at http://{host}:{server.port}; "
            f"{counted(stored, 'annotation')} stored in {backend.store.path}; retraining ({settings.retrain}) {every}"
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
            logged("Stopping: waiting for the retraining to finish or abandon")
        backend.close()
    logged(f"Stopped; {counted(len(backend.store.annotations()), 'annotation')} kept in {backend.store.path}")
