"""The terminal: a live line per requirement, what a long start-up wait is waiting for, the final table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker


def test_a_live_line_per_requirement_then_the_table(run_suite: object, fixture_image: object) -> None:
    assert callable(run_suite) and callable(fixture_image)
    image = fixture_image("jupyterlab", "conforming")
    run = run_suite("jupyterlab", image, "-k", "IMG-ARCH or JL-WORKDIR or JL-HEALTH")
    out = run.result.stdout.str()
    assert run.result.ret == 0, out
    section = out.index("= smconform: jupyterlab on ")
    live = out[:section]
    # In the order they ran, each as soon as it is judged, with its time and what was found.
    for req_id, found in (("IMG-ARCH", "platform linux/amd64"), ("JL-WORKDIR", "WORKDIR /home/sagemaker-user"),
                          ("JL-HEALTH", "GET /jupyterlab/default/api/status answered 200")):
        assert re.search(rf"^PASSED   MUST   {req_id}\s+\d+\.\d s  {re.escape(found)}", live, re.MULTILINE), live
    assert live.count("smconform-jupyterlab ") == 1  # the location prefix is not repeated per line
    table = out[section:]
    assert re.search(r"^PASSED   MUST   JL-HEALTH ", table, re.MULTILINE)
    assert re.search(r"^SKIPPED  MUST   JL-UID\s+not selected in this run", table, re.MULTILINE)
    assert re.search(r"^launch studio \(as the platform launches it\): ready after \d+\.\d\d s$", table, re.MULTILINE)
    assert re.search(r"^report: \S+smconform-report\.json$", table, re.MULTILINE)
    assert "verdict: incomplete" in table  # requirements were left out by -k


def test_a_long_start_up_wait_says_what_it_waits_for(run_suite: object, fixture_image: object,
                                                     tmp_path: Path) -> None:
    """A ContainerConfig whose entrypoint never starts the app: the wait lasts the whole start-up timeout."""
    assert callable(run_suite) and callable(fixture_image)
    config = tmp_path / "sleep.json"
    config.write_text(json.dumps({"ContainerEntrypoint": ["sleep"], "ContainerArguments": ["600"]}))
    run = run_suite("jupyterlab", fixture_image("jupyterlab", "conforming"), "-k", "JL-HEALTH",
                    "--smconform-option=startup_timeout=20", f"--smconform-container-config={config}")
    out = run.result.stdout.str()
    waits = re.findall(r"^smconform: \[JL-HEALTH\] waiting for launch studio \(as the platform launches it\): "
                       r"(\d+) s so far \(start-up timeout 20 s\)$", out, re.MULTILINE)
    assert waits and waits[0] == "10", out
    assert "launch studio (as the platform launches it): not ready: nothing answered on port 8888 within 20 s" in out


def test_verbose_mode_keeps_pytest_lines(run_suite: object, fixture_image: object) -> None:
    assert callable(run_suite) and callable(fixture_image)
    run = run_suite("jupyterlab", fixture_image("jupyterlab", "conforming"), "-k", "IMG-ARCH", "-v")
    out = run.result.stdout.str()
    assert re.search(r"^smconform-jupyterlab::IMG-ARCH PASSED", out, re.MULTILINE)
    assert not re.search(r"^PASSED   MUST   IMG-ARCH\s+\d", out, re.MULTILINE)
