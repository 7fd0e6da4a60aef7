"""Hypothesis work off the main thread, kept out of the way of a Ctrl-C.

Under pytest, Hypothesis's modules are assertion-rewritten as they are imported (it ships a pytest
plugin), and on Python 3.11 two threads building ASTs at once can make one of them fail with
"SystemError: AST constructor recursion depth mismatch": the AST converter's depth counter is per
interpreter, not per thread. pytest formats a KeyboardInterrupt's traceback with the ast module, so
a Ctrl-C landing while a background thread imports Hypothesis (or draws, which imports lazily)
ended the run with an internal error instead of an orderly interruption. Background Hypothesis
work therefore holds this lock, and the interrupt hook waits for it before pytest formats anything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_AT_WORK = threading.Lock()

# Importing and drawing take about a second even under load; a hung draw must not hang Ctrl-C.
INTERRUPT_WAIT_S = 10.0


@contextmanager
def hypothesis_work() -> Iterator[None]:
    """Hold while importing Hypothesis or drawing examples on a background thread."""
    with _AT_WORK:
        yield


def wait_for_hypothesis_work(timeout: float = INTERRUPT_WAIT_S) -> bool:
    """Wait until no background thread is importing Hypothesis or drawing; False on timeout."""
    if not _AT_WORK.acquire(timeout=timeout):
        return False
    _AT_WORK.release()
    return True
