"""SageMaker Processing on the real engine: a job of N containers `algo-1..N`, run as the service would.

Stricter than the SDK's local mode where the documentation allows: an empty volume over /opt/ml
(the platform's, not the image's), the documented config shapes only, `/etc/hostname` unlike
`current_host`, peers resolvable only after a delay, outputs collected without following links,
a maximum runtime, and StopProcessingJob's SIGINT then SIGKILL. Every container, volume and
network carries the run's labels and is removed when the job has been observed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import re
import secrets
import shlex
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
import requests

from .. import redact
from ..engine import procfs
from ..engine.containment import contained_host_config
from ..errors import EngineError
from ..model import processing as model

if TYPE_CHECKING:
    from ..context import RunContext

LOG_TAIL = 30
MESSAGE_PATH = "/opt/ml/output/message"
CONFIG_DIR = "/opt/ml/config"
MESSAGE_READ_MAX = 1 << 20
HARD_LINK = "a hard link: read on its own"
ELSEWHERE_IGNORED = ("/tmp", "/var/tmp", "/run", "/dev", "/proc", "/sys", "/root/.cache", "/var/cache",
                     "/var/log", "/var/lib/apt")
JOB_WORKERS = 16  # every job a default run prewarms (3 scenarios, 2 stops, 3 environments) at once, and more
WAIT_SLICE = 30  # seconds of one blocking wait for a container's exit; then it waits again
NETWORK_WAIT = 120.0  # seconds to wait for a free address pool when the engine has none left
LOOPBACK_NAME_IP = "127.0.1.1"  # a lone instance's own name, as Debian maps the host name
_WRITABLE: dict[str, bool] = {}


def hosts_files_writable(api: Any) -> bool:
    """Whether this process can write the engine's per-container hosts files (a local engine, as root)."""
    if "answer" not in _WRITABLE:
        try:
            root = str(api.info().get("DockerRootDir") or "/var/lib/docker")
        except docker.errors.APIError:
            root = "/var/lib/docker"
        _WRITABLE["answer"] = os.access(f"{root}/containers", os.W_OK)
    return _WRITABLE["answer"]


@dataclass(frozen=True)
class JobVariant:
    """A deliberate change to the platform's behaviour, to find which platform condition breaks a job."""

    optml: str = "shadowed"  # shadowed: an empty volume over /opt/ml; image: the image's own /opt/ml stays
    hostnames: str = "adversarial"  # adversarial: hostname != current_host, names after a delay; friendly
    config: str = "documented"  # documented shapes only; local: the SDK local mode's extra keys, name as ARN

    def describe(self) -> str:
        parts = []
        if self.optml != "shadowed":
            parts.append("/opt/ml not mounted over")
        if self.hostnames != "adversarial":
            parts.append("hostname = current_host, peers resolvable at once")
        if self.config != "documented":
            parts.append("config files as local mode writes them")
        return ", ".join(parts) or "as the service runs it"


@dataclass(frozen=True)
class StopPlan:
    """StopProcessingJob: `signal` to every container `after` seconds, SIGKILL `grace` seconds later."""

    signal: str = "SIGINT"
    after: float = 1.5
    grace: float = 10.0


@dataclass(frozen=True)
class JobSettings:
    """Platform knobs (profile parameters)."""

    image: str
    peer_delay: float = 3.0
    max_runtime_cap: int = 300
    stop_grace: float = 10.0  # SIGINT -> SIGKILL when MaxRuntimeInSeconds stops the job
    memory: str = "2g"
    region: str = "us-west-2"


@dataclass
class ContainerRun:
    host: str
    hostname: str
    name: str
    container_id: str = ""
    argv: list[str] = field(default_factory=list)
    start_error: str | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    ran_seconds: float | None = None
    log_tail: list[str] = field(default_factory=list)
    message: bytes | None = None
    message_note: str | None = None  # e.g. "a symbolic link": why no message was read
    outputs: list[model.OutputEntry] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    config_files: dict[str, Any] = field(default_factory=dict)  # name -> parsed JSON (or an error string)
    config_modes: dict[str, int] = field(default_factory=dict)
    pid1: dict[str, Any] = field(default_factory=dict)  # at stop time: argv, environ (host /proc)
    ended_before_stop: bool = False
    signalled: bool = False
    exited_after_signal: float | None = None
    killed: bool = False
    symptoms: list[str] = field(default_factory=list)  # what it did wrong (a flood, a fork bomb...)


