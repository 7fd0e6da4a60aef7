"""Stops a container that writes more than the run allows into its own file system.

This engine's storage (overlay2 on ext4) cannot cap a container's writable layer, and an
image that writes without end would fill the disk everyone shares: the guard samples the
run's running containers and kills the one over the limit, saying so in its failure.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import docker.errors
import requests

from .labels import RUN_LABEL
from .symptoms import human_bytes

INTERVAL = 2.0  # seconds between samples (each makes the engine size every running container of the run)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'10g', '512m', '1.5G', '2048' -> bytes (powers of 1024, as the engine reads them)."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 512m, 10g)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


class DiskGuard:
    def __init__(self, api: Any, run_id: str, limit: int) -> None:
        self.api = api
        self.run_id = run_id
        self.limit = limit
        self.notes: dict[str, str] = {}  # container id -> what the guard did to it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="smconform-disk-guard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def note(self, container_id: str) -> str | None:
        return self.notes.get(container_id)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            self.sample()

    def sample(self) -> None:
        """One look at every running container of the run; kill those over the limit."""
        try:
            rows = self.api.containers(filters={"label": f"{RUN_LABEL}={self.run_id}", "status": "running"},
                                       size=True)
        except (docker.errors.APIError, requests.RequestException):
            return
        for row in rows:
            written = int(row.get("SizeRw") or 0)
            if written <= self.limit or row["Id"] in self.notes:
                continue
            self.notes[row["Id"]] = (f"it wrote {human_bytes(written)} into its own file system, over the "
                                     f"run's disk limit of {human_bytes(self.limit)} (disk_limit): killed")
            try:
                self.api.kill(row["Id"], signal="SIGKILL")
            except (docker.errors.APIError, requests.RequestException):
                continue
