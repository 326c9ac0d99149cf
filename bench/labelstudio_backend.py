"""`nerqa serve` as the ML backend of a real Label Studio, then a simulated annotation session.

Part 1, against Label Studio started locally (its own venv, as bench/labelstudio_roundtrip.py):
  1. connect `nerqa serve` to a project over the API (and see a project whose labels the
     model cannot produce refused, with nerqa's message);
  2. import NCBI tasks and have Label Studio fetch predictions for all of them;
  3. check that Label Studio's own sort on prediction score (a Data Manager view ordered by
     `tasks:predictions_score`) gives `nerqa select`'s order on the same model;
  4. annotate tasks over the API (the NCBI spans), which Label Studio sends to the backend;
  5. press Start Training (the API's train call) and see the version change in new predictions;
  6. restart the backend and see nothing lost: annotations, version, the same predictions.
Printed: the time per prediction request (one task, as when an annotator opens a task, and
Label Studio's batch for all tasks) and the retraining time.

Part 2, a simulated annotation session through the backend's HTTP API: a model trained on a
small NCBI seed set serves a pool of NCBI train sentences; each round the annotator labels
the `--step` tasks with the lowest prediction score (active learning) or random ones, with
the labels NCBI has, and the backend retrains (`--retrain`: the fast head by default) after
every `--step` annotations. After each retraining the served model tags NCBI dev; strict entity F1 (character spans)
is printed per round: the active order against the mean of `--random-orders` random ones.

The base model is trained once with `nerqa train` (cached in bench/.cache). Exits 1 when a
check fails.

    python bench/labelstudio_backend.py [--tasks 50] [--annotate 20] [--seed-sentences 200] [--epochs 10]
        [--pool 600] [--dev 400] [--rounds 5] [--step 40] [--random-orders 3] [--retrain fast|full]
        [--skip-label-studio] [--skip-session]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

DATA = ROOT.parent / "shared" / "data" / "ncbi_disease" / "iob"
NERQA = [sys.executable, "-m", "nerqa_cli.main"]
FAILED: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  [{'ok' if ok else 'FAILED'}] {what}", flush=True)
    if not ok:
        FAILED.append(what)


def http(method: str, url: str, body=None, *, token: str | None = None, timeout: float = 600):
    """JSON in, JSON out; an HTTP error comes back as `{"status": code, "error": body text}`."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as error:
        return {"status": error.code, "error": error.read().decode("utf-8", "replace")}
    return json.loads(payload) if payload else None


def sentence_tasks(sentences) -> list[dict]:
    """One text task per sentence (tokens joined by spaces) and its NCBI spans on that text."""
    from nerqa.interop.task_formats import char_spans

    tasks = []
    for n, sentence in enumerate(sentences):
        text = " ".join(sentence.tokens)
        spans = [tuple(s) for s in char_spans(sentence.tokens, sentence.spans)]
        tasks.append({"data": {"text": text, "ref": n}, "gold": spans})
    return tasks


def regions(spans, text: str) -> list[dict]:
    return [
        {
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {"start": s, "end": e, "text": text[s:e], "labels": [label]},
        }
        for s, e, label in spans
    ]


