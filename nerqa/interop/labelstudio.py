"""A small Label Studio REST client.

A small Label Studio REST client: what `nerqa serve` asks of a connected Label Studio (its
address and token come with Label Studio's `/setup` call). Standard library only."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from nerqa.errors import NerqaError


class LabelStudioProject:
    """One Label Studio project over its REST API (`/api/projects/ID`), authorised by `token`."""

    def __init__(self, hostname: str, token: str, project_id: str, *, timeout: float = 10) -> None:
        self.url = f"{hostname.rstrip('/')}/api/projects/{project_id}"
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.timeout = timeout

    def model_version(self) -> str | None:
        """The project's model version: the predictions Label Studio samples and sorts by."""
        request = urllib.request.Request(self.url, headers=self.headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read()).get("model_version")

    def set_model_version(self, version: str, *, tries: int = 20, pause: float = 1.0) -> str | None:
        """Point the project's model version at `version` where it differs; return the version it
        had. Label Studio refuses (400) a version it holds no prediction of yet, so that is tried
        again `tries` times, `pause` seconds apart. Raises `NerqaError` naming the failure."""
        error: Exception | None = None
        for _ in range(tries):
            try:
                current = self.model_version()
                if current != version:
                    body = json.dumps({"model_version": version}).encode()
                    request = urllib.request.Request(self.url, data=body, headers=self.headers, method="PATCH")
                    with urllib.request.urlopen(request, timeout=self.timeout):
                        pass
                return current
            except urllib.error.HTTPError as failure:
                error = failure
                if failure.code != 400:  # 400: no prediction of this version saved yet
                    break
            except (urllib.error.URLError, OSError, ValueError) as failure:
                error = failure
                break
            time.sleep(pause)
        raise NerqaError(str(error))