@dataclass
class JobResult:
    request: model.ProcessingJobRequest
    variant: JobVariant
    stop: StopPlan | None
    job_name: str
    status: str = model.FAILED
    failure_reason: str | None = None
    exit_message: model.ExitMessage = field(default_factory=lambda: model.exit_message({}))
    containers: list[ContainerRun] = field(default_factory=list)
    outputs: model.OutputVerdict = field(default_factory=model.OutputVerdict)
    duration: float = 0.0
    timed_out: bool = False
    error: str | None = None  # the emulator itself could not run the job
    reproduce: str = ""
    stopped_after_failure: list[str] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.status == model.COMPLETED

    @property
    def exit_codes(self) -> dict[str, int | None]:
        return {c.host: c.exit_code for c in self.containers}

    def describe(self) -> str:
        codes = ", ".join((f"{c.host} exit {c.exit_code}" + "".join(f"; {s}" for s in c.symptoms))
                          if c.start_error is None
                          else f"{c.host} not started ({c.start_error[:120]})" for c in self.containers)
        reason = f" ({self.failure_reason})" if self.failure_reason else ""
        return f"{self.status}{reason}: {codes}"

    def log_details(self, lines: int = 12) -> list[str]:
        out = []
        for run in self.containers:
            if run.log_tail:
                out.append(f"{run.host} log (last lines):")
                out += [f"  | {model.mask_secrets(line)}" for line in run.log_tail[-lines:]]
        if self.reproduce:
            out.append("reproduce:")
            out += [f"  {line}" for line in self.reproduce.splitlines()]
        return out

    def summary(self) -> dict[str, Any]:
        """The job as DescribeProcessingJob and S3 would show it (secrets masked), for the JSON report."""
        shown = self.exit_message.text
        return {
            "scenario": self.request.name,
            "job_name": self.job_name,
            "platform": self.variant.describe(),
            "stop": None if self.stop is None else {"signal": self.stop.signal, "after": self.stop.after,
                                                    "grace": self.stop.grace},
            "status": self.status,
            "failure_reason": self.failure_reason,
            "exit_message": None if shown is None else model.mask_secrets(shown),
            "exit_message_warnings": list(self.exit_message.warnings),
            "duration_seconds": round(self.duration, 2),
            "containers": [{
                "host": c.host, "container": (c.container_id or "")[:12], "hostname": c.hostname, "argv": c.argv,
                "exit_code": c.exit_code,
                "start_error": c.start_error, "oom_killed": c.oom_killed, "killed": c.killed,
                "message_bytes": None if c.message is None else len(c.message),
                "log_tail": [model.mask_secrets(line) for line in c.log_tail],
            } for c in self.containers],
            "outputs": {
                "uploaded": [{"output": e.output, "path": e.path, "size": e.size} for e in self.outputs.uploaded],
                "lost": [{"output": e.output, "path": e.path, "why": why} for e, why in self.outputs.lost],
                "empty": list(self.outputs.empty_outputs),
            },
            "written_elsewhere": sorted({p for c in self.containers for p in c.elsewhere})[:20],
            "error": self.error,
            "reproduce": self.reproduce,
        }


# -- the per-run job book: every job once, concurrently ---------------------------------------------


