"""The layer-scan cache: a hit is the same scan without reading a layer; a different image, other
wanted files, a corrupt entry or a turned-off cache scan again; verdicts do not change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_smconform.engine import scan_cache
from pytest_smconform.engine.docker_engine import DockerEngine
from pytest_smconform.engine.layers import Entry, Layer, LayerScan, scan_image_stream
from pytest_smconform.engine.overlay import scan_overlay

pytestmark = pytest.mark.docker
WANT = {"/etc/passwd", "/etc/os-release"}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "layers"
    monkeypatch.setenv("SMCONFORM_SCAN_CACHE", str(directory))
    return directory


def _real_scan(image: dict[str, Any], engine: DockerEngine, calls: list[str]) -> Any:
    def scan() -> LayerScan:
        calls.append(image["Id"])
        return scan_overlay(image, WANT) or scan_image_stream(engine.image_tar_stream(image["Id"]), WANT)
    return scan


def _same(a: LayerScan, b: LayerScan) -> None:
    assert [(layer.digest, layer.entries, layer.whiteouts, layer.opaque_dirs) for layer in a.layers] == \
        [(layer.digest, layer.entries, layer.whiteouts, layer.opaque_dirs) for layer in b.layers]
    assert a.contents == b.contents and a.config == b.config
    assert a.final_tree() == b.final_tree()


def test_a_hit_is_the_same_scan_without_reading_a_layer(cache: Path, fixture_image: Any) -> None:
    engine = DockerEngine("test-scan-cache")
    image = engine.inspect_image(fixture_image("jupyterlab", "img-reserved-optml"))
    calls: list[str] = []
    first = scan_cache.cached_scan(image["Id"], WANT, _real_scan(image, engine, calls))
    second = scan_cache.cached_scan(image["Id"], WANT, _real_scan(image, engine, calls))
    assert calls == [image["Id"]]
    _same(first, second)
    assert any(layer.whiteouts for layer in second.layers) or any(e.path.startswith("/opt/ml/")
                                                                   for _, e in second.every_entry())
    # Other wanted files: another entry.
    scan_cache.cached_scan(image["Id"], WANT | {"/etc/group"}, _real_scan(image, engine, calls))
    assert len(calls) == 2


def test_a_corrupt_entry_or_a_turned_off_cache_scans_again(cache: Path, fixture_image: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    engine = DockerEngine("test-scan-cache")
    image = engine.inspect_image(fixture_image("processing", "conforming"))
    calls: list[str] = []
    first = scan_cache.cached_scan(image["Id"], WANT, _real_scan(image, engine, calls))
    scan_cache.flush()
    for entry in cache.glob(f"*{scan_cache.SUFFIX}"):
        entry.write_bytes(entry.read_bytes()[:1000])
    _same(scan_cache.cached_scan(image["Id"], WANT, _real_scan(image, engine, calls)), first)
    assert len(calls) == 2
    monkeypatch.setenv("SMCONFORM_SCAN_CACHE", "")
    _same(scan_cache.cached_scan(image["Id"], WANT, _real_scan(image, engine, calls)), first)
    _same(scan_cache.cached_scan(image["Id"], WANT, _real_scan(image, engine, calls)), first)
    assert len(calls) == 4


def test_the_cache_keeps_only_the_newest_entries(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_cache, "KEEP", 3)
    empty = LayerScan(layers=[], contents={}, config={})
    for index in range(6):
        scan_cache.cached_scan(f"sha256:{index:064x}", WANT, lambda: empty)
    scan_cache.flush()  # entries are written by a thread of their own
    assert len(list(cache.glob(f"*{scan_cache.SUFFIX}"))) == 3
    assert list(cache.glob(".entry-*")) == []


def test_a_cached_scan_gives_the_same_verdicts(cache: Path, fixture_image: Any, run_suite: Any) -> None:
    image = fixture_image("jupyterlab", "img-reserved-optml")
    cold = run_suite("jupyterlab", image, "-k", "IMG-RESERVED or JL-UID or JL-GID")
    assert len(list(cache.glob(f"*{scan_cache.SUFFIX}"))) == 1
    warm = run_suite("jupyterlab", image, "-k", "IMG-RESERVED or JL-UID or JL-GID")

    def verdicts(run: Any) -> dict[str, tuple[str, str]]:
        # Static verdicts word for word; a launched one names the app's pid, which differs run to run.
        return {r["id"]: (r["outcome"], r["message"] if r["id"].startswith("IMG-") else "")
                for r in run.report["results"]}

    assert verdicts(cold) == verdicts(warm)
    assert verdicts(warm)["IMG-RESERVED-OPTML"][0] == "failed"
    assert verdicts(warm)["JL-UID"][0] == "passed"


def test_a_killed_writer_leaves_no_temporary_file_for_long(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import time

    from pytest_smconform import cachefiles

    real_fdopen = os.fdopen

    class Interrupted:
        """The file the entry is written to; Ctrl-C arrives in the middle of the write."""

        def __init__(self, fd: int, *args: Any, **kwargs: Any) -> None:
            self.handle = real_fdopen(fd, *args, **kwargs)

        def __enter__(self) -> Interrupted:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, text: bytes) -> int:
            self.handle.write(text[:1])
            raise KeyboardInterrupt

    monkeypatch.setattr("pytest_smconform.cachefiles.os.fdopen", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        cachefiles.write_entry(cache, "k", "{}")
    monkeypatch.undo()
    assert list(cache.glob(".entry-*")) == []
    # One a SIGKILLed run left (no chance to clean up) goes with the next write once it is stale.
    left = cache / ".entry-killed.tmp"
    left.write_text("{")
    old = time.time() - cachefiles.STALE_TEMPORARY - 1
    os.utime(left, (old, old))
    cachefiles.write_entry(cache, "k2", "{}", keep=16)
    assert not left.exists() and (cache / "k2.json").exists()


def _synthetic(entries: int) -> LayerScan:
    rows = [Entry(f"/usr/lib/f{i}", 0, 0, 0o644, i, "file") for i in range(entries)]
    return LayerScan(layers=[Layer("sha256:a", rows[: entries // 2], ["/gone"], ["/opq"]),
                             Layer("sha256:b", rows[entries // 2:])],
                     contents={"/etc/passwd": b"root:x:0:0::/root:/bin/sh\n"}, config={"User": "1000"})


@pytest.mark.unit
def test_an_entry_cut_short_or_padded_is_a_miss_and_a_whole_one_round_trips(cache: Path) -> None:
    scan = _synthetic(3 * scan_cache.CHUNK + 7)  # more entries than one call builds
    scan.layers[1].entries[:3] = [Entry("/usr/bin/python3", 0, 0, 0o777, 0, "symlink", "python3.11"),
                                  Entry("/caf\udce9", 70000, 2**31, 0o4755, 2**40, "file"),  # a name not in UTF-8
                                  Entry("/dev/null", 0, 0, 0o666, 0, "other")]
    scan_cache.store(cache, "k" * 64, scan)
    _same(scan_cache.load(cache, "k" * 64) or _synthetic(0), scan)
    entry = cache / f"{'k' * 64}{scan_cache.SUFFIX}"
    whole = entry.read_bytes()
    for damaged in (whole[:-1], whole + b"\0", whole[: whole.index(b"\n") + 100]):
        entry.write_bytes(damaged)
        assert scan_cache.load(cache, "k" * 64) is None


@pytest.mark.unit
def test_a_scan_that_does_not_fit_the_layout_is_not_kept(cache: Path) -> None:
    scan = _synthetic(10)
    scan.layers[0].entries.append(Entry("/a\0b", 0, 0, 0o644, 1, "file"))  # no file name holds a NUL
    scan_cache.store(cache, "k" * 64, scan)
    assert not list(cache.glob("*"))


@pytest.mark.unit
def test_entries_of_the_earlier_layout_are_removed_with_the_next_write(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / f"{'0' * 64}.json").write_text('{"layers": []}\n')
    scan_cache.store(cache, "k" * 64, _synthetic(10))
    assert sorted(p.name for p in cache.iterdir()) == [f"{'k' * 64}{scan_cache.SUFFIX}"]


@pytest.mark.unit
def test_a_process_that_ends_right_after_a_scan_still_leaves_the_whole_entry(cache: Path) -> None:
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        from pytest_smconform.engine import scan_cache
        from pytest_smconform.engine.layers import Entry, Layer, LayerScan
        rows = [Entry(f"/f{i}", 0, 0, 0o644, 1, "file") for i in range(50_000)]
        scan_cache.cached_scan("sha256:" + "0" * 64, {"/etc/passwd"},
                               lambda: LayerScan(layers=[Layer("sha256:a", rows)], contents={}, config={}))
    """)  # and exits at once: the writer thread must finish first
    subprocess.run([sys.executable, "-c", code], check=True, env={**__import__("os").environ})
    key = scan_cache.entry_key("sha256:" + "0" * 64, {"/etc/passwd"})
    loaded = scan_cache.load(cache, key)
    assert loaded is not None and len(loaded.layers[0].entries) == 50_000
