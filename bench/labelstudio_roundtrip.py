"""Review tasks and a selected batch through a real Label Studio.

Review: export the tasks, import them into a project, annotate over the API as a reviewer
would, export back, and read the result as nerqa decisions. Select: import a `nerqa select`
batch (pre-annotated tasks) into a second project, annotate all but one task (accept the
pre-annotation, or draw other spans), export, and read the export as a corpus as `nerqa
convert --merge` does: every annotated sentence must come back with the annotator's spans,
and the task nobody annotated must be left out.

Label Studio runs from its own virtual environment (its Django stack does not share nerqa's
pins): `--label-studio PATH`, else `$LABEL_STUDIO`, else `bench/.cache/label-studio-venv`,
created on first use with `pip install label-studio`. The server listens on 127.0.0.1 only
and is stopped at the end. Prints what it checked and exits 1 on any mismatch.

    python bench/labelstudio_roundtrip.py [--tasks 20] [--port 8765]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def label_studio_binary(given: str | None) -> Path:
    for candidate in (given, os.environ.get("LABEL_STUDIO")):
        if candidate:
            return Path(candidate)
    venv = ROOT / "bench" / ".cache" / "label-studio-venv"
    binary = venv / "bin" / "label-studio"
    if not binary.exists():
        print(f"Installing label-studio into {venv} (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        # sentry-sdk 3 dropped the options Label Studio passes it at start (`send_default_pii`).
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "label-studio", "sentry-sdk<3"], check=True)
    return binary


class Server:
    """A Label Studio server on 127.0.0.1 with a known API token."""

    def __init__(self, binary: Path, port: int, folder: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.token = secrets.token_hex(20)
        env = {**os.environ, "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "DJANGO_DB": "sqlite"}
        self.log = (folder / "label-studio.log").open("w")
        self.process = subprocess.Popen(
            [
                str(binary),
                "start",
                "--no-browser",
                "--host",
                "127.0.0.1",
                "--internal-host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(folder / "data"),
                "--username",
                "reviewer@nerqa.test",
                "--password",
                secrets.token_hex(8),
                "--user-token",
                self.token,
                "--enable-legacy-api-token",
                "--agree-fix-sqlite",
                "--log-level",
                "WARNING",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def wait(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"Label Studio exited with code {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(2)
        raise SystemExit(f"Label Studio did not answer in {timeout:.0f} s; see {self.log.name}")

    def call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label-studio", help="path of the label-studio executable")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tasks", type=int, default=20, help="issues sent for review")
    parser.add_argument("--skip-select", action="store_true", help="only the review round trip")
    add_smoke(parser, tasks=8)
    args = parse(parser)

    from review_helpers import review_audit

    from nerqa.data.tags import Span
    from nerqa.review.decisions import DecisionStore
    from nerqa.review.roundtrip import export_tasks, import_results, label_config
    from nerqa.review.session import ReviewSession

    binary = label_studio_binary(args.label_studio)
    with tempfile.TemporaryDirectory(prefix="nerqa-ls-") as scratch:
        folder = Path(scratch)
        session = ReviewSession(review_audit(), DecisionStore.open(folder), "bench")
        issues = session.queue()[: args.tasks]
        tasks = json.loads(export_tasks(session, issues, "labelstudio"))
        types = sorted({t.split("-", 1)[1] for t in session.result.tags if "-" in t})
        started = time.perf_counter()
        server = Server(binary, args.port, folder)
        try:
            server.wait()
            print(f"Label Studio up in {time.perf_counter() - started:.0f} s at {server.url}")
            project = server.call(
                "POST", "/api/projects", {"title": "nerqa review", "label_config": label_config(types, linked=True)}
            )
            server.call("POST", f"/api/projects/{project['id']}/import", tasks)
            listed = server.call("GET", f"/api/tasks?project={project['id']}&page_size=1000")
            listed = listed["tasks"] if isinstance(listed, dict) else listed
            print(f"Imported {len(listed)} tasks into project {project['id']}")
            wanted, ticked = {}, []
            for n, task in enumerate(listed):
                issue_id = task["data"]["nerqa"]["issue_id"]
                issue = session.result.issue(issue_id)
                tokens = session.result.corpus.sentences[issue.index].tokens
                predictions = {
                    p["model_version"]: p["result"] for p in server.call("GET", f"/api/predictions?task={task['id']}")
                }
                # The reviewer accepts the suggestion (always where the task lists linked mentions),
                # keeps the given labels, or draws one span.
                if n % 3 == 0 or task["data"].get("linked"):
                    result, after = list(predictions["nerqa-suggestion"]), session.suggestion(issue)
                    if task["data"].get("linked"):  # and ticks the first linked mention: the same change there
                        choice = {"choices": [task["data"]["linked"][0]["value"]]}
                        result.append({"from_name": "linked", "to_name": "text", "type": "choices", "value": choice})
                        ticked.append(task["data"]["nerqa"]["linked"][0])
                elif n % 3 == 1:
                    result, after = predictions["given"], session.spans(issue.index)
                else:
                    last = len(" ".join(tokens[:-1])) + (1 if len(tokens) > 1 else 0)
                    result = [
                        {
                            "from_name": "label",
                            "to_name": "text",
                            "type": "labels",
                            "value": {
                                "start": last,
                                "end": last + len(tokens[-1]),
                                "text": tokens[-1],
                                "labels": [types[0]],
                            },
                        }
                    ]
                    after = (Span(len(tokens) - 1, len(tokens), types[0]),)
                server.call("POST", f"/api/tasks/{task['id']}/annotations", {"result": result, "was_cancelled": False})
                wanted[issue_id] = tuple(sorted(after, key=lambda s: s.start))
            exported = server.call("GET", f"/api/projects/{project['id']}/export?exportType=JSON")
        finally:
            server.stop()
        path = folder / "export.json"
        path.write_text(json.dumps(exported))
        read = import_results(session, path, "labelstudio")
        decisions = [d for d in read if ":linked=" not in (d.origin or "")]
        got = {d.issue_id: d.after for d in decisions}
        # A ticked mention whose sentence no task of its own decided reads, once applied, as the
        # task's preview showed it.
        from nerqa.review.apply import apply_decisions

        session.store.record_new(read)
        written = apply_decisions(session.result.corpus, session.store.effective()).corpus
        own = {session.result.issue(i).index for i in wanted}
        alone = [m for m in ticked if m["index"] not in own]
        as_shown = sum(
            [[s.start, s.end, s.label] for s in written.sentences[m["index"]].spans] == m["after"] for m in alone
        )
        missing = sorted(set(wanted) - set(got))
        wrong = sorted(i for i in wanted if i in got and got[i] != wanted[i])
        print(
            f"Exported {len(exported)} tasks back; nerqa read {len(decisions)} decisions "
            f"({', '.join(f'{a} {sum(d.action == a for d in decisions)}' for a in ('accept', 'keep', 'edit'))}); "
            f"reviewers: {sorted({d.reviewer for d in decisions})}"
        )
        print(
            f"lost decisions: {len(missing)}, decisions with other spans: {len(wrong)}; linked mentions ticked "
            f"{len(ticked)}, {len(alone)} in sentences no task decided, {as_shown} of them written as their preview "
            "showed"
        )
        if missing or wrong or len(decisions) != len(issues) or as_shown != len(alone):
            raise SystemExit(1)
        if not args.skip_select:
            checked = select_round_trip(binary, args.port + 1, folder)
            print(
                f"select batch: {checked} annotated sentences read back with the annotator's spans, the "
                "unannotated task left out"
            )
        print("round trip through Label Studio: OK")


def select_round_trip(binary: Path, port: int, folder: Path) -> int:
    """A selected batch through Label Studio and back as a corpus; returns sentences checked."""
    import numpy as np
    from review_helpers import TAGS, one_hot, review_corpus

    from nerqa.active.batch import selection_tasks
    from nerqa.active.select import select
    from nerqa.data.corpus import Document
    from nerqa.data.formats import read_corpus
    from nerqa.data.tags import spans_from_tags
    from nerqa.interop.task_formats import label_config

    corpus = review_corpus()
    guesses = {s.tokens: one_hot(list(s.tags), 0.6) for s in corpus.sentences}

    class Model:  # the review corpus's own tags, at 0.6 confidence, as the pre-annotation
        tags = TAGS

        def __call__(self, sentences):
            vectors = np.random.default_rng(len(sentences)).normal(size=(len(sentences), 8)).astype(np.float32)
            return [guesses[tuple(s)] for s in sentences], vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    selection = select([Document(d.id, d.sentences) for d in corpus.documents], Model(), budget=6, diversity="off")
    tasks = json.loads(selection_tasks(selection, "labelstudio"))
    types = sorted({t.split("-", 1)[1] for t in TAGS if "-" in t})
    (folder / "select").mkdir(exist_ok=True)
    server = Server(binary, port, folder / "select")
    wanted = {}
    try:
        server.wait()
        project = server.call("POST", "/api/projects", {"title": "nerqa select", "label_config": label_config(types)})
        server.call("POST", f"/api/projects/{project['id']}/import", tasks)
        listed = server.call("GET", f"/api/tasks?project={project['id']}&page_size=1000")
        listed = listed["tasks"] if isinstance(listed, dict) else listed
        for n, task in enumerate(listed[:-1]):  # the last task is left for later
            text = task["data"]["text"]
            predictions = server.call("GET", f"/api/predictions?task={task['id']}")
            if n % 2 == 0:  # accept the pre-annotation as it is
                result = predictions[0]["result"]
                spans = [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in result]
            else:  # the annotator marks the first word as a C entity instead
                first = text.split(" ")[0]
                result = [
                    {
                        "from_name": "label",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": 0, "end": len(first), "text": first, "labels": ["C"]},
                    }
                ]
                spans = [(0, len(first), "C")]
            server.call("POST", f"/api/tasks/{task['id']}/annotations", {"result": result, "was_cancelled": False})
            wanted[text] = sorted(spans)
        exported = server.call("GET", f"/api/projects/{project['id']}/export?exportType=JSON&download_all_tasks=true")
    finally:
        server.stop()
    path = folder / "select-export.json"
    path.write_text(json.dumps(exported))
    batch = read_corpus(path)
    got = {}
    for sentence in batch.sentences:
        text = " ".join(sentence.tokens)
        starts = np.cumsum([0] + [len(t) + 1 for t in sentence.tokens])
        got[text] = sorted(
            (int(starts[s.start]), int(starts[s.end - 1] + len(sentence.tokens[s.end - 1])), s.label)
            for s in spans_from_tags(sentence.tags)
        )
    if got != wanted:
        print(f"select batch: expected {wanted}, read {got}")
        raise SystemExit(1)
    return len(got)


if __name__ == "__main__":
    main()