class JobBook:
    """The jobs of one run, each run once per (request, variant, stop) and remembered."""

    def __init__(self, ctx: RunContext, settings: JobSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self._lock = threading.Lock()
        self._futures: dict[tuple[Any, ...], Future[JobResult]] = {}
        self._pool = ThreadPoolExecutor(max_workers=JOB_WORKERS, thread_name_prefix="smconform-job")

    def submit(self, request: model.ProcessingJobRequest, variant: JobVariant = JobVariant(),
               stop: StopPlan | None = None) -> Future[JobResult]:
        key = (request, variant, stop)
        with self._lock:
            if key not in self._futures:
                self._futures[key] = self._pool.submit(self._run, request, variant, stop)
            return self._futures[key]

    def job(self, request: model.ProcessingJobRequest, variant: JobVariant = JobVariant(),
            stop: StopPlan | None = None) -> JobResult:
        return self.submit(request, variant, stop).result()

    def finished(self) -> list[JobResult]:
        with self._lock:
            futures = list(self._futures.values())
        return [f.result() for f in futures if f.done() and f.exception() is None]

    def _run(self, request: model.ProcessingJobRequest, variant: JobVariant, stop: StopPlan | None) -> JobResult:
        result = run_job(self.ctx, self.settings, request, variant, stop)
        with self._lock:
            jobs = self.ctx.report_sections.setdefault("jobs", [])
            jobs.append(result.summary())
        return result


_BOOKS: dict[str, JobBook] = {}
_BOOKS_LOCK = threading.Lock()


def job_book(ctx: RunContext, settings: JobSettings) -> JobBook:
    with _BOOKS_LOCK:
        book = _BOOKS.get(ctx.run_id)
        if book is None:
            book = _BOOKS[ctx.run_id] = JobBook(ctx, settings)
        return book


# -- one job ------------------------------------------------------------------------------------


def run_job(ctx: RunContext, settings: JobSettings, request: model.ProcessingJobRequest,
            variant: JobVariant = JobVariant(), stop: StopPlan | None = None) -> JobResult:
    """Run `request` to its end on the engine, observe everything, remove everything."""
    job_id = secrets.token_hex(4)
    job_name = f"smconform-{request.name}-{job_id}"[:63]
    result = JobResult(request, variant, stop, job_name)
    runner = _JobRunner(ctx, settings, request, variant, stop, job_id, result)
    started = time.monotonic()
    try:
        runner.create()
        runner.start_and_wait()
        runner.collect()
    except EngineError as exc:
        result.error = str(exc)
    except docker.errors.APIError as exc:
        result.error = f"the engine refused: {str(exc).splitlines()[0][:300]}"
    finally:
        result.reproduce = "\n".join(runner.lines)
        _remove_later(ctx, runner)
    result.duration = time.monotonic() - started
    _judge(result)
    return result


def _remove_later(ctx: RunContext, runner: _JobRunner) -> None:
    """Remove the job's containers, volumes and networks beside the checks that judge it.

    Everything it needs has been read; the run's pool finishes its work before the run's final sweep.
    """
    try:
        ctx.background(runner.remove)
    except RuntimeError:  # the run is closing: its pool takes no more work
        runner.remove()


def _judge(result: JobResult) -> None:
    messages = {c.host: c.message for c in result.containers}
    result.exit_message = model.exit_message(messages)
    outcome = model.job_outcome(result.exit_codes, message_error=result.exit_message.client_error,
                                stopped=result.stop is not None and any(c.exited_after_signal is not None
                                                                        or c.killed for c in result.containers),
                                timed_out=result.timed_out)
    result.status, result.failure_reason = outcome.status, outcome.failure_reason
    if result.error is not None:
        result.status, result.failure_reason = model.FAILED, f"the emulator could not run the job: {result.error}"
    entries = [e for c in result.containers for e in c.outputs]
    result.outputs = model.judge_outputs(entries, [o.name for o in result.request.outputs], result.completed)


class _JobRunner:
    def __init__(self, ctx: RunContext, settings: JobSettings, request: model.ProcessingJobRequest,
                 variant: JobVariant, stop: StopPlan | None, job_id: str, result: JobResult) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self.api = ctx.engine.api
        self.settings = settings
        self.request = request
        self.variant = variant
        self.stop = stop
        self.job_id = job_id
        self.result = result
        self.networks: list[str] = []
        self.volumes: list[str] = []
        self.lines: list[str] = []  # the reproduce script
        self.signal_wall: float | None = None

    @property
    def labels(self) -> dict[str, str]:
        return {**self.engine.labels, "io.smconform.job": self.result.job_name}

    # -- create -------------------------------------------------------------------------------

    def _network(self, suffix: str) -> str:
        """A private network for the job; when the engine's address pools are used up, wait for one."""
        name = f"smc-{self.job_id}{suffix}"
        deadline = time.monotonic() + NETWORK_WAIT
        delay = 0.5
        while True:
            try:
                self.api.create_network(name, driver="bridge", internal=True, labels=self.labels)
                break
            except docker.errors.APIError as exc:
                text = str(exc).splitlines()[0]
                if "address pool" not in text or time.monotonic() > deadline:
                    raise EngineError(f"creating the job network {name}: {text[:200]}") from None
                time.sleep(delay)
                delay = min(delay * 1.5, 5.0)
        self.networks.append(name)
        self.lines.append(f"docker network create --internal {name}")
        return name

    def create(self) -> None:
        friendly = self.variant.hostnames == "friendly"
        hosts = self.request.hosts
        # One instance needs no network (the service gives it no peers): its name goes into its hosts file.
        main = "none" if len(hosts) == 1 and hosts_files_writable(self.api) else self._network("")
        cap = min(self.request.max_runtime_seconds, self.settings.max_runtime_cap)
        self.result.request = replace(self.request, max_runtime_seconds=cap) if cap != \
            self.request.max_runtime_seconds else self.request
        for index, host in enumerate(hosts, start=1):
            hostname = host if friendly else f"ip-10-{secrets.randbelow(250) + 2}-{secrets.randbelow(250)}-{index}"
            self.result.containers.append(ContainerRun(host=host, hostname=hostname, name=f"smc-{self.job_id}-{index}"))
        # The instances are independent until they start: create them together.
        with ThreadPoolExecutor(max_workers=min(len(hosts), 8), thread_name_prefix="smconform-create") as pool:
            list(pool.map(lambda run: self._create_one(run, main, hosts), self.result.containers))
        self.lines += [self._create_line(run, main) for run in self.result.containers if run.container_id]

    def _create_one(self, run: ContainerRun, network: str, hosts: list[str]) -> None:
        mounts = []
        if self.variant.optml == "shadowed":
            volume = str(self.api.create_volume(driver="local", labels=self.labels)["Name"])
            self.volumes.append(volume)
            mounts.append(docker.types.Mount(target="/opt/ml", source=volume, type="volume", no_copy=True))
        friendly = self.variant.hostnames == "friendly"
        host_config = contained_host_config(
            self.api, mounts=mounts, network_mode=network, mem_limit=self.settings.memory,
            dns_opt=["timeout:1", "attempts:1"],
            extra_hosts={run.host: LOOPBACK_NAME_IP} if friendly and network == "none" else None)
        redact.remember(self.request.env)
        if friendly and network != "none":
            kwargs_net = {"networking_config": self.api.create_networking_config(
                {network: self.api.create_endpoint_config(aliases=[run.host])})}
        else:
            kwargs_net = {}
        kwargs: dict[str, Any] = {}
        if self.request.container_entrypoint is not None:
            kwargs["entrypoint"] = list(self.request.container_entrypoint)
        if self.request.container_arguments is not None:
            kwargs["command"] = list(self.request.container_arguments)
        try:
            created = self.api.create_container(
                image=self.settings.image, environment=self.request.env, hostname=run.hostname, name=run.name,
                labels=self.labels, host_config=host_config, detach=True, **kwargs_net, **kwargs)
        except docker.errors.APIError as exc:
            run.start_error = str(getattr(exc, "explanation", None) or exc).splitlines()[0][:300]
            return
        run.container_id = str(created["Id"])
        info = self.api.inspect_container(run.container_id)
        run.argv = [str(info.get("Path") or ""), *[str(a) for a in info.get("Args") or []]]
        if run.argv == [""]:
            run.argv = []
        self.api.put_archive(run.container_id, "/", self._platform_files(run.host, hosts))

    def _platform_files(self, host: str, hosts: list[str]) -> bytes:
        local = self.variant.config == "local"
        job_config = model.processing_job_config(self.result.request, image_uri=self.settings.image,
                                                 job_name=self.result.job_name, region=self.settings.region,
                                                 local_mode=local)
        resource = model.resource_config(host, hosts, local_mode=local)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            made: set[str] = set()

            def directory(path: str, mode: int) -> None:
                parts = path.strip("/").split("/")
                for depth in range(1, len(parts) + 1):
                    name = "/".join(parts[:depth])
                    if name in made:
                        continue
                    made.add(name)
                    info = tarfile.TarInfo(name)
                    info.type = tarfile.DIRTYPE
                    info.mode = mode if depth == len(parts) else 0o755
                    info.mtime = int(time.time())
                    tar.addfile(info)

            def regular(path: str, data: bytes, mode: int = 0o644) -> None:
                directory(path.rsplit("/", 1)[0], 0o755)
                info = tarfile.TarInfo(path.strip("/"))
                info.size, info.mode, info.mtime = len(data), mode, int(time.time())
                tar.addfile(info, io.BytesIO(data))

            directory(CONFIG_DIR, 0o755)
            regular(f"{CONFIG_DIR}/processingjobconfig.json", model.dumps(job_config))
            regular(f"{CONFIG_DIR}/resourceconfig.json", model.dumps(resource))
            directory("/opt/ml/output", 0o777)
            directory("/opt/ml/processing", 0o755)
            for item in self.request.inputs:
                directory(item.local_path, 0o755)
                for rel, text in item.files:
                    regular(f"{item.local_path.rstrip('/')}/{rel}", text.encode("utf-8"))
            for item in self.request.outputs:
                directory(item.local_path, 0o777)
        return buffer.getvalue()

    def _create_line(self, run: ContainerRun, network: str) -> str:
        parts = ["docker", "create", "--name", run.name, "--hostname", run.hostname, "--network", network,
                 "--dns-opt", "timeout:1", "--dns-opt", "attempts:1", "--memory", self.settings.memory]
        if self.variant.optml == "shadowed":
            parts += ["--mount", "type=volume,dst=/opt/ml,volume-nocopy=true"]
        for key, value in self.request.environment:
            parts += ["-e", f"{key}={redact.shown_value(key, value)}"]
        entry = self.request.container_entrypoint
        if entry is not None:
            parts.append(f"--entrypoint={entry[0] if entry else ''}")
        parts.append(self.settings.image)
        parts += list(entry or [])[1:]
        if self.request.container_arguments is not None:
            parts += list(self.request.container_arguments)
        return " ".join(shlex.quote(p) for p in parts) + \
            f"  # then: docker cp the /opt/ml/config files ({run.host}) into {run.name}"

    # -- run ------------------------------------------------------------------------------------

    def start_and_wait(self) -> None:
        runs = [c for c in self.result.containers if c.container_id]
        if not runs:
            return
        started: dict[str, float] = {}
        for run in runs:
            try:
                self.api.start(run.container_id)
                started[run.host] = time.monotonic()
                self.lines.append(f"docker start {run.name}")
            except docker.errors.APIError as exc:
                run.start_error = str(getattr(exc, "explanation", None) or exc).splitlines()[0][:300]
        t0 = min(started.values(), default=time.monotonic())
        delay = self.settings.peer_delay if self.variant.hostnames == "adversarial" else 0.0
        aliases_at: float | None = t0 + delay
        if delay:
            self.lines.append(f"sleep {delay:g}  # peers are not resolvable yet")
        deadline = t0 + self.result.request.max_runtime_seconds
        stop_at = t0 + self.stop.after if self.stop is not None else None
        signalled_at: float | None = None
        timed_out_at: float | None = None  # when MaxRuntimeInSeconds' SIGINT went out: the grace runs from then
        running = {r.host: r for r in runs if r.host in started}
        exits = self._exit_events(list(running.values()))
        while running:
            now = time.monotonic()
            if aliases_at is not None and now >= aliases_at:
                self._publish_names(runs)
                aliases_at = None
            # Sleep until a container exits or the next platform action is due (no polling of the engine).
            due = [t for t in (aliases_at, stop_at if signalled_at is None else None,
                               signalled_at + self.stop.grace if signalled_at is not None and self.stop else None,
                               deadline if timed_out_at is None else timed_out_at + self.settings.stop_grace)
                   if t is not None]
            ended = _drain(exits, max(0.0, min([*due, now + 0.5]) - now))
            now = time.monotonic()
            for host in ended:
                gone = running.get(host)
                if gone is None:
                    continue
                state = self.engine.state(gone.container_id)
                if state.get("Running"):
                    self._exit_events([gone], exits)  # the wait broke off (an engine error): wait again
                    continue
                gone.ran_seconds = now - started[host]
                del running[host]
                if signalled_at is None and stop_at is not None:
                    gone.ended_before_stop = True
                if state.get("ExitCode") not in (0, None) and signalled_at is None and running:
                    self._stop_after_failure(running, host)
            if not running:
                break
            if stop_at is not None and signalled_at is None and now >= stop_at:
                assert self.stop is not None
                self._observe_pid1(list(running.values()))
                self.signal_wall = time.time()
                for run in running.values():
                    if not run.pid1:
                        run.ended_before_stop = True  # gone before it could be observed and signalled
                        continue
                    self._signal(run, self.stop.signal)
                    run.signalled = True
                self.lines.append(f"docker kill -s {self.stop.signal} <containers>  # StopProcessingJob")
                signalled_at = time.monotonic()
            if signalled_at is not None and self.stop is not None and now >= signalled_at + self.stop.grace:
                for run in running.values():
                    self._signal(run, "SIGKILL")
                    run.killed = True
                signalled_at = float("inf")  # killed: wait for the engine to reap them
            if now >= deadline and not self.result.timed_out:
                # The stopping condition stops the job as StopProcessingJob does: SIGINT, SIGKILL after the grace.
                self.result.timed_out = True
                for run in running.values():
                    run.symptoms = self.ctx.symptoms_of(run.container_id)
                    self._signal(run, "SIGINT")
                # From the signal, not from the deadline: on a loaded engine the signal can go out seconds
                # late, and a grace counted from the deadline killed jobs that were ending on it.
                timed_out_at = time.monotonic()
                self.lines.append("docker kill -s SIGINT <containers>  # MaxRuntimeInSeconds reached")
            if timed_out_at is not None and now >= timed_out_at + self.settings.stop_grace:
                for run in running.values():
                    self._signal(run, "SIGKILL")
                    run.killed = True
                timed_out_at = float("inf")
            if getattr(self.ctx, "_closed", False):
                break

    def _exit_events(self, runs: list[ContainerRun],
                     into: queue.SimpleQueue[str] | None = None) -> queue.SimpleQueue[str]:
        """A queue that gets each container's host name when it exits (the engine's blocking wait, one
        thread per container): the job reacts at once, and the engine is not polled."""
        exits: queue.SimpleQueue[str] = into if into is not None else queue.SimpleQueue()

        def wait(run: ContainerRun) -> None:
            while True:
                try:
                    self.api.wait(run.container_id, timeout=WAIT_SLICE)
                except requests.RequestException:
                    if not getattr(self.ctx, "_closed", False):
                        continue  # still running after a slice: wait on
                except docker.errors.APIError:
                    pass
                break
            exits.put(run.host)

        for run in runs:
            threading.Thread(target=wait, args=(run,), daemon=True, name=f"smconform-wait-{run.name}").start()
        return exits

    def _publish_names(self, runs: list[ContainerRun]) -> None:
        """Make algo-1..N resolvable in every container, and keep them so after a peer has exited.

        On the engine's host the names go into each container's hosts file (as a cluster's DNS
        keeps them); elsewhere each container joins a second network with its host name as alias.
        """
        addresses: dict[str, str] = {}
        paths: dict[str, str] = {}
        for run in runs:
            try:
                info = self.api.inspect_container(run.container_id)
            except docker.errors.APIError:
                continue
            networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
            address = (networks.get(self.networks[0]) or {}).get("IPAddress") if self.networks else LOOPBACK_NAME_IP
            if address:
                addresses[run.host] = str(address)
            paths[run.host] = str(info.get("HostsPath") or "")
        if self.variant.hostnames == "friendly" and not self.networks:
            return  # already in the hosts file from the start (extra_hosts)
        lines = "".join(f"{ip}\t{host}\n" for host, ip in sorted(addresses.items()))
        try:
            for run in runs:
                if paths.get(run.host):
                    with open(paths[run.host], "a", encoding="utf-8") as handle:
                        handle.write(lines)
                else:
                    raise OSError("no hosts file")
            self.lines.append("# then add 'IP algo-i' for every host to each container's /etc/hosts")
            return
        except OSError:
            if not self.networks:
                return  # no network to fall back on (hosts_files_writable said yes): names stay unresolvable
        dns = self._network("-dns")
        for run in runs:
            try:
                self.api.connect_container_to_network(run.container_id, dns, aliases=[run.host])
            except docker.errors.APIError:
                continue  # it has already exited
        self.lines.append(f"docker network connect --alias algo-<i> {dns} <container i>  # for each host")

    def _stop_after_failure(self, running: dict[str, ContainerRun], failed: str) -> None:
        for run in running.values():
            self._signal(run, "SIGKILL")
            run.killed = True
            self.result.stopped_after_failure.append(f"{run.host} (after {failed} failed)")

    def _signal(self, run: ContainerRun, signal: str) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.api.kill(run.container_id, signal=signal)

    def _observe_pid1(self, runs: Iterable[ContainerRun]) -> None:
        for run in runs:
            try:
                pid = int(self.api.inspect_container(run.container_id)["State"].get("Pid") or 0)
            except docker.errors.APIError:
                continue
            if not pid:
                continue
            info = procfs.proc_info(pid)
            env = procfs.environ(pid)
            run.pid1 = {"host_pid": pid, "visible": info is not None,
                        "argv": list(info.argv) if info else None, "environ": env,
                        "signals": _dispositions(pid),
                        "processes": self._process_table(run)}

    def _process_table(self, run: ContainerRun) -> list[str]:
        try:
            top = self.api.top(run.container_id, ps_args="-o pid,ppid,args")
        except docker.errors.APIError:
            return []
        return [" ".join(str(x) for x in row)[:160] for row in top.get("Processes") or []][:10]

    # -- observe --------------------------------------------------------------------------------

    def collect(self) -> None:
        runs = [run for run in self.result.containers if run.container_id]
        if len(runs) == 1:
            self._collect_one(runs[0])
            return
        with ThreadPoolExecutor(max_workers=min(len(runs), 8), thread_name_prefix="smconform-collect") as pool:
            list(pool.map(self._collect_one, runs))

    def _collect_one(self, run: ContainerRun) -> None:
        """What one container did: its end, its log, its message, outputs, config files, other writes."""
        info = self.api.inspect_container(run.container_id)
        state = info.get("State") or {}
        if run.start_error is None and state.get("Error"):
            run.start_error = str(state["Error"])[:300]
        run.exit_code = None if run.start_error is not None else state.get("ExitCode")
        run.oom_killed = bool(state.get("OOMKilled"))
        finished = _timestamp(str(state.get("FinishedAt") or ""))
        began = _timestamp(str(state.get("StartedAt") or ""))
        if began is not None and finished is not None and finished >= began:
            run.ran_seconds = finished - began
        if run.signalled and self.signal_wall is not None and finished is not None:
            run.exited_after_signal = max(0.0, finished - self.signal_wall)
            grace = self.stop.grace if self.stop is not None else 0.0
            run.killed = run.killed and run.exited_after_signal >= grace - 0.05
        run.log_tail = self.engine.log_tail(run.container_id, LOG_TAIL)
        if not run.symptoms and (run.killed or self.result.timed_out or run.exit_code not in (0, None)):
            run.symptoms = self.ctx.symptoms_of(run.container_id)
        self._read_optml(run)

    def _read_optml(self, run: ContainerRun) -> None:
        """The message, the outputs, the config files and the rest of /opt/ml, from one archive of /opt/ml.

        One read of the volume instead of four. Where a symbolic link above a path (or a hard link at
        it) would make the engine's own per-path read differ, that path is read on its own as before.
        """
        outputs = [(item, item.local_path.rstrip("/")) for item in self.request.outputs]
        if not all(base.startswith("/opt/ml/") for _, base in outputs):
            self._read_message(run)
            self._read_outputs(run, self.request.outputs)
            self._read_config(run)
            self._find_elsewhere(run, self.variant.optml == "shadowed")
            return
        keep = self._kept_paths()
        found: dict[str, list[model.OutputEntry]] = {item.name: [] for item, _ in outputs}
        added: list[str] = []
        links: list[str] = []
        reread_message = False

        def wanted(path: str) -> bool:
            return path == MESSAGE_PATH or path.startswith(CONFIG_DIR + "/")

        for member, data in self._members(run.container_id, "/opt/ml", contents=MESSAGE_READ_MAX, wanted=wanted):
            path = "/opt/" + member.name.lstrip("/")
            if member.issym():
                links.append(path)
            if path == MESSAGE_PATH:
                reread_message = member.islnk()
                _take_message(run, member, data)
            if path.startswith(CONFIG_DIR + "/") and (member.isfile() or member.islnk()):
                self._config_member(run, path.rsplit("/", 1)[-1], member, data)
            for item, base in outputs:
                if path == base or path.startswith(base + "/"):
                    found[item.name].append(_output_entry(item.name, run.host, path, member))
            if self.variant.optml == "shadowed":
                self._elsewhere_member(run, path, member, keep, added)

        def below_link(path: str) -> bool:  # a link above it: the engine's per-path read follows that one
            return any(path.startswith(link + "/") for link in links)

        if reread_message or below_link(MESSAGE_PATH):
            run.message, run.message_note = None, None
            self._read_message(run)
        if any(v == HARD_LINK for v in run.config_files.values()):
            run.config_files.clear()
            run.config_modes.clear()
            self._read_config(run)
        undeclared = run.outputs
        run.outputs = [e for item, base in outputs if not below_link(base) for e in found[item.name]]
        self._read_outputs(run, [item for item, base in outputs if below_link(base)])
        run.outputs += undeclared
        self._find_elsewhere(run, False, added)

    def _config_member(self, run: ContainerRun, name: str, member: tarfile.TarInfo, data: bytes) -> None:
        if member.islnk():
            run.config_files[name] = HARD_LINK
            return
        run.config_modes[name] = member.mode
        try:
            run.config_files[name] = json.loads(data.decode("utf-8"))
        except ValueError as exc:
            run.config_files[name] = f"not JSON: {exc}"

    def _kept_paths(self) -> list[str]:
        keep = [o.local_path.rstrip("/") + "/" for o in self.request.outputs]
        keep += [i.local_path.rstrip("/") + "/" for i in self.request.inputs]
        return [*keep, CONFIG_DIR + "/", MESSAGE_PATH]

    def _elsewhere_member(self, run: ContainerRun, path: str, member: tarfile.TarInfo, keep: list[str],
                          added: list[str]) -> None:
        """One entry of /opt/ml: a kept path, an undeclared output below /opt/ml/processing/, or elsewhere."""
        if any(path.startswith(k) or path == k.rstrip("/") for k in keep):
            return
        if path.startswith(model.LOCAL_PATH_PREFIX):
            self._undeclared(run, path, member)
        elif not member.isdir():
            added.append(path)

    def _members(self, container_id: str, path: str, contents: int = 0,
                 wanted: Callable[[str], bool] | None = None) -> Iterator[tuple[tarfile.TarInfo, bytes]]:
        """Entries of `path` in the container (links are not followed); content of files up to `contents`
        (of those whose full path `wanted` accepts, when given)."""
        parent = path.rstrip("/").rsplit("/", 1)[0]
        try:
            stream, _ = self.api.get_archive(container_id, path)
        except docker.errors.NotFound:
            return
        reader = io.BufferedReader(_ChunkReader(stream), buffer_size=1 << 16)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                data = b""
                if contents and member.isfile() and (wanted is None or wanted(f"{parent}/{member.name}")):
                    handle = tar.extractfile(member)
                    data = handle.read(contents) if handle is not None else b""
                yield member, data

    def _read_message(self, run: ContainerRun) -> None:
        for member, data in self._members(run.container_id, MESSAGE_PATH, contents=MESSAGE_READ_MAX):
            _take_message(run, member, data)
            return

    def _read_outputs(self, run: ContainerRun, items: Iterable[model.ProcessingIO]) -> None:
        for item in items:
            base = item.local_path.rstrip("/")
            for member, _ in self._members(run.container_id, base):
                rel = member.name.split("/", 1)[1] if "/" in member.name else ""
                run.outputs.append(_output_entry(item.name, run.host, f"{base}/{rel}" if rel else base, member))

    def _read_config(self, run: ContainerRun) -> None:
        for member, data in self._members(run.container_id, CONFIG_DIR, contents=1 << 20):
            if member.isfile():
                self._config_member(run, member.name.rsplit("/", 1)[-1], member, data)

    def _find_elsewhere(self, run: ContainerRun, read_optml: bool, added: list[str] | None = None) -> None:
        """Files the job wrote that no output uploads: the container layer, and /opt/ml outside the outputs
        (`added`: what was found there already; `read_optml`: read /opt/ml here)."""
        added = list(added or [])
        try:
            changes = self.api.diff(run.container_id) or []
        except docker.errors.APIError:
            changes = []
        for change in changes:
            path = str(change.get("Path", ""))
            if change.get("Kind") != 1 or "__pycache__" in path or path.startswith("/opt/ml"):
                continue
            if any(path == p or path.startswith(p + "/") for p in ELSEWHERE_IGNORED):
                continue
            added.append(path)
        if read_optml:
            keep = self._kept_paths()
            for member, _ in self._members(run.container_id, "/opt/ml"):
                self._elsewhere_member(run, "/opt/" + member.name.lstrip("/"), member, keep, added)
        leaves = [p for p in added if not any(q.startswith(p + "/") for q in added)]
        run.elsewhere = sorted(leaves)[:50]

    def _undeclared(self, run: ContainerRun, path: str, member: tarfile.TarInfo) -> None:
        """Something the job wrote below /opt/ml/processing/ that no declared input or output covers."""
        top = model.LOCAL_PATH_PREFIX + path[len(model.LOCAL_PATH_PREFIX):].split("/", 1)[0]
        if any(o.local_path.rstrip("/") == path or o.local_path.startswith(path + "/")
               for o in self.request.outputs + self.request.inputs):
            return  # a parent directory of a declared path
        kind = ("symlink" if member.issym() else "file" if member.isfile() or member.islnk() else
                "dir" if member.isdir() else "other")
        run.outputs.append(model.OutputEntry(f"{model.UNDECLARED}{top}", f"{run.host}:{path}", kind, member.size,
                                             member.linkname if member.issym() else ""))

    # -- remove ---------------------------------------------------------------------------------

    def remove(self) -> None:
        for run in self.result.containers:
            if run.container_id:
                with contextlib.suppress(docker.errors.APIError):
                    self.api.remove_container(run.container_id, force=True, v=True)
        for volume in self.volumes:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_volume(volume, force=True)
        for network in self.networks:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_network(network)


def _take_message(run: ContainerRun, member: tarfile.TarInfo, data: bytes) -> None:
    """The job's /opt/ml/output/message: its bytes when it is a regular file, else why it was not read."""
    if member.isfile():
        run.message = data
    elif member.issym():
        run.message_note = f"{MESSAGE_PATH} is a symbolic link to {member.linkname}: not read"
    else:
        run.message_note = f"{MESSAGE_PATH} is not a regular file"


def _output_entry(output: str, host: str, path: str, member: tarfile.TarInfo) -> model.OutputEntry:
    kind = ("symlink" if member.issym() else "file" if member.isfile() or member.islnk() else
            "dir" if member.isdir() else "other")
    return model.OutputEntry(output, f"{host}:{path}", kind, member.size, member.linkname if member.issym() else "")


def _drain(exits: queue.SimpleQueue[str], timeout: float) -> list[str]:
    """Host names of the containers that exit within `timeout` seconds (those already exited at once)."""
    try:
        ended = [exits.get(timeout=timeout)]
    except queue.Empty:
        return []
    while not exits.empty():
        ended.append(exits.get_nowait())
    return ended


def _dispositions(pid: int) -> dict[str, str]:
    """How process `pid` treats SIGINT and SIGTERM (host /proc): caught, ignored, blocked or default."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
    except OSError:
        return {}
    out = {}
    for name, number in (("SIGINT", 2), ("SIGTERM", 15)):
        bit = 1 << (number - 1)
        masks = {key: int(fields.get(key, "0").strip() or "0", 16) for key in ("SigCgt", "SigIgn", "SigBlk")}
        out[name] = ("ignored" if masks["SigIgn"] & bit else "caught" if masks["SigCgt"] & bit
                     else "blocked" if masks["SigBlk"] & bit else "default (dropped for PID 1)")
    return out


def _timestamp(text: str) -> float | None:
    """Seconds since the epoch of an engine timestamp (RFC 3339 with nanoseconds)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None or text.startswith("0001-"):
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    base = datetime.fromisoformat(match.group(1) + zone).timestamp()
    return base + float("0." + (match.group(2) or "0"))


class _ChunkReader(io.RawIOBase):
    """A file object over the engine's archive stream (read once, never held whole)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
