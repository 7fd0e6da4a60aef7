"""The platform registry imports only the launcher a profile uses, and its table of built-in platforms
agrees with what the modules register; the run's garbage-collector freeze is undone when it ends."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from typing import Any

import pytest

pytestmark = pytest.mark.unit


def test_the_builtin_table_matches_what_the_modules_register() -> None:
    from pytest_smconform import platform

    platform._load_builtins()
    registered = {name: launcher.plan.__module__ for name, launcher in platform._REGISTRY.items()}
    assert set(registered) == set(platform.BUILTIN_MODULES)
    for name, module in platform.BUILTIN_MODULES.items():
        assert registered[name] == f"pytest_smconform.platform.{module}"
    assert platform.known_platforms() == set(registered)


def _platform_modules_loaded_by(statement: str) -> str:
    code = textwrap.dedent(f"""
        import sys
        from pytest_smconform.platform import launcher, known_platforms, BUILTIN_MODULES
        {statement}
        names = [m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("pytest_smconform.platform.")]
        loaded = sorted(n for n in names if n in BUILTIN_MODULES.values())
        print(",".join(loaded))
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("name", ["kernelgateway", "local-mode", "spaces", "studio"])
def test_a_launcher_loads_its_own_module_only(name: str) -> None:
    from pytest_smconform.platform import BUILTIN_MODULES

    own = _platform_modules_loaded_by(f"import pytest_smconform.platform.{BUILTIN_MODULES[name]}")
    assert _platform_modules_loaded_by(f"assert launcher({name!r}).name == {name!r}") == own
    assert len(own.split(",")) < len(BUILTIN_MODULES)


def test_an_unknown_platform_is_a_key_error_after_every_module_was_tried() -> None:
    from pytest_smconform.platform import launcher

    with pytest.raises(KeyError):
        launcher("no-such-platform")


@pytest.mark.docker
def test_the_freeze_lasts_the_run_and_is_undone_after_pytests_last_collection(
        pytester: pytest.Pytester, fixture_image: Any) -> None:
    """A run made in-process (as here) must give its memory back: nothing stays frozen after it."""
    from pytest_smconform import gc_tuning

    seen = pytester.path / "frozen.txt"
    pytester.makeconftest(textwrap.dedent(f"""
        import gc
        def pytest_sessionfinish(session):
            open({str(seen)!r}, "w").write(str(gc.get_freeze_count()))
    """))
    image = fixture_image("kernelgateway", "conforming")
    gc.unfreeze()
    result = pytester.runpytest_inprocess("--smconform=kernelgateway", image, "-k", "IMG-ARCH",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert int(seen.read_text()) > 1000  # pytest's, the SDKs' and the suite's objects, while the run lasts
    assert gc.get_freeze_count() == 0
    assert gc_tuning._exit_freeze == [True]  # frozen once more at interpreter exit


def test_a_run_that_cannot_start_leaves_nothing_frozen(pytester: pytest.Pytester) -> None:
    gc.unfreeze()
    result = pytester.runpytest_inprocess("--smconform=kernelgateway", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert gc.get_freeze_count() == 0
