"""Start each declared kernel inside the container and talk to it over the Jupyter protocol.

Like the platform's gateway, the suite writes a connection file, runs the kernelspec's argv
as the declared UID/GID with the mount path as working directory, and sends requests on the
kernel's shell channel. The client is the suite's own (ZMTP 3.0 + signed Jupyter messages,
`model/jupyter_wire.py`) and reaches the kernel through ports published on 127.0.0.1, so
nothing but the kernel itself is needed in the image.
"""

from __future__ import annotations

import ast
import functools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine import procfs
from ..errors import EngineError
from ..model.jupyter_wire import (
    GREETING_SIZE,
    FrameReader,
    Message,
    WireError,
    check_greeting,
    command_name,
    greeting,
    multipart,
    parse,
    ready_command,
    request,
)
from ..model.kernelgateway import AppImageConfig, KernelSpec, is_python, kernel_argv, kernel_env
from ..platform.kernelgateway import connection_path, declared_config, kernel_ports
from ..platform.readiness import init_process, poll, same_process
from .kernelgateway_discovery import Discovery, image_env, kernelspec, locate, read_kernelspecs

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch

_LOCK = threading.Lock()
OUTPUT_LIMIT = 16 * 1024
PROBE_NAME = ".smconform-kernel-probe"


class ShellConnection:
    """A DEALER connected to a kernel's ROUTER shell socket."""

    def __init__(self, host: str, port: int, key: bytes, timeout: float) -> None:
        self.key = key
        self.session = uuid.uuid4().hex
        self.reader = FrameReader()
        self.sock = socket.create_connection((host, port), timeout=timeout)
        try:
            deadline = time.monotonic() + timeout
            self.sock.sendall(greeting())
            check_greeting(self._exact(GREETING_SIZE, deadline))
            self.sock.sendall(ready_command("DEALER"))
            kind, parts = self._next(deadline)
            if kind != "command" or command_name(parts[0]) != "READY":
                raise WireError(f"expected the kernel's READY, got {kind} {parts[0][:20]!r}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def _recv(self, deadline: float, size: int) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer in time")
        self.sock.settimeout(remaining)
        data = self.sock.recv(size)
        if not data:
            raise ConnectionError("the kernel closed the connection")
        return data

    def _exact(self, size: int, deadline: float) -> bytes:
        data = b""
        while len(data) < size:
            data += self._recv(deadline, size - len(data))
        return data

    def _next(self, deadline: float) -> tuple[str, list[bytes]]:
        while True:
            taken = self.reader.take_message()
            if taken is not None:
                return taken
            self.reader.feed(self._recv(deadline, 1 << 16))

    def call(self, msg_type: str, content: dict[str, Any], timeout: float) -> Message:
        """Send a request; return the reply to it (other messages are skipped)."""
        msg_id, parts = request(self.key, self.session, msg_type, content)
        self.sock.sendall(multipart(parts))
        deadline = time.monotonic() + timeout
        while True:
            kind, frames = self._next(deadline)
            if kind != "message":
                continue
            message = parse(self.key, frames)
            if message.replies_to(msg_id):
                return message


@dataclass
class KernelRun:
    """What happened when one declared kernel was started and asked to run code."""

    name: str
    ok: bool = False
    problem: str = ""
    pid: int | None = None
    uid: int | None = None
    gid: int | None = None
    cwd: str | None = None
    prefix: str | None = None  # sys.prefix of a Python kernel
    hung: bool = False  # the kernel process kept running without answering
    home_write: str | None = None  # "ok", an error text, or None (not a Python kernel)
    language: str = ""
    seconds: float = 0.0
    output: str = ""
    result: str = ""

    def describe(self) -> str:
        if self.ok:
            who = f" as {self.uid}:{self.gid}" if self.uid is not None else ""
            where = f" in {self.prefix}" if self.prefix else ""
            return f"{self.name} answered execute_request{who}{where} after {self.seconds:.1f} s"
        tail = " | ".join(self.output.strip().splitlines()[-3:])[:300]
        return f"{self.name}: {self.problem}" + (f" (kernel output: {tail})" if tail else "")


def _collect(stream: Iterator[bytes], sink: list[bytes]) -> None:
    size = 0
    try:
        for chunk in stream:
            if size < OUTPUT_LIMIT:
                sink.append(chunk)
                size += len(chunk)
    except Exception:  # the stream ends with the container
        return


