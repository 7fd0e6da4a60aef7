"""Under pytest-xdist (`-n N`): what a worker that died left on the engine is swept by the controller.

Each worker runs its own RunContext (own run id, own pid label). A worker killed outright
(SIGKILL, OOM) cannot clean up: its resources carry a dead pid, which is what the stale sweep
removes, and the controller runs that sweep when a worker goes down and when the run ends.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from .errors import SmconformError

if TYPE_CHECKING:
    from .session import SmconformSession


def is_controller(config: pytest.Config) -> bool:
    # xdist turns `-n N` into a distribution mode before any plugin's configure runs.
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no" \
        and bool(getattr(config.option, "tx", None))


class ControllerPlugin:
    """Registered in the xdist controller only."""

    def __init__(self, session: SmconformSession) -> None:
        self.session = session

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if error:  # the worker died: its containers, volumes and networks now belong to a dead pid
            self._sweep()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._sweep()

    def _sweep(self) -> None:
        with contextlib.suppress(SmconformError):
            self.session.ctx.engine.sweep_stale()
