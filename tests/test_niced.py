"""Background work at a lower priority: its result and its errors come back; only its own thread is niced."""

from __future__ import annotations

import os
import threading

import pytest

from pytest_smconform.engine.niced import NICER_BY, run_niced

pytestmark = pytest.mark.unit


def _own_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_the_work_runs_niced_on_its_own_thread_and_the_caller_keeps_its_priority() -> None:
    before = _own_nice()
    seen = run_niced(lambda: (threading.get_native_id(), _own_nice()))
    assert seen[0] != threading.get_native_id()
    assert seen[1] == min(19, before + NICER_BY)
    assert _own_nice() == before


def test_an_error_in_the_work_is_raised_in_the_caller() -> None:
    def broken() -> None:
        raise ValueError("the layer directory vanished")

    with pytest.raises(ValueError, match="vanished"):
        run_niced(broken)