def python_code(mount_path: str) -> tuple[str, dict[str, str]]:
    probe = f"{mount_path.rstrip('/')}/{PROBE_NAME}"
    code = (
        "import os as _smc_os, sys as _smc_sys\n"
        "try:\n"
        f"    with open({probe!r}, 'w') as _smc_f:\n"
        "        _smc_f.write('ok')\n"
        f"    _smc_os.remove({probe!r})\n"
        "    _smc_write = 'ok'\n"
        "except Exception as _smc_e:\n"
        "    _smc_write = repr(_smc_e)\n"
        "_smc_sum = 6 * 7\n"
    )
    expressions = {"ids": "(_smc_os.getuid(), _smc_os.getgid())", "write": "_smc_write",
                   "cwd": "_smc_os.getcwd()", "sum": "_smc_sum", "prefix": "_smc_sys.prefix"}
    return code, expressions


def _expression(reply: dict[str, Any], name: str) -> Any:
    item = (reply.get("user_expressions") or {}).get(name) or {}
    text = (item.get("data") or {}).get("text/plain")
    if item.get("status") != "ok" or not isinstance(text, str):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def connection_file(launch: Launch, index: int) -> tuple[str, str]:
    """(key, path) of kernel `index`'s connection file, which the launch copied in before start
    (`platform.kernelgateway.connection_file`)."""
    path = connection_path(index)
    for drop in launch.plan.files:
        if drop.path == path:
            return str(json.loads(drop.content)["key"]), path
    raise EngineError(f"the launch has no connection file for kernel {index} ({path})")


