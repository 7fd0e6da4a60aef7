"""Console scripts installed with this interpreter's packages (where pip put `smconform`, `tox`)."""

from __future__ import annotations

import sysconfig
from pathlib import Path


def installed_script(name: str) -> Path:
    path = Path(sysconfig.get_path("scripts")) / name
    assert path.exists(), f"{name} is not installed beside this Python ({path}): pip install -e '.[test]'"
    return path
