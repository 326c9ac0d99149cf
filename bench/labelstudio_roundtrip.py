"""Review tasks through a real Label Studio: export, import into a project, annotate over the
API as a reviewer would, export back, and read the result as nerqa decisions.

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
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "label-studio"], check=True)
    return binary


class Server:
    """A Label Studio server on 127.0.0.1 with a known API token."""

    def __init__(self, binary: Path, port: int, folder: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.token = secrets.token_hex(20)
        env = {**os.environ, "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "DJANGO_DB": "sqlite"}
        self.log = (folder / "label-studio.log").open("w")
        self.process = subprocess.Popen(
            [str(binary), "start", "--no-browser", "--host", "127.0.0.1", "--internal-host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(folder / "data"), "--username", "reviewer@nerqa.test", "--password", secrets.token_hex(8),
             "--user-token", self.token, "--enable-legacy-api-token", "--agree-fix-sqlite", "--log-level", "WARNING"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
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
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"})
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label-studio", help="path of the label-studio executable")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tasks", type=int, default=20, help="issues sent for review")
    args = parser.parse_args()

    from nerqa.review.decisions import DecisionStore
    from nerqa.review.session import ReviewSession
    from nerqa.review.tasks import export_tasks, import_results, label_config
    from nerqa.tags import Span
    from review_helpers import review_audit

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
            project = server.call("POST", "/api/projects", {"title": "nerqa review", "label_config": label_config(types)})
            server.call("POST", f"/api/projects/{project['id']}/import", tasks)
            listed = server.call("GET", f"/api/tasks?project={project['id']}&page_size=1000")
            listed = listed["tasks"] if isinstance(listed, dict) else listed
            print(f"Imported {len(listed)} tasks into project {project['id']}")
            wanted = {}
            for n, task in enumerate(listed):
                issue_id = task["data"]["nerqa"]["issue_id"]
                issue = session.result.issue(issue_id)
                tokens = session.result.corpus.sentences[issue.index].tokens
                predictions = {p["model_version"]: p["result"] for p in server.call("GET", f"/api/predictions?task={task['id']}")}
                # The reviewer accepts the suggestion, keeps the given labels, or draws one span.
                if n % 3 == 0:
                    result, after = predictions["nerqa-suggestion"], session.suggestion(issue)
                elif n % 3 == 1:
                    result, after = predictions["given"], session.spans(issue.index)
                else:
                    last = len(" ".join(tokens[:-1])) + (1 if len(tokens) > 1 else 0)
                    result = [{"from_name": "label", "to_name": "text", "type": "labels",
                               "value": {"start": last, "end": last + len(tokens[-1]), "text": tokens[-1], "labels": [types[0]]}}]
                    after = (Span(len(tokens) - 1, len(tokens), types[0]),)
                server.call("POST", f"/api/tasks/{task['id']}/annotations", {"result": result, "was_cancelled": False})
                wanted[issue_id] = tuple(sorted(after, key=lambda s: s.start))
            exported = server.call("GET", f"/api/projects/{project['id']}/export?exportType=JSON")
        finally:
            server.stop()
        path = folder / "export.json"
        path.write_text(json.dumps(exported))
        decisions = import_results(session, path, "labelstudio")
        got = {d.issue_id: d.after for d in decisions}
        missing = sorted(set(wanted) - set(got))
        wrong = sorted(i for i in wanted if i in got and got[i] != wanted[i])
        print(f"Exported {len(exported)} tasks back; nerqa read {len(decisions)} decisions "
              f"({', '.join(f'{a} {sum(d.action == a for d in decisions)}' for a in ('accept', 'keep', 'edit'))}); "
              f"reviewers: {sorted({d.reviewer for d in decisions})}")
        print(f"lost decisions: {len(missing)}, decisions with other spans: {len(wrong)}")
        if missing or wrong or len(decisions) != len(issues):
            raise SystemExit(1)
        print("round trip through Label Studio: OK")


if __name__ == "__main__":
    main()
