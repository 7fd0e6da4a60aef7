"""Keep CPython's garbage collector off the objects a run holds from start to end.

A run keeps tens of thousands of objects alive throughout: the modules of pytest, the SDKs and
the suite, the collected items. A full collection walks every one of them each time: the automatic
ones during the run, the two pytest makes at the end to report unraisable exceptions, and those of
interpreter shutdown, together 0.1 to 0.15 s of a 1.4 s kernelgateway run. So the objects alive once
the items are collected are frozen (`gc.freeze`: still freed when their last reference goes, only never
walked), and what the run makes after that is collected as usual. The freeze is undone after pytest's
last collection, so a caller that runs pytest in-process (pytester) gets its memory back as before, and
done again at exit, when there is nothing left worth collecting.
"""

from __future__ import annotations

import atexit
import gc

import pytest

_exit_freeze: list[bool] = []


def install(config: pytest.Config) -> None:
    """Undo the freeze when the config is cleaned up, and freeze everything at interpreter exit.

    Cleanups run last-registered first: pytest's own end-of-run collection is registered after this
    one (its plugin configures after the suite's), so it still runs while the long-lived objects are
    frozen; in the other order the result is the same, only slower."""
    config.add_cleanup(gc.unfreeze)
    if not _exit_freeze:
        _exit_freeze.append(True)
        atexit.register(gc.freeze)


def freeze_long_lived() -> None:
    """Everything alive now (modules, plugins, items) lives until the run ends: never walk it again."""
    gc.freeze()