def predicted_spans(prediction: dict) -> set[tuple[int, int, str]]:
    return {(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in prediction["result"]}


def span_f1(gold: list[set], predicted: list[set]) -> float:
    hits = sum(len(g & p) for g, p in zip(gold, predicted))
    n_gold, n_pred = sum(map(len, gold)), sum(map(len, predicted))
    return 2 * hits / (n_gold + n_pred) if n_gold + n_pred else 0.0


class Backend:
    """`nerqa serve` in a subprocess."""

    def __init__(self, model: Path, folder: Path, port: int, *extra: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = (folder.parent / f"{folder.name}.console.log").open("a")
        self.process = subprocess.Popen(
            [*NERQA, "serve", str(model), "--out", str(folder), "--port", str(port), *extra],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"nerqa serve exited with code {self.process.returncode}; see {self.log.name}")
            try:
                if http("GET", f"{self.url}/health", timeout=2).get("status") == "UP":
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise SystemExit(f"nerqa serve did not answer in 180 s; see {self.log.name}")

    def status(self) -> dict:
        return http("GET", f"{self.url}/status")

    def wait_trained(self, before: str, timeout: float = 1800) -> dict:
        """Wait until a retraining has finished and the version is no longer `before`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if not status["is_training"] and status["model_version"] != before:
                return status
            if not status["is_training"] and status["last_error"]:
                raise SystemExit(f"retraining failed: {status['last_error']}")
            time.sleep(0.5)
        raise SystemExit("retraining did not finish in time")

    def predict(self, tasks: list[dict]) -> list[dict]:
        return http("POST", f"{self.url}/predict", {"tasks": tasks, "project": "bench"})["results"]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def wait_for_version(call, project: int, version: str, timeout: float = 60) -> str | None:
    """The project's model version once it is `version` (the backend sets it), or as it is after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        current = call("GET", f"/api/projects/{project}").get("model_version")
        if current == version or time.monotonic() > deadline:
            return current
        time.sleep(0.5)


def moved_to_the_end(order: list, moved: list) -> bool:
    """Whether `moved` is `order` with some of its items taken out and put after the rest, both
    parts keeping `order`'s order."""
    if sorted(order) != sorted(moved):
        return False
    rank = {item: i for i, item in enumerate(order)}
    for split in range(len(moved) + 1):
        head, tail = moved[:split], moved[split:]
        if all(rank[a] < rank[b] for part in (head, tail) for a, b in zip(part, part[1:])):
            return True
    return False


def same_predictions(a: list[dict], b: list[dict]) -> bool:
    """The same spans and version, scores equal to 1e-5 (features computed in other batches
    differ in the last float bits)."""
    return len(a) == len(b) and all(
        predicted_spans(x) == predicted_spans(y)
        and x["model_version"] == y["model_version"]
        and abs(x["score"] - y["score"]) <= 1e-5
        for x, y in zip(a, b)
    )


def base_model(seed_corpus: Path, epochs: float, key: str) -> Path:
    """`nerqa train` on the seed sentences, cached by the settings."""
    folder = ROOT / "bench" / ".cache" / f"serve-model-{key}"
    if not (folder / "config.json").exists():
        started = time.perf_counter()
        subprocess.run(
            [*NERQA, "train", str(seed_corpus), "--out", str(folder), "--epochs", str(epochs)],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        print(f"Trained the base model on the seed set in {time.perf_counter() - started:.0f} s ({folder})")
    return folder


def label_studio_part(args, model: Path, seed_file: Path, pool, folder: Path, types: list[str]) -> None:
    from labelstudio_roundtrip import Server, label_studio_binary

    from nerqa.interop.task_formats import label_config

    binary = label_studio_binary(args.label_studio)
    # Label Studio refuses ML backends and webhooks on local addresses unless told otherwise.
    os.environ.update({"SSRF_PROTECTION_ENABLED": "false", "ML_BLOCK_LOCAL_IP": "false"})
    tasks = sentence_tasks(pool[: args.tasks])
    started = time.perf_counter()
    server = Server(binary, args.port, folder)
    backend = Backend(model, folder / "serve", args.backend_port, "--corpus", str(seed_file), "--retrain-every", "0")
    try:
        server.wait()
        print(f"Label Studio up in {time.perf_counter() - started:.0f} s; nerqa serve at {backend.url}")
        ls = server.url
        call = lambda method, path, body=None: http(method, f"{ls}{path}", body, token=server.token)  # noqa: E731

        print("1. connect")
        project = call("POST", "/api/projects", {"title": "nerqa serve", "label_config": label_config(types)})
        ml = call("POST", "/api/ml", {"project": project["id"], "url": backend.url, "title": "nerqa"})
        check("id" in ml and ml.get("state") == "CO", f"Label Studio connected the backend (state {ml.get('state')})")
        other = call("POST", "/api/projects", {"title": "chemicals", "label_config": label_config(["Chemical"])})
        refused = call("POST", "/api/ml", {"project": other["id"], "url": backend.url, "title": "nerqa"})
        try:
            message = json.loads(refused["error"])["validation_errors"]["non_field_errors"][0]
        except (KeyError, ValueError, TypeError, IndexError):
            message = json.dumps(refused)
        check(
            refused.get("status") == 400 and "Chemical is not a type this model predicts" in message,
            "a project labelling Chemical is refused with nerqa's message",
        )
        print(f"     Label Studio said: {message}")

        print(f"2. import {len(tasks)} tasks and retrieve predictions")
        call("POST", f"/api/projects/{project['id']}/import", [t["data"] for t in tasks])
        listed = call("GET", f"/api/tasks?project={project['id']}&page_size=1000")
        listed = listed["tasks"] if isinstance(listed, dict) else listed
        by_ref = {t["data"]["ref"]: t for t in listed}
        started = time.perf_counter()
        call(
            "POST",
            f"/api/dm/actions?id=retrieve_tasks_predictions&project={project['id']}",
            {"selectedItems": {"all": True, "excluded": []}},
        )
        batch_seconds = time.perf_counter() - started
        predictions = call("GET", f"/api/predictions?project={project['id']}")
        first_version = backend.status()["model_version"]
        check(
            len(predictions) == len(tasks) and {p["model_version"] for p in predictions} == {first_version},
            f"{len(predictions)} predictions, all from {first_version}",
        )
        single = []
        for task in tasks[:20]:
            t0 = time.perf_counter()
            backend.predict([{"id": 0, "data": task["data"]}])
            single.append(time.perf_counter() - t0)
        single.sort()
        print(
            f"     Label Studio's batch request for {len(tasks)} tasks: {batch_seconds:.2f} s "
            f"({batch_seconds / len(tasks) * 1000:.0f} ms a task); one-task request: median "
            f"{single[len(single) // 2] * 1000:.0f} ms (of {len(single)})"
        )

        print("3. sort by prediction score against nerqa select")
        # Label Studio sorts by the scores of the project's model version, which the backend sets
        # after the predictions arrive: sorting before that reads no scores (import order).
        version = wait_for_version(call, project["id"], first_version)
        check(version == first_version, f"the backend set the project's model version to {first_version} ({version})")
        view = call(
            "POST", "/api/dm/views", {"project": project["id"], "data": {"ordering": ["tasks:predictions_score"]}}
        )
        ordered = call("GET", f"/api/tasks?view={view['id']}&project={project['id']}&page_size=1000")
        ordered = ordered["tasks"] if isinstance(ordered, dict) else ordered
        ls_order = [t["data"]["ref"] for t in ordered]
        pool_file = folder / "pool.conll"
        pool_file.write_text("".join("\n".join(f"{w}\tO" for w in s.tokens) + "\n\n" for s in pool[: args.tasks]))
        for diversity in ("off", "near-duplicates"):
            out = folder / f"select-{diversity}"
            subprocess.run(
                [*NERQA, "select", str(pool_file), "--trained", str(model), "--budget", str(len(tasks)),
                 "--diversity", diversity, "--out", str(out), "--force"],
                check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            records = [json.loads(line) for line in (out / "selection.jsonl").read_text().splitlines()]
            select_order = [r["position"] for r in sorted(records, key=lambda r: r["rank"])]
            same = sum(a == b for a, b in zip(ls_order, select_order))
            print(f"     Label Studio: {ls_order[:10]}; select: {select_order[:10]}")
            if diversity == "off":
                check(same == len(tasks), f"Label Studio's order = nerqa select --diversity off: {same}/{len(tasks)}")
            else:
                # The guard moves near-copies after the others, each part in score order.
                check(
                    moved_to_the_end(ls_order, select_order),
                    f"nerqa select --diversity near-duplicates = Label Studio's order with near-copies moved last "
                    f"({same}/{len(tasks)} positions unmoved)",
                )

        print(f"4. annotate {args.annotate} tasks over the API")
        for task in tasks[: args.annotate]:
            listed_task = by_ref[task["data"]["ref"]]
            call(
                "POST",
                f"/api/tasks/{listed_task['id']}/annotations",
                {"result": regions(task["gold"], task["data"]["text"]), "was_cancelled": False},
            )
        deadline = time.monotonic() + 30
        while backend.status()["annotations"] < args.annotate and time.monotonic() < deadline:
            time.sleep(0.2)
        check(backend.status()["annotations"] == args.annotate, f"the backend stored {args.annotate} annotations")

        print("5. Start Training")
        started = time.perf_counter()
        call("POST", f"/api/ml/{ml['id']}/train", {})
        status = backend.wait_trained(first_version)
        train_seconds = time.perf_counter() - started
        call(
            "POST",
            f"/api/dm/actions?id=retrieve_tasks_predictions&project={project['id']}",
            {"selectedItems": {"all": True, "excluded": []}},
        )
        versions = {p["model_version"] for p in call("GET", f"/api/predictions?project={project['id']}")}
        check(
            status["model_version"] in versions,
            f"new predictions carry {status['model_version']} (retraining took {train_seconds:.1f} s; "
            f"Label Studio now holds versions {sorted(versions)})",
        )
        version = wait_for_version(call, project["id"], status["model_version"])
        check(version == status["model_version"], f"the project's model version followed: {version}")

        print("6. restart the backend")
        probe = [{"id": 0, "data": t["data"]} for t in tasks[:10]]
        before = backend.predict(probe)
        backend.stop()
        backend = Backend(model, folder / "serve", args.backend_port, "--corpus", str(seed_file))
        after_status = backend.status()
        after = backend.predict(probe)
        check(
            after_status["model_version"] == status["model_version"] and after_status["annotations"] == args.annotate,
            f"after a restart: {after_status['model_version']}, {after_status['annotations']} annotations",
        )
        check(same_predictions(before, after), "the same predictions before and after the restart")
        for x, y in zip(before, after):
            if not same_predictions([x], [y]):
                print(
                    "     first difference:",
                    x["model_version"],
                    y["model_version"],
                    x["score"],
                    y["score"],
                    sorted(predicted_spans(x)),
                    sorted(predicted_spans(y)),
                )
                break
    finally:
        backend.stop()
        server.stop()


def run_order(args, order: str, seed: int, model: Path, seed_file: Path, pool_tasks, dev_requests, gold_dev, folder):
    """One annotation session: `active` (lowest score first) or `random` (orders drawn from `seed`).
    Returns per retraining `(annotations, dev F1, retraining seconds)`, the first row the base model's."""
    backend = Backend(
        model, folder / f"session-{order}-{seed}", args.backend_port, "--corpus", str(seed_file),
        "--retrain-every", str(args.step), "--retrain", args.retrain,
    )  # fmt: skip
    try:
        rng = random.Random(seed)
        annotated: set[int] = set()
        f1 = span_f1(gold_dev, [predicted_spans(p) for p in backend.predict(dev_requests)])
        curve = [(0, f1, 0.0)]
        for _ in range(args.rounds):
            rest = [i for i in range(len(pool_tasks)) if i not in annotated]
            if order == "active":
                scores = backend.predict([{"id": i, "data": pool_tasks[i]["data"]} for i in rest])
                chosen = [i for _, i in sorted(zip((p["score"] for p in scores), rest))][: args.step]
            else:
                chosen = rng.sample(rest, args.step)
            before = backend.status()["model_version"]
            for i in chosen:
                task = pool_tasks[i]
                webhook = {
                    "action": "ANNOTATION_CREATED",
                    "project": {"id": 1},
                    "task": {"id": i, "data": task["data"]},
                    "annotation": {"id": i, "result": regions(task["gold"], task["data"]["text"])},
                }
                http("POST", f"{backend.url}/webhook", webhook)
                annotated.add(i)
            status = backend.wait_trained(before)
            seconds = status["models"][-1]["seconds"]
            f1 = span_f1(gold_dev, [predicted_spans(p) for p in backend.predict(dev_requests)])
            curve.append((len(annotated), f1, seconds))
            print(
                f"  {order} {seed}: {len(annotated):>4} annotations, {status['model_version']} "
                f"(retrained in {seconds:.1f} s), dev F1 {f1:.4f}",
                flush=True,
            )
    finally:
        backend.stop()
    return curve


def session(args, model: Path, seed_file: Path, pool, dev, folder: Path) -> None:
    pool_tasks = sentence_tasks(pool[: args.pool])
    dev_tasks = sentence_tasks(dev[: args.dev])
    gold_dev = [set(t["gold"]) for t in dev_tasks]
    dev_requests = [{"id": i, "data": t["data"]} for i, t in enumerate(dev_tasks)]
    common = (model, seed_file, pool_tasks, dev_requests, gold_dev, folder)
    active = run_order(args, "active", args.seed, *common)
    randoms = [run_order(args, "random", args.seed + k, *common) for k in range(args.random_orders)]
    print(f"\nDev F1 after each retraining (strict entity spans, {len(dev_tasks)} NCBI dev sentences):")
    print(f"{'annotations':>12} {'active':>8} {'random (mean [min-max])':>26} {'gain':>7} {'retraining':>11}")
    gains = []
    for k, (n, a, seconds) in enumerate(active):
        r = [curve[k][1] for curve in randoms]
        mean = sum(r) / len(r)
        if k:
            gains.append(a - mean)
        print(f"{n:>12} {a:>8.4f} {mean:>8.4f} [{min(r):.4f}-{max(r):.4f}]     {a - mean:>+7.4f} {seconds:>9.1f} s")
    print(f"mean gain over the {len(gains)} retrainings: {sum(gains) / max(1, len(gains)):+.4f}")


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label-studio", help="path of the label-studio executable")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--backend-port", type=int, default=9091)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--annotate", type=int, default=20)
    parser.add_argument("--seed-sentences", type=int, default=200)
    parser.add_argument("--epochs", type=float, default=10, help="the base model's training epochs")
    parser.add_argument("--pool", type=int, default=600)
    parser.add_argument("--dev", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--step", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-orders", type=int, default=3, help="random sessions (seeds) to compare with")
    parser.add_argument("--retrain", default="fast", choices=["fast", "full"], help="the session's retraining")
    parser.add_argument("--skip-label-studio", action="store_true")
    parser.add_argument("--skip-session", action="store_true")
    add_smoke(
        parser, tasks=8, annotate=4, seed_sentences=40, epochs=1, pool=40, dev=20, rounds=2, step=4, random_orders=1
    )
    args = parse(parser)

    from nerqa.data.formats import read_corpus

    train = list(read_corpus(DATA / "train.tsv").sentences)
    dev = list(read_corpus(DATA / "devel.tsv").sentences)
    random.Random(args.seed).shuffle(train)
    seed, pool = train[: args.seed_sentences], train[args.seed_sentences :]
    types = sorted({s.label for sentence in seed for s in sentence.spans})
    with tempfile.TemporaryDirectory(prefix="nerqa-serve-") as scratch:
        folder = Path(scratch)
        seed_file = folder / "seed.conll"
        seed_file.write_text("".join("\n".join(f"{w}\t{t}" for w, t in zip(s.tokens, s.tags)) + "\n\n" for s in seed))
        model = base_model(seed_file, args.epochs, f"{args.seed_sentences}-{args.epochs:g}-{args.seed}")
        if not args.skip_label_studio:
            print("Part 1: Label Studio")
            label_studio_part(args, model, seed_file, pool, folder, types)
        if not args.skip_session:
            print(
                f"Part 2: simulated session, {args.rounds} rounds of {args.step} annotations, --retrain {args.retrain}"
            )
            session(args, model, seed_file, pool, dev, folder)
    if FAILED:
        print(f"\n{len(FAILED)} checks failed")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
