"""How layers combine into the file system a container sees, and how a scan stops when the run ends."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_smconform.checks.judge import content_under
from pytest_smconform.engine.layers import Entry, Layer, LayerScan, ScanCancelled, until_cancelled
from pytest_smconform.engine.overlay import OverlayLookup, scan_overlay

pytestmark = pytest.mark.unit


def _file(path: str, size: int = 1) -> Entry:
    return Entry(path, 0, 0, 0o644, size, "file")


def _dir(path: str) -> Entry:
    return Entry(path, 0, 0, 0o755, 0, "dir")


def test_a_file_over_a_directory_hides_everything_below_it() -> None:
    # As the engine applies a layer (and overlayfs shows it): a non-directory replacing a directory
    # removes that directory's contents from lower layers, with no whiteout needed.
    lower = Layer("sha256:a", [_dir("/opt"), _dir("/opt/app"), _file("/opt/app/kernel.json"), _file("/opt/keep")])
    upper = Layer("sha256:b", [_dir("/opt"), Entry("/opt/app", 0, 0, 0o777, 0, "symlink", "/srv")])
    tree = LayerScan([lower, upper], {}, {}).final_tree()
    assert tree["/opt/app"].kind == "symlink"
    assert "/opt/app/kernel.json" not in tree
    assert "/opt/keep" in tree and "/opt" in tree


def test_a_directory_over_a_directory_merges() -> None:
    lower = Layer("sha256:a", [_dir("/etc"), _file("/etc/passwd")])
    upper = Layer("sha256:b", [_dir("/etc"), _file("/etc/group")])
    assert {"/etc", "/etc/passwd", "/etc/group"} == set(LayerScan([lower, upper], {}, {}).final_tree())


def _overlay_image(root: Path) -> dict[str, object]:
    lower, upper = root / "l1" / "diff", root / "l2" / "diff"
    (lower / "opt" / "app").mkdir(parents=True)
    (lower / "opt" / "app" / "kernel.json").write_text("{}")
    (upper / "opt").mkdir(parents=True)
    (upper / "opt" / "app").write_text("a file now")
    return {"GraphDriver": {"Name": "overlay2", "Data": {"LowerDir": str(lower), "UpperDir": str(upper)}}}


def test_the_scanned_tree_agrees_with_a_lookup_through_the_layer_directories(tmp_path: Path) -> None:
    image = _overlay_image(tmp_path)
    scan = scan_overlay(image, set())
    assert scan is not None
    tree = scan.final_tree()
    lookup = OverlayLookup([tmp_path / "l1" / "diff", tmp_path / "l2" / "diff"])
    for path in ("/opt", "/opt/app", "/opt/app/kernel.json"):
        assert (path in tree) == (path in lookup), path
    assert tree["/opt/app"].kind == "file"


def test_a_scan_stops_once_the_run_is_cancelled(tmp_path: Path) -> None:
    cancel = threading.Event()
    image = _overlay_image(tmp_path)
    assert scan_overlay(image, set(), cancel) is not None
    cancel.set()
    with pytest.raises(ScanCancelled):
        scan_overlay(image, set(), cancel)
    chunks = until_cancelled(iter([b"a", b"b"]), cancel)
    with pytest.raises(ScanCancelled):
        next(chunks)


_PATH = st.lists(st.sampled_from(["opt", "ml", "opt0", "ml.", "a", "/", "-"]), min_size=1, max_size=4).map(
    lambda parts: "/" + "/".join(parts))


@given(st.sets(_PATH, max_size=30), st.lists(st.one_of(_PATH, st.just("/")), min_size=1, max_size=3))
def test_content_under_by_bisection_is_every_path_below_a_root(paths: set[str], roots: list[str]) -> None:
    expected = []
    for root in roots:
        prefix = root.rstrip("/") + "/"
        expected += sorted(p for p in paths if p.startswith(prefix))
    assert content_under(sorted(paths), roots) == expected