def start_kernel(ctx: RunContext, launch: Launch, spec: KernelSpec, index: int, timeout: float,
                 on_started: Callable[[], None] | None = None) -> KernelRun:
    """Run the kernelspec's argv in the container and ask it to run code; `on_started` is called once the
    kernel process is started (it boots for a while: other engine work fits there)."""
    cfg = declared_config(ctx)
    run = KernelRun(spec.name, language=spec.language)
    ports = kernel_ports(index)
    if ports["shell"] not in launch.host_ports:
        run.problem = "the kernel's shell port was not published"
        return run
    started = time.monotonic()
    key, path = connection_file(launch, index)
    argv = kernel_argv(spec, path)
    env = kernel_env(spec, image_env(ctx).get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    exec_id, stream = ctx.engine.exec_stream(launch.container_id, argv, user=f"{cfg.uid}:{cfg.gid}",
                                             workdir=cfg.mount_path, environment=env)
    sink: list[bytes] = []
    threading.Thread(target=_collect, args=(stream, sink), daemon=True).start()
    if on_started is not None:
        on_started()
    connection: list[ShellConnection] = []
    errors: list[str] = []
    init = init_process(ctx, launch)
    asked = [0.0]

    def connected() -> bool:
        if init is not None and same_process(*init) and time.monotonic() - asked[0] < 1.0:
            # Nothing listens on the shell port yet: no engine call, no handshake (the engine is asked each second).
            if not any(lst.port == ports["shell"] for lst in procfs.listeners(init[0])):
                errors[:] = [f"no kernel_info_reply on the shell port (nothing listens on {ports['shell']} inside)"]
                return False
        else:
            asked[0] = time.monotonic()
            state = ctx.engine.exec_state(exec_id)
            if not state.get("Running"):
                errors.append(f"the kernel process exited with code {state.get('ExitCode')} before it answered")
                return True
        try:
            conn = ShellConnection("127.0.0.1", launch.host_ports[ports["shell"]], key.encode(), timeout=3)
        except (OSError, WireError) as exc:
            errors[:] = [f"no kernel_info_reply on the shell port ({type(exc).__name__}: {exc})"]
            return False
        try:
            conn.call("kernel_info_request", {}, timeout=5)
        except (OSError, WireError) as exc:
            conn.close()
            errors[:] = [f"no kernel_info_reply on the shell port ({type(exc).__name__}: {exc})"]
            return False
        connection.append(conn)
        return True

    # Through /proc a look costs no engine call: every 20 to 50 ms, so the answer is seen when it comes.
    poll(connected, timeout, first=0.02, most=0.05 if init is not None else 1.0)
    run.pid = int(ctx.engine.exec_state(exec_id).get("Pid") or 0) or None
    try:
        if not connection:
            run.problem = errors[-1] if errors else f"no kernel_info_reply within {timeout:g} s"
            run.hung = ctx.engine.exec_state(exec_id).get("Running") is True
            return run
        _execute(connection[0], run, spec, cfg, timeout)
    finally:
        for conn in connection:
            conn.close()
        run.seconds = time.monotonic() - started
        run.output = b"".join(sink).decode("utf-8", "replace")
        _identity_from_proc(run)
    return run


def _execute(conn: ShellConnection, run: KernelRun, spec: KernelSpec, cfg: AppImageConfig, timeout: float) -> None:
    python = is_python(spec)
    code, expressions = python_code(cfg.mount_path) if python else ("1", {})
    try:
        reply = conn.call("execute_request", {
            "code": code, "silent": False, "store_history": False, "user_expressions": expressions,
            "allow_stdin": False, "stop_on_error": True}, timeout=timeout)
    except (OSError, WireError) as exc:
        run.problem = f"no execute_reply ({type(exc).__name__}: {exc})"
        return
    content = reply.content
    if reply.msg_type != "execute_reply" or content.get("status") != "ok":
        run.problem = (f"execute_request answered {reply.msg_type} with status {content.get('status')!r}"
                       f" ({content.get('ename', '')}: {content.get('evalue', '')})")
        return
    if python:
        ids, total = _expression(content, "ids"), _expression(content, "sum")
        if total != 42:
            run.problem = f"the code did not run as sent: 6 * 7 gave {total!r}"
            return
        if isinstance(ids, tuple) and len(ids) == 2:
            run.uid, run.gid = int(ids[0]), int(ids[1])
        write, cwd, prefix = (_expression(content, name) for name in ("write", "cwd", "prefix"))
        run.prefix = str(prefix) if prefix is not None else None
        run.home_write = str(write) if write is not None else None
        run.cwd = str(cwd) if cwd is not None else None
        run.result = "6 * 7 == 42"
    else:
        run.result = f"status ok, execution_count {content.get('execution_count')}"
    run.ok = True


def _identity_from_proc(run: KernelRun) -> None:
    if run.pid is None or run.uid is not None:
        return
    info = procfs.proc_info(run.pid)
    if info is not None:
        run.uid, run.gid = info.euid, info.egid


_AFTER_START = "kg.after-kernel-start"


def after_kernels_start(ctx: RunContext, probes: Callable[[Launch], object]) -> bool:
    """Queue `probes` to run while the launch's first kernel boots: the engine is free then, and exec
    probes run beside the kernelspec discovery would slow it (the critical path). False when the
    kernels have already started (the caller runs them itself)."""
    with ctx._lock:
        queued = ctx.memo.setdefault(_AFTER_START, [])
        if queued is None:
            return False
        queued.append(probes)
        return True


def _kernels_starting(ctx: RunContext, launch: Launch, located: Discovery) -> None:
    ctx.background(lambda: read_kernelspecs(ctx, launch, located))
    with ctx._lock:
        queued = ctx.memo.get(_AFTER_START) or []
        ctx.memo[_AFTER_START] = None  # later ones run at once
    for probes in queued:
        ctx.background(functools.partial(probes, launch))


def kernel_runs(ctx: RunContext, launch: Launch, timeout: float) -> dict[str, KernelRun]:
    """Start every declared kernel of this launch once; the results are shared by the checks."""
    with _LOCK:
        cached = launch.ready_detail.get("kg_kernels")
        if isinstance(cached, dict):
            return cached
        cfg = declared_config(ctx)
        # Each kernel starts once its own kernel.json is read, not once every kernelspec is.
        located = locate(ctx, launch)
        where = {loc.name: loc for loc in located.locations}
        runs: dict[str, KernelRun] = {}
        for index, name in enumerate(cfg.kernel_names):
            spec = kernelspec(ctx, launch, where[name]) if name in where else "no kernelspec of that name"
            if isinstance(spec, str):
                runs[name] = KernelRun(name, problem=spec)
                continue
            runs[name] = start_kernel(ctx, launch, spec, index, timeout,
                                      on_started=lambda: _kernels_starting(ctx, launch, located))
        launch.ready_detail["kg_kernels"] = runs
        return runs

