"""`nerqa serve`'s web app, built on Label Studio's ML backend SDK (`label-studio-ml`).

The SDK gives the Flask app and its routes (`/health`, `/setup`, `/predict`, `/webhook`,
`/train`, `/versions`) and the `LabelStudioMLBase` model interface. Its model manager builds a
new model object for each request and runs each webhook in a new process, writing results to
files; a backend that keeps one model in memory and retrains in a thread needs neither, so
`NerqaManager` takes the manager's place and hands every call to one `Backend`.

Label Studio shows only an ML backend's HTTP status line when a call fails, not its body, so
an error answer carries its one-line message in the status line's reason as well.
"""

from __future__ import annotations

import json
from typing import Any

from nerqa.errors import NerqaError
from nerqa.serve.backend import Backend
from nerqa.serve.labeling import annotated_spans


def sdk():
    """The SDK's `(api, model, exceptions)` modules, or one clear error when it is not installed."""
    try:
        import label_studio_ml.api as api
        import label_studio_ml.exceptions as exceptions
        import label_studio_ml.model as model
    except ImportError as error:
        raise NerqaError(
            f"nerqa serve needs Label Studio's ML backend SDK ({error.name} is missing): "
            'pip install "nerqa[serve]" && pip install --no-deps label-studio-ml==1.0.9 (setup.sh installs both)'
        ) from None
    return api, model, exceptions


def make_app(backend: Backend):
    """The Flask app answering Label Studio for `backend` (a WSGI app: `app.run(...)` or any
    WSGI server). The SDK has one app per process: a second call points it at another backend.

    Args:
        backend: the backend that answers.
    """
    api, model, exceptions = sdk()

    class NerqaModel(model.LabelStudioMLBase):
        """The SDK's model interface over the one `Backend`: a project's labeling config is
        checked when the model is made, predictions come from the served version."""

        def __init__(self, label_config: str | None = None, train_output: Any = None, **kwargs: Any) -> None:
            backend.check_config(label_config)
            super().__init__(label_config=label_config, train_output=train_output, **kwargs)

        def predict(self, tasks: list[dict], **kwargs: Any) -> list[dict]:
            return backend.predict(tasks, self.label_config)

    def refused(error: NerqaError) -> Exception:
        # 422 with the message alone: a refused config or task is not a crash to trace.
        return exceptions.AnswerException(422, str(error), {"traceback": None})

    class NerqaManager(model.LabelStudioMLManager):
        model_dir = str(backend.folder)
        served = backend

        @classmethod
        def fetch(cls, project=None, label_config=None, force_reload=False, **kwargs):
            try:
                wrapper = model.ModelWrapper(model=NerqaModel(label_config), model_version=backend.version)
            except NerqaError as error:
                raise refused(error) from None
            if "access_token" in kwargs:  # /setup, not /predict
                backend.connected(project, kwargs.get("hostname"), kwargs.get("access_token"))
            return wrapper

        @classmethod
        def predict(cls, tasks, project=None, label_config=None, force_reload=False, try_fetch=True, **kwargs):
            wrapper = cls.fetch(project, label_config)
            try:
                predictions = wrapper.model.predict(tasks)
            except NerqaError as error:
                raise refused(error) from None
            backend.predicted(project)
            return predictions, model.ModelWrapper(
                wrapper.model, predictions[0]["model_version"] if predictions else backend.version
            )

        @classmethod
        def webhook(cls, event, data):
            try:
                return backend.receive(event, data)
            except NerqaError as error:
                return {"error": str(error)}

        @classmethod
        def train(cls, annotations, project=None, label_config=None, **kwargs):
            # Label Studio without webhook training sends every annotated task to /train.
            config = backend.check_config(label_config)
            if config is not None:
                backend.learn(_annotated_rows(annotations, project, config))
            backend.retrain()
            return None

        @classmethod
        def is_training(cls, project):
            return {"is_training": backend.training.running, "model_version": backend.version, "backend": "nerqa"}

        @classmethod
        def _get_models_from_workdir(cls, project):
            return backend.status()["versions"]

    app = api.init_app(model_class=NerqaModel, model_dir=str(backend.folder))
    api._manager = NerqaManager()
    if "nerqa_status" not in app.view_functions:
        _add_routes(app, api)
    return app


def _annotated_rows(annotations: list[dict], project, config) -> list[tuple]:
    """`Backend.learn`'s rows from the tasks of a `/train` call: each task's latest annotation
    that was not cancelled, as `(project, task_id, annotation_id, text, spans)`."""
    rows = []
    for task in annotations:
        done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        if done:
            text, spans = annotated_spans(task, done[-1].get("result") or [], config)
            project_id = str(task.get("project") or str(project or "").split(".")[0])
            rows.append((project_id, int(task["id"]), done[-1].get("id"), text, spans))
    return rows


def _add_routes(app, api) -> None:
    """nerqa's additions to the SDK's app: `/status`, and error reasons in the status line."""

    @app.after_request
    def reason_in_status_line(response):
        if response.status_code >= 400 and response.is_json:
            detail = str((response.get_json(silent=True) or {}).get("detail", ""))
            line = detail.splitlines()[0] if detail else ""
            if line:
                # The reason phrase is latin-1 on the wire.
                reason = line.encode("latin-1", "replace").decode("latin-1")[:300]
                response.status = f"{response.status_code} {reason}"
        return response

    @app.route("/status", methods=["GET"], endpoint="nerqa_status")
    def status():
        return app.response_class(json.dumps(api._manager.served.status()), mimetype="application/json")
