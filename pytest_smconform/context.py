"""One run's shared state: the engine, the image, its layers, the launches, and every verdict."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .engine import symptoms
from .engine.disk_guard import DiskGuard, parse_size
from .engine.docker_engine import DockerEngine, Launch
from .engine.labels import new_run_id
from .engine.layers import LayerScan, scan_image_stream, until_cancelled
from .engine.niced import run_niced
from .engine.overlay import scan_overlay
from .engine.scan_cache import cached_scan, has_entry
from .errors import UsageError
from .platform import Variant, launcher
from .settings import Settings
from .spec.model import Profile, Requirement
from .verdicts import NotApplicable, Verdict

T = TypeVar("T")
PROGRESS_EVERY = 10.0  # seconds between "still waiting" lines
FIRST_START_WAIT = 60.0  # at most this long the layer scan waits for the first container's start
DEFAULT_DISK_LIMIT = "10g"  # for profiles of user spec files that do not extend `common`

# Small files whose final content checks may read (`*/kernel.json`: every kernelspec of the image).
WANTED_FILES = {"/etc/passwd", "/etc/group", "/etc/os-release", "/usr/lib/os-release", "*/kernel.json"}


@dataclass
class LaunchRecord:
    """What the report says about one launch."""

    name: str
    variant: str
    time_to_ready: float | None
    error: str | None
    reproduce: str


@dataclass
class RunContext:
    settings: Settings
    profile: Profile
    run_id: str = field(default_factory=new_run_id)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    launch_records: list[LaunchRecord] = field(default_factory=list)
    # Extra top-level report sections a profile adds (e.g. processing's "jobs"); JSON-ready values.
    report_sections: dict[str, Any] = field(default_factory=dict)
    # Per-run memo for check kinds (e.g. the fuzz examples they planned at prewarm).
    memo: dict[str, Any] = field(default_factory=dict)
    # Where "still waiting" lines go (the terminal); None: silent.
    progress: Callable[[str], None] | None = None
    # Called with a one-off launch just before it is removed (a certification run keeps its log).
    on_discard: Callable[[Launch], None] | None = None

    def __post_init__(self) -> None:
        self._engine: DockerEngine | None = None
        self._lock = threading.RLock()
        self._image: dict[str, Any] | None = None
        self._scan: Future[LayerScan] | None = None
        self._scan_after_start = False  # set by prewarm: the scan waits for the first container's start
        self._first_start = threading.Event()  # set as the engine is asked to start the first container
        self.prewarm_checks: frozenset[str] = frozenset()  # check kinds prewarm started for
        self._launches: dict[tuple[str, Variant], Future[Launch]] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="smconform")
        self._closed = False
        self.cancel = threading.Event()  # set on close: every wait returns at once
        self._diagnosis: dict[str, str | None] = {}
        self._cleanups: list[Callable[[], object]] = []  # run at close, last registered first
        self._once: dict[str, Future[Any]] = {}
        self._guard: DiskGuard | None = None

    # -- basics ---------------------------------------------------------------------------

    @property
    def image_ref(self) -> str:
        assert self.settings.image is not None
        return self.settings.image

    def param(self, key: str) -> Any:
        return self.profile.parameters[key].default

    @property
    def engine(self) -> DockerEngine:
        with self._lock:
            if self._engine is None:
                self._engine = DockerEngine(self.run_id)
                self._engine.sweep_stale()
                limit = self._disk_limit()
                if limit > 0:  # disk_limit=0 turns the guard off
                    self._guard = DiskGuard(self._engine.api, self.run_id, limit)
                    self._guard.start()
            return self._engine

    def _disk_limit(self) -> int:
        given = self.profile.parameters.get("disk_limit")
        try:
            return parse_size(str(given.default if given is not None else DEFAULT_DISK_LIMIT))
        except ValueError as exc:
            raise UsageError(f"disk_limit: {exc}") from None

    def image(self) -> dict[str, Any]:
        if self.settings.image is None:
            # A documents-only run (profiles with `image: optional`): image rules do not apply.
            raise NotApplicable("no image given (documents-only run)")
        with self._lock:
            if self._image is None:
                self._image = self.engine.inspect_image(self.image_ref)
            return self._image

    def image_config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.image().get("Config") or {}
        return config

    def layers(self) -> LayerScan:
        if self._scan_after_start:
            # Not before the engine is asked to start the first container: until then the launch's own
            # engine calls are the critical path, and the scan (a static check asks for it first) would hold
            # the interpreter for tens of milliseconds at a time while they wait for it.
            self._first_start.wait(FIRST_START_WAIT)
        with self._lock:
            if self._scan is None:
                self._scan = self._pool.submit(self._scan_layers)
            future = self._scan
        return future.result()

    def _scan_layers(self) -> LayerScan:
        return cached_scan(str(self.image()["Id"]), WANTED_FILES, self._read_layers)

    def _read_layers(self) -> LayerScan:
        # The engine's own layer directories when they are on this host (fast), else `docker save`.
        image = self.image()
        fast = run_niced(lambda: scan_overlay(image, WANTED_FILES, self.cancel))
        if fast is not None:
            return fast
        return scan_image_stream(until_cancelled(self.engine.image_tar_stream(self.image()["Id"]), self.cancel),
                                 WANTED_FILES)

    # -- launches ----------------------------------------------------------------------------

    def prewarm(self, requirements: list[Requirement]) -> None:
        """Start what the selected requirements will need, concurrently, before they ask."""
        from .checks import prewarm_hook

        if self.settings.image is None:
            return
        self.prewarm_checks = frozenset(req.check for req in requirements)
        launches = sorted({req.launch for req in requirements if req.launch})
        scan_now = False
        if any("static" in req.how for req in requirements):
            # A cached scan is loaded while the engine starts the first container: until then its parsing
            # (one call that holds the interpreter for 30 ms) would hold up the launch's own engine calls,
            # the critical path. An image not scanned yet is scanned at once: the walk of its layers takes
            # longer than the container's start, and hands the interpreter over every few milliseconds.
            self._scan_after_start = bool(launches) and has_entry(str(self.image()["Id"]), WANTED_FILES)
            scan_now = not self._scan_after_start
        for name in launches:
            self.launch_async(name, Variant())
        if scan_now:
            self.layers_async()
        for req in requirements:
            hook = prewarm_hook(req.check)
            if hook is not None:
                hook(self, req)

    def _starting(self) -> None:
        self._first_start.set()
        if self._scan_after_start:
            self.layers_async()

    def layers_async(self) -> None:
        with self._lock:
            if self._scan is None:
                self._scan = self._pool.submit(self._scan_layers)

    def launch_async(self, name: str, variant: Variant) -> Future[Launch]:
        with self._lock:
            key = (name, variant)
            if key not in self._launches:
                self._launches[key] = self._pool.submit(self._start, name, variant)
            return self._launches[key]

    def background(self, work: Callable[[], None]) -> None:
        """Run `work` on the run's pool (its errors surface where its results are used)."""
        self._pool.submit(work)

    def once(self, key: str, work: Callable[[], T]) -> Future[T]:
        """`work` started on the run's pool the first time `key` is asked for; its future every time.

        A check's slow part can so start early (from a prewarm hook) and be awaited by the check.
        """
        with self._lock:
            future: Future[T] | None = self._once.get(key)
            if future is None:
                future = self._once[key] = self._pool.submit(work)
            return future

    def probe(self, container_id: str, argv: list[str], user: str = "",
              timeout: float = 30.0) -> tuple[int | None, str]:
        """`engine.exec_run` of a probe, once per container, command and user.

        A prewarm hook can start it as soon as the container is up; the check then gets the
        answer instead of waiting for another `docker exec`. Only for commands that leave the
        container as they found it (a read; a file created and removed).
        """
        key = "probe\0" + "\0".join([container_id, user, *argv])
        return self.once(key, lambda: self.engine.exec_run(container_id, argv, user=user, timeout=timeout)).result()

    def launch(self, name: str, variant: Variant | None = None) -> Launch:
        """The launch, once it is ready or has failed; says what it waits for every few seconds."""
        variant = variant or Variant()
        future = self.launch_async(name, variant)
        start = time.monotonic()
        while True:
            try:
                return future.result(timeout=PROGRESS_EVERY)
            except FutureTimeout:
                # Only the main thread talks to the terminal (pytest's capture is not thread-safe).
                if self.progress is not None and threading.current_thread() is threading.main_thread():
                    self.progress(f"waiting for launch {name} ({variant.describe()}): "
                                  f"{time.monotonic() - start:.0f} s so far")

    def _start(self, name: str, variant: Variant) -> Launch:
        if self._closed:
            raise RuntimeError("the run is closing")
        decl = self.profile.launches[name]
        platform = launcher(decl.platform)
        plan = platform.plan(self, decl, variant)
        try:
            launch = self.engine.start(plan, self._starting)
        finally:
            self._first_start.set()  # also when the container could not be created
        if launch.ready_error is None:
            platform.wait_ready(self, launch, decl, variant)
        if launch.ready_error is not None and not self._closed:
            launch.ready_error = self.explain(launch.ready_error, launch.container_id, plan.ports[:1])
        self.launch_records.append(LaunchRecord(
            name=name, variant=variant.describe(), time_to_ready=launch.time_to_ready,
            error=launch.ready_error, reproduce=plan.reproduce()))
        return launch

    def explain(self, error: str, container_id: str, ports: list[int]) -> str:
        """`error` with what the container is doing wrong (a flood, a fork bomb, a full disk...)."""
        return "; ".join([error, *self.symptoms_of(container_id, ports[0] if ports else None)])

    def symptoms_of(self, container_id: str, port: int | None = None) -> list[str]:
        note = self._guard.note(container_id) if self._guard is not None else None
        return symptoms.describe(self.engine.api, container_id, port, note)

    def discard(self, launch: Launch) -> None:
        """Remove a one-off launch in the background (the final sweep catches anything left)."""
        if self.on_discard is not None:
            self.on_discard(launch)
        if self._closed:
            self.engine.remove(launch)
            return
        self._pool.submit(self.engine.remove, launch)

    def diagnose(self, name: str) -> str | None:
        """When a launch never gets ready, find the requirement whose platform condition breaks it.

        Each requirement may declare `diagnose` (a Variant) in its spec: the launch without that
        one platform condition. The first such variant that does get ready names the root cause.
        """
        with self._lock:
            if name in self._diagnosis:
                return self._diagnosis[name]
        candidates = []
        for req in self.profile.requirements:
            spec = req.params.get("diagnose")
            if req.launch != name or not isinstance(spec, dict):
                continue
            variant = Variant(**spec)
            if not variant.use_config and self.settings.container_config is None:
                continue  # the same launch as the failing one
            # All variants start at once: an app that never starts costs one timeout, not one each.
            candidates.append((req.id, variant, self.launch_async(name, variant)))
        culprit = next((req_id for req_id, variant, _ in candidates if self.launch(name, variant).is_up), None)
        with self._lock:
            self._diagnosis[name] = culprit
        return culprit

    def started_launches(self) -> list[Launch]:
        out = []
        for future in list(self._launches.values()):
            if future.done() and future.exception() is None:
                out.append(future.result())
        return out

    def requirement(self, req_id: str) -> Requirement:
        return self.profile.requirement(req_id)

    # -- the end -------------------------------------------------------------------------

    def add_cleanup(self, fn: Callable[[], object]) -> None:
        """Something outside the engine to undo at close (e.g. a live cluster's throw-away namespace)."""
        with self._lock:
            self._cleanups.append(fn)

    def close(self) -> None:
        """Remove every container, volume and network this run created, and whatever add_cleanup registered."""
        self._closed = True
        self.cancel.set()
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception:  # one failed cleanup must not keep the others from running
                continue
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._scan = None  # its entries are freed now, not walked by pytest's end-of-run collections
        if self._guard is not None:
            self._guard.stop()
        if self._engine is not None:
            self._engine.sweep()

