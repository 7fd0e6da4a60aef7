"""The floor of each profile: the containers its requirements force, started and removed by hand.

Each floor uses the docker SDK directly (no suite code on the path), with the launch shapes the
platform imposes (volumes, files, variables, ports, users) and the waits it imposes (the
processing peer delay, the time a job runs before StopProcessingJob, SIGTERM stops), and runs
independent containers concurrently, as a person scripting them well would. What each floor
contains is in its docstring and in BENCHMARKS.md.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import tarfile
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import docker
import docker.types
import requests

from pytest_smconform.engine.labels import labels_for, new_run_id
from pytest_smconform.model import jupyter_wire as wire
from pytest_smconform.model import processing as model

KEEPER = "trap 'exit 0' TERM INT HUP QUIT; while sleep 3600 & wait $!; do :; done"
POLL = 0.05


class Floor:
    """One floor run: a docker API client, the run's labels, and what to remove at the end."""

    def __init__(self) -> None:
        self.api = docker.from_env(timeout=300).api
        self.labels = labels_for(f"bench-{new_run_id()}")
        self.containers: list[str] = []
        self.volumes: list[str] = []
        self.networks: list[str] = []
        self.spans: dict[str, float] = {}  # seconds each part took (for a breakdown)
        self._lock = threading.Lock()

    def volume(self, tmpfs: str | None = None) -> str:
        opts = {"type": "tmpfs", "device": "tmpfs", "o": tmpfs} if tmpfs else None
        name = str(self.api.create_volume(driver="local", driver_opts=opts, labels=self.labels)["Name"])
        with self._lock:
            self.volumes.append(name)
        return name

    def create(self, image: str, mounts: dict[str, str] | None = None, ports: list[int] | None = None,
               network: str = "bridge", **kwargs: Any) -> str:
        host_config = self.api.create_host_config(
            mounts=[docker.types.Mount(target=t, source=s, type="volume", no_copy=True)
                    for t, s in (mounts or {}).items()],
            port_bindings={p: ("127.0.0.1", None) for p in ports or []}, network_mode=network,
            binds=kwargs.pop("binds", None), group_add=kwargs.pop("group_add", None),
            dns_opt=kwargs.pop("dns_opt", None))
        cid = str(self.api.create_container(image, labels=self.labels, host_config=host_config, ports=ports,
                                            detach=True, **kwargs)["Id"])
        with self._lock:
            self.containers.append(cid)
        return cid

    def put(self, cid: str, base: str, files: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path, data in files.items():
                info = tarfile.TarInfo(path.strip("/"))
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        self.api.put_archive(cid, base, buffer.getvalue())

    def host_port(self, cid: str, port: int) -> int:
        return int(self.api.inspect_container(cid)["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])

    def read(self, cid: str, path: str) -> bytes:
        stream, _ = self.api.get_archive(cid, path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(tar.getmembers()[0])
            return member.read() if member else b""

    def exec(self, cid: str, argv: list[str], user: str = "") -> tuple[int, bytes]:
        exec_id = str(self.api.exec_create(cid, argv, user=user)["Id"])
        out = self.api.exec_start(exec_id)
        return int(self.api.exec_inspect(exec_id)["ExitCode"]), out

    def remove(self) -> None:
        for cid in self.containers:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_container(cid, force=True, v=True)
        for name in self.volumes:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_volume(name, force=True)
        for name in self.networks:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_network(name)


def until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("a floor container never got where it had to")
        time.sleep(POLL)


def answers(url: str, ok: Callable[[int], bool] = lambda code: code == 200) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return ok(requests.get(url, timeout=2).status_code)
        except requests.RequestException:
            return False
    return check


def concurrently(*work: Callable[[], object]) -> None:
    errors: list[BaseException] = []

    def guard(w: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                w()
            except BaseException as exc:  # re-raised in the caller
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guard(w)) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def timed(body: Callable[[Floor], None]) -> float:
    floor = Floor()
    start = time.monotonic()
    try:
        body(floor)
    finally:
        floor.remove()
    return time.monotonic() - start


# -- the floors --------------------------------------------------------------------------------

STUDIO_ENV = {"AWS_REGION": "eu-south-2", "AWS_DEFAULT_REGION": "eu-south-2",
              "SAGEMAKER_SPACE_NAME": "smconform-space", "SAGEMAKER_APP_TYPE_LOWERCASE": "jupyterlab"}
METADATA = b'{"AppType": "JupyterLab", "DomainId": "d-smconform", "UserProfileName": "smconform-user"}'


def jupyterlab(image: str) -> Callable[[Floor], None]:
    """Concurrently: Studio's launch (empty home volume owned 1000:100, /opt/ml volume with the metadata
    file, platform variables, 8888 on 127.0.0.1), /jupyterlab/default/api/status polled to 200, `docker
    stop` (JL-STOP: DeleteApp's SIGTERM, waited for); and the one launch JL-ENV-PRECEDENCE cannot do
    without (the same, with a ContainerEnvironment that sets a platform variable the platform overrides),
    polled to 200. Both removed."""
    def launch(f: Floor, container_env: dict[str, str]) -> str:
        home, optml = f.volume("size=2g,uid=1000,gid=100"), f.volume()
        cid = f.create(image, {"/home/sagemaker-user": home, "/opt/ml": optml}, [8888],
                       environment={**container_env, **STUDIO_ENV}, stop_timeout=10)
        f.put(cid, "/opt/ml", {"metadata/resource-metadata.json": METADATA})
        f.api.start(cid)
        until(answers(f"http://127.0.0.1:{f.host_port(cid, 8888)}/jupyterlab/default/api/status"))
        return cid

    def platform_launch_stopped(f: Floor) -> None:
        f.api.stop(launch(f, {}), timeout=10)

    def container_environment_launch(f: Floor) -> None:
        launch(f, {"AWS_REGION": "user-value", "MY_SETTING": "1"})

    def body(f: Floor) -> None:
        concurrently(partial(platform_launch_stopped, f), partial(container_environment_launch, f))
    return body


def kernelgateway(image: str) -> Callable[[Floor], None]:
    """Studio Classic's launch (ENTRYPOINT/CMD replaced by a keeper, user 1000:100, empty home volume,
    /opt/ml with the metadata file, the kernel's shell port on 127.0.0.1); the kernelspec found as the
    platform finds it (`python3 -c 'import sys; print(sys.prefix)'` as 1000:100, then
    `<prefix>/share/jupyter/kernels/python3/kernel.json` read from the container), and beside it the
    metadata file read as 1000:100 (KG-METADATA); the kernel started with `docker exec` as 1000:100 from
    its kernelspec's argv and a connection file, asked `kernel_info_request` until it answers, then one
    `execute_request` (KG-KERNEL-RUNS; its code writes in the home volume, KG-HOME) answered; `docker
    stop` (KG-STOP); removed. The Jupyter messages are encoded with the suite's wire codec (there is no
    other client to hand); everything else is the docker SDK."""
    key = "floor"
    connection = json.dumps({"shell_port": 50100, "iopub_port": 50101, "stdin_port": 50102, "control_port": 50103,
                             "hb_port": 50104, "ip": "0.0.0.0", "key": key, "transport": "tcp",
                             "signature_scheme": "hmac-sha256", "kernel_name": "python3"}).encode()

    def body(f: Floor) -> None:
        home, optml = f.volume("size=2g,uid=1000,gid=100"), f.volume()
        cid = f.create(image, {"/home/sagemaker-user": home, "/opt/ml": optml}, [50100], user="1000:100",
                       entrypoint=["/bin/sh"], command=["-c", KEEPER], stop_timeout=10)
        f.put(cid, "/opt/ml", {"metadata/resource-metadata.json": METADATA.replace(b"JupyterLab", b"KernelGateway"),
                               "kernel-1.json": connection})
        f.api.start(cid)
        until(lambda: bool(f.api.inspect_container(cid)["State"]["Running"]))
        pid = f.api.inspect_container(cid)["State"]["Pid"]
        metadata = threading.Thread(
            target=f.exec, args=(cid, ["cat", "/opt/ml/metadata/resource-metadata.json"], "1000:100"))
        metadata.start()
        prefix = f.exec(cid, ["python3", "-c", "import sys; print(sys.prefix)"], user="1000:100")[1]
        spec = json.loads(f.read(cid, f"{prefix.decode().strip()}/share/jupyter/kernels/python3/kernel.json"))
        argv = [str(a).replace("{connection_file}", "/opt/ml/kernel-1.json") for a in spec["argv"]]
        exec_id = f.api.exec_create(cid, argv, user="1000:100", workdir="/home/sagemaker-user")["Id"]
        f.api.exec_start(exec_id, detach=True)
        until(lambda: listens(pid, 50100), timeout=60)
        ask_kernel(f.host_port(cid, 50100), key.encode())
        metadata.join()
        f.api.stop(cid, timeout=10)
    return body


def ask_kernel(port: int, key: bytes, timeout: float = 60) -> None:
    """kernel_info_request until the kernel answers, then one execute_request, on its shell channel."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(wire.greeting())
        greeting = b""
        while len(greeting) < wire.GREETING_SIZE:
            greeting += sock.recv(wire.GREETING_SIZE - len(greeting))
        wire.check_greeting(greeting)
        reader = wire.FrameReader()

        def next_message() -> tuple[str, list[bytes]]:
            while (taken := reader.take_message()) is None:
                data = sock.recv(1 << 16)
                if not data:
                    raise SystemExit("the floor's kernel closed its shell socket")
                reader.feed(data)
            return taken

        sock.sendall(wire.ready_command("DEALER"))
        next_message()  # the kernel's READY
        for msg_type, content in (("kernel_info_request", {}),
                                  ("execute_request", {"code": "open('/home/sagemaker-user/.floor', 'w').write('ok')",
                                                       "silent": False})):
            msg_id, parts = wire.request(key, "floor", msg_type, content)
            sock.sendall(wire.multipart(parts))
            while True:
                if time.monotonic() > deadline:
                    raise SystemExit("the floor's kernel never answered")
                kind, frames = next_message()
                if kind == "message" and wire.parse(key, frames).replies_to(msg_id):
                    break


def catches(pid: int, signal: str) -> bool:
    """Whether host process `pid` has a handler for `signal` (SigCgt in /proc/PID/status)."""
    number = {"SIGINT": 2, "SIGTERM": 15}[signal]
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        fields = dict(line.split(":", 1) for line in handle if ":" in line)
    return bool(int(fields["SigCgt"].strip(), 16) & (1 << (number - 1)))


def listens(pid: int, port: int) -> bool:
    """Whether a socket in the network namespace of host process `pid` listens on `port`."""
    with open(f"/proc/{pid}/net/tcp", encoding="ascii") as handle:
        rows = [line.split() for line in handle.readlines()[1:]]
    return any(row[3] == "0A" and int(row[1].split(":")[1], 16) == port for row in rows)


def local_mode(image: str) -> Callable[[Floor], None]:
    """The app with a keeper and this engine's socket at /docker/proxy.sock; `docker --version`, `docker
    version` through the socket, `docker compose version`, `docker run -d -p 172.17.0.1::18080` of a
    throw-away server from inside, waited for until it answers, reached from the app at 172.17.0.1,
    `docker rm -f` of it from inside; the app removed."""
    def body(f: Floor) -> None:
        import os

        cid = f.create(image, entrypoint=["/bin/sh"], command=["-c", KEEPER],
                       binds=["/var/run/docker.sock:/docker/proxy.sock"],
                       group_add=[str(os.stat("/var/run/docker.sock").st_gid)])
        f.api.start(cid)
        until(lambda: bool(f.api.inspect_container(cid)["State"]["Running"]))
        sock = ["docker", "-H", "unix:///docker/proxy.sock"]
        f.exec(cid, ["docker", "--version"])
        f.exec(cid, [*sock, "version"])
        labels = [a for k, v in f.labels.items() for a in ("--label", f"{k}={v}")]
        code, out = f.exec(cid, [*sock, "run", "-d", *labels, "-p", "172.17.0.1::18080", "--entrypoint", "python3",
                                 image, "-m", "http.server", "18080"])
        inner = out.decode().strip().splitlines()[-1]
        if code != 0:
            raise SystemExit(f"the local-mode floor's inner run failed: {out[-200:]!r}")
        f.exec(cid, ["docker", "compose", "version"])
        try:
            port = f.host_port(inner, 18080)
            until(answers(f"http://172.17.0.1:{port}/", lambda code: code < 500))
            probe = f"import urllib.request; urllib.request.urlopen('http://172.17.0.1:{port}/', timeout=3).read(1)"
            f.exec(cid, ["python3", "-c", probe])
        finally:
            f.exec(cid, [*sock, "rm", "-f", inner])
    return body


def spaces(image: str) -> Callable[[Floor], None]:
    """The workspace pod's container (the image's own command, an empty volume owned by fsGroup 1000 at the
    mount path, the HyperPod access-strategy variables, 8888 on 127.0.0.1), polled until port 8888
    answers HTTP; then, concurrently, the probes the operator runs inside it with podExec: `curl` of the
    idle endpoint (SP-CURL, SP-IDLE-ENDPOINT), `unzip`, `tar` and `gzip` (SP-REMOTE-DEPS), and a file
    created in the volume by the app's user (SP-FSGROUP); removed."""
    def body(f: Floor) -> None:
        home = f.volume("size=2g,uid=1000,gid=1000,mode=2775")
        cid = f.create(image, {"/home/sagemaker-user": home}, [8888],
                       environment={"WORKSPACE_APP_TYPE": "jupyterlab", "WORKSPACE_NAME": "smconform"})
        f.api.start(cid)
        until(answers(f"http://127.0.0.1:{f.host_port(cid, 8888)}/", lambda code: code < 500))
        probe = "/home/sagemaker-user/.floor"
        probes = [["curl", "-s", "http://localhost:8888/api/idle"], ["unzip", "-v"], ["tar", "--version"],
                  ["gzip", "--version"], ["sh", "-c", f"touch {probe} && rm {probe}"]]
        concurrently(*[partial(f.exec, cid, argv) for argv in probes])
    return body


def processing(image: str, peer_delay: float = 3.0, stop_after: float = 1.5, instances: int = 2,
               signals: tuple[str, ...] = ("SIGINT", "SIGTERM")) -> Callable[[Floor], None]:
    """The jobs the requirements force, concurrently, each as the service runs it (an empty /opt/ml
    volume with the two config files, its own hostname): the default job (PR-DEFAULT-RUN), the job
    with inputs (PR-IO-PATHS), an `instances`-instance job on an internal network (PR-HOSTNAMES), and
    one held job per stop signal, signalled `stop_after` s after its start (and once PID 1 handles
    that signal: a stop sent before tests nothing) and waited for (PR-SIGNALS). In every job the host
    names (its own too) get resolvable only `peer_delay` s after the start (written to the hosts
    files, as the suite does); each job is waited for until it exits. Then the four override-matrix
    cases are created and removed (PR-OVERRIDE-MATRIX)."""
    hold = {"SMCONFORM_HOLD_SECONDS": "60"}
    inputs = {"data.csv": b"id,value\n1,3.5\n2,4.25\n", "notes/readme.txt": "smconform input ✓\n".encode()}

    def job(f: Floor, name: str, hosts: int = 1, env: dict[str, str] | None = None,
            files: dict[str, bytes] | None = None, signal: str | None = None) -> None:
        request = model.ProcessingJobRequest()
        names = [f"algo-{i}" for i in range(1, hosts + 1)]
        network = "none"
        if hosts > 1:
            network = f"smc-floor-{name}-{f.labels['io.smconform.run'][-8:]}"
            f.api.create_network(network, driver="bridge", internal=True, labels=f.labels)
            f.networks.append(network)
        cids = []
        for i, host in enumerate(names, start=1):
            cid = f.create(image, {"/opt/ml": f.volume()}, network=network, hostname=f"ip-10-0-0-{i}",
                           environment=env, dns_opt=["timeout:1", "attempts:1"])
            config = model.processing_job_config(request, image_uri=image, job_name=f"floor-{name}")
            f.put(cid, "/", {"opt/ml/config/processingjobconfig.json": model.dumps(config),
                             "opt/ml/config/resourceconfig.json": model.dumps(model.resource_config(host, names)),
                             **{f"opt/ml/processing/input/data/{k}": v for k, v in (files or {}).items()}})
            cids.append(cid)
        started = time.monotonic()
        for cid in cids:
            f.api.start(cid)

        def publish() -> None:  # every job's names (its own too) resolvable only after the delay
            infos = [f.api.inspect_container(c) for c in cids]
            lines = "".join(f"{i['NetworkSettings']['Networks'][network]['IPAddress'] if hosts > 1 else '127.0.1.1'}"
                            f"\t{h}\n" for i, h in zip(infos, names, strict=True))
            for info in infos:
                with open(info["HostsPath"], "a", encoding="utf-8") as handle:
                    handle.write(lines)

        def stop() -> None:  # once it is due and PID 1 handles the signal (a stop sent earlier tests nothing)
            pid = int(f.api.inspect_container(cids[0])["State"]["Pid"] or 0)
            with contextlib.suppress(OSError, SystemExit):
                until(lambda: catches(pid, signal or ""), timeout=30)
            f.api.kill(cids[0], signal=signal)

        events: list[tuple[float, Callable[[], None]]] = [(peer_delay, publish)]
        if signal is not None:
            events.append((stop_after, stop))
        for at, action in sorted(events, key=lambda e: e[0]):
            time.sleep(max(0.0, started + at - time.monotonic()))
            with contextlib.suppress(docker.errors.APIError):
                action()
        for cid in cids:
            f.api.wait(cid, timeout=300)
        f.spans[name] = time.monotonic() - started

    def override_cases(f: Floor) -> None:
        for entry, args in ((None, None), (["sh", "-c", "true"], None), (None, ["a"]), (["true"], ["a"])):
            cid = f.create(image, network="none", entrypoint=entry, command=args)
            f.api.inspect_container(cid)
            f.api.remove_container(cid, force=True)

    def body(f: Floor) -> None:
        concurrently(lambda: job(f, "default"), lambda: job(f, "io", files=inputs),
                     lambda: job(f, "cluster", hosts=instances),
                     *[lambda s=s: job(f, s.lower(), env=hold, signal=s) for s in signals],
                     lambda: override_cases(f))
    return body


FLOORS: dict[str, Callable[[str], Callable[[Floor], None]]] = {
    "jupyterlab": jupyterlab, "kernelgateway": kernelgateway, "processing": processing,
    "local-mode": local_mode, "spaces": spaces,
}
