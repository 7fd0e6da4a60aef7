"""A Ctrl-C is recorded even when pytest's own formatting of it fails, and never races Hypothesis.

On Python 3.11 a Ctrl-C that landed while a background thread imported Hypothesis (assertion-
rewritten by pytest) made pytest's traceback formatting fail with "SystemError: AST constructor
recursion depth mismatch": the report then said incomplete with no interruption recorded.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_cleanup import _resources

from pytest_smconform.hypothesis_guard import hypothesis_work, wait_for_hypothesis_work
from pytest_smconform.runner import _last_frames

# Interrupts the first requirement, then fails where pytest's terminal formats the interrupt. It is
# registered after the suite's session plugin, so (LIFO, as pluggy calls hooks) it runs first unless
# the suite's hook asks to run first.
FAILING_FORMATTER = '''
import pytest


class FailingFormatter:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        raise KeyboardInterrupt

    def pytest_keyboard_interrupt(self, excinfo):
        raise SystemError("AST constructor recursion depth mismatch (before=78, after=167)")


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.pluginmanager.register(FailingFormatter(), "failing-formatter")
'''


@pytest.mark.docker
def test_an_interrupt_is_reported_even_when_formatting_it_fails(pytester: pytest.Pytester, run_suite: Any,
                                                               fixture_image: Any) -> None:
    pytester.makeconftest(FAILING_FORMATTER)
    run = run_suite("jupyterlab", fixture_image("jupyterlab", "conforming"), "-k", "JL-WORKDIR")
    assert run.result.ret != 0
    assert run.report["verdict"] == "incomplete"
    assert run.report["run"]["interrupted"] == "KeyboardInterrupt", run.result.stdout.str()[-2000:]
    assert _resources(run.report["run"]["id"]) == []


@pytest.mark.unit
def test_the_interrupt_waits_for_background_hypothesis_work() -> None:
    started, release_after = threading.Event(), 0.3

    def draw() -> None:
        with hypothesis_work():
            started.set()
            time.sleep(release_after)

    worker = threading.Thread(target=draw)
    worker.start()
    started.wait(5)
    begin = time.monotonic()
    assert wait_for_hypothesis_work(timeout=5)
    assert time.monotonic() - begin >= release_after * 0.8  # it waited for the draw to end
    worker.join()


@pytest.mark.unit
def test_a_hung_draw_does_not_hang_the_interrupt() -> None:
    done = threading.Event()

    def draw() -> None:
        with hypothesis_work():
            done.wait(5)

    worker = threading.Thread(target=draw)
    worker.start()
    try:
        time.sleep(0.05)
        begin = time.monotonic()
        assert wait_for_hypothesis_work(timeout=0.1) is False
        assert time.monotonic() - begin < 2
    finally:
        done.set()
        worker.join()
    assert wait_for_hypothesis_work(timeout=0.1)


def _inner() -> None:
    raise ValueError("broken check")


def _outer() -> None:
    _inner()


@pytest.mark.unit
def test_a_broken_checks_frames_are_named_without_the_ast_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import ast

    def no_parsing(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the ast module was used")

    try:
        _outer()
    except ValueError as exc:
        monkeypatch.setattr(ast, "parse", no_parsing)
        frames = _last_frames(exc)
    here = Path(__file__).as_posix()
    assert [line.split(" in ")[1].split(":")[0] for line in frames] == [
        "test_a_broken_checks_frames_are_named_without_the_ast_module", "_outer", "_inner"]
    assert frames[-1].startswith(f"{here}:") and frames[-1].endswith('raise ValueError("broken check")')
