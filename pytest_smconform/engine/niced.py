"""Run CPU-bound background work at a lower scheduling priority than the engine's.

The layer scan of an image not seen before walks tens of thousands of files while the engine starts
the first container and runs its first `docker exec`: on a small machine the two compete for the
same cores, and the engine's work is the run's critical path. The scan runs on a thread of its own
whose nice value is raised (Linux applies setpriority to the one thread whose ID it is given), so the
engine gets the cores first and the scan the time they leave. Where that is refused or not
supported, the work simply runs at the normal priority.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
NICER_BY = 10


def run_niced(work: Callable[[], T]) -> T:
    """`work()` on a new thread with a raised nice value; its result, or its exception, here."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        _lower_own_priority()
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=body, name="smconform-niced", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _lower_own_priority() -> None:
    setpriority, getpriority = getattr(os, "setpriority", None), getattr(os, "getpriority", None)
    if setpriority is None or getpriority is None:
        return
    try:
        tid = threading.get_native_id()
        setpriority(os.PRIO_PROCESS, tid, min(19, getpriority(os.PRIO_PROCESS, tid) + NICER_BY))
    except OSError:
        return
