"""Label Studio projects pointed at the model version the backend serves.

Label Studio's uncertainty sampling and its Data Manager's sort on prediction score read only the
predictions whose version is the project's model version. With the address and token Label Studio
sends on `/setup`, the backend sets each project's model version to the version it serves, once
Label Studio holds predictions of it, in a background thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from nerqa.errors import NerqaError
from nerqa.interop.labelstudio import LabelStudioProject


class ProjectVersions:
    """The Label Studio projects a backend knows how to reach, and the model version each was
    set to. `log` takes one line for the terminal and `serve.log`."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self._reach: dict[str, tuple[str, str]] = {}  # Label Studio project id -> (address, token)
        self._published: dict[str, str] = {}  # project id -> the version it was set to
        self._publishing: set[str] = set()
        self._lock = threading.Lock()

    def connected(self, project: str | None, hostname: str | None, token: str | None) -> None:
        """Remember how to reach `project`.

        Args:
            project: `"ID.TIMESTAMP"`, as Label Studio sends it.
            hostname: Label Studio's address.
            token: its API token.
        """
        project_id = str(project or "").split(".")[0]
        if project_id.isdigit() and hostname and token:
            self._reach[project_id] = (hostname.rstrip("/"), token)

    def predicted(self, project: str | None, version: str) -> None:
        """Predictions of `version` went to `project`: set its model version, in the background,
        unless it holds that version already.

        Args:
            project: `"ID.TIMESTAMP"`, as Label Studio sends it.
            version: the version the backend serves.
        """
        project_id = str(project or "").split(".")[0]
        if project_id in self._reach and self._published.get(project_id) != version:
            with self._lock:
                wanted = project_id not in self._publishing
                self._publishing.add(project_id)
            if wanted:
                threading.Thread(target=self._publish, args=([project_id], version), daemon=True).start()

    def _publish(self, projects: Sequence[str], version: str, *, tries: int = 20, pause: float = 1.0) -> None:
        """Set each project's model version to `version` where it differs, trying again while
        Label Studio does not yet hold predictions of that version."""
        for project_id in projects:
            try:
                current = LabelStudioProject(*self._reach[project_id], project_id).set_model_version(
                    version, tries=tries, pause=pause
                )
                if current != version:
                    self.log(f"Label Studio project {project_id}: model version set to {version} (was {current})")
                self._published[project_id] = version
            except NerqaError as error:
                self.log(
                    f"Label Studio project {project_id}: cannot set its model version to {version} ({error}); "
                    "choose it in the project's settings for uncertainty sampling and the sort on prediction score"
                )
            with self._lock:
                self._publishing.discard(project_id)
