"""The two layer readers agree on real images: the overlay2 fast path and a streamed `docker save`."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_smconform.engine.docker_engine import DockerEngine
from pytest_smconform.engine.layers import scan_image_stream
from pytest_smconform.engine.overlay import OverlayLookup, layer_dirs, scan_overlay

pytestmark = pytest.mark.docker
WANT = {"/etc/passwd", "/etc/os-release"}


@pytest.mark.parametrize("name", ["conforming", "img-layer-ids", "img-reserved-optml"])
def test_overlay_scan_equals_docker_save(name: str, fixture_image: Any) -> None:
    engine = DockerEngine("test-layer-scan")
    image = engine.inspect_image(fixture_image("jupyterlab", name))
    fast = scan_overlay(image, WANT)
    if fast is None:
        pytest.skip("the engine's layer directories are not readable here (not overlay2, or remote)")
    saved = scan_image_stream(engine.image_tar_stream(image["Id"]), WANT)

    def entries(scan: Any) -> list[tuple[str, int, int, int, str, str]]:
        return sorted((e.path, e.uid, e.gid, e.mode, e.kind, e.link if e.kind == "symlink" else "")
                      for _, e in scan.every_entry() if e.path != "/")

    def removals(scan: Any) -> list[tuple[list[str], list[str]]]:
        return [(sorted(layer.whiteouts), sorted(layer.opaque_dirs)) for layer in scan.layers]

    assert entries(fast) == entries(saved)
    assert removals(fast) == removals(saved)
    assert set(fast.final_tree()) - {"/"} == set(saved.final_tree()) - {"/"}
    assert fast.contents == saved.contents
    assert len(fast.layers) == len(saved.layers)


@pytest.mark.parametrize("profile,name", [("jupyterlab", "conforming"), ("jupyterlab", "img-layer-ids"),
                                          ("kernelgateway", "no-shell"), ("kernelgateway", "kg-conda-envs")])
def test_overlay_lookup_equals_the_final_tree(profile: str, name: str, fixture_image: Any) -> None:
    """The per-path lookup the launches use answers as the whole scan does, deleted paths included."""
    engine = DockerEngine("test-layer-scan")
    image = engine.inspect_image(fixture_image(profile, name))
    dirs = layer_dirs(image)
    scan = scan_overlay(image, WANT)
    if dirs is None or scan is None:
        pytest.skip("the engine's layer directories are not readable here (not overlay2, or remote)")
    lookup = OverlayLookup(dirs)
    tree = scan.final_tree()
    seen = {path: (entry.kind, entry.link) for path, entry in tree.items() if path != "/"}
    assert {path: lookup.get(path) for path in seen} == seen
    gone = {e.path for _, e in scan.every_entry()} - set(tree) - {"/"}
    gone |= {f"{path}/absent" for path, (kind, _) in list(seen.items())[:200] if kind == "dir"}
    assert {path for path in gone if lookup.get(path) is not None} == set()
    assert lookup.get("/no/such/path") is None
