"""GPU rules (seeds 002, 004): driver files an image must not ship, GPU declaration, and what a
container run with `--gpus` must see. Pure: paths, requests and tool output in, findings out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Libraries the NVIDIA container runtime injects from the host's driver: an image must not bring its own.
DRIVER_LIBRARIES = ("libcuda", "libcudadebugger", "libnvidia-ml", "libnvidia-ptxjitcompiler", "libnvidia-cfg",
                    "libnvidia-opencl", "libnvidia-nvvm", "libnvidia-encode", "libnvcuvid")
_DRIVER_LIB = re.compile(r"^(" + "|".join(re.escape(n) for n in DRIVER_LIBRARIES) + r")\.so\.\d+(\.\d+)*$")
_DRIVER_TOOLS = ("nvidia-smi", "nvidia-debugdump", "nvidia-persistenced")
_KERNEL_MODULE = re.compile(r"^nvidia[-_a-z0-9]*\.ko(\.(xz|gz|zst))?$")
_CUDART = re.compile(r"^libcudart\.so\.\d+(\.\d+)*$")
GPU_LABELS = ("io.smconform.gpu", "com.nvidia.volumes.needed")
GPU_ENV = ("NVIDIA_VISIBLE_DEVICES", "NVIDIA_REQUIRE_CUDA")


def in_stubs(path: str) -> bool:
    """Inside a CUDA toolkit `stubs/` directory (link-time stand-ins, never loaded at run time)."""
    return "stubs" in path.split("/")[:-1]


# What every name the rules below can match starts with: a cheap first test, since an image has tens
# of thousands of paths and nearly none of them is a driver file (a regular expression on each one's
# base name cost 30 ms per 36,000 paths).
_DRIVER_PREFIXES = (*DRIVER_LIBRARIES, "nvidia")
_CUDART_PREFIX = "libcudart.so."


def driver_files(paths: Iterable[str]) -> list[str]:
    """Driver libraries, tools and kernel modules outside the toolkit's stubs/."""
    out = []
    for path in paths:
        base = path[path.rfind("/") + 1:]
        if not base.startswith(_DRIVER_PREFIXES) or in_stubs(path):
            continue
        if _DRIVER_LIB.match(base) or _KERNEL_MODULE.match(base) or (
                base in _DRIVER_TOOLS and "/bin/" in path + "/"):
            out.append(path)
    return sorted(out)


def cuda_runtimes(paths: Iterable[str]) -> list[str]:
    found = []
    for path in paths:
        base = path[path.rfind("/") + 1:]
        if base.startswith(_CUDART_PREFIX) and _CUDART.match(base) and not in_stubs(path):
            found.append(path)
    return sorted(found)


def gpu_declared(labels: Mapping[str, str], env: Mapping[str, str], option: bool) -> str | None:
    """How the image says it is a GPU image (None: it does not)."""
    if option:
        return "the gpu option"
    for label in GPU_LABELS:
        if labels.get(label, "").lower() not in ("", "false", "0", "no"):
            return f"label {label}={labels[label]}"
    for key in GPU_ENV:
        value = env.get(key, "")
        if value and value not in ("void", "none"):
            return f"ENV {key}={value}"
    return None


# -- running with --gpus ------------------------------------------------------------------------


def device_request(devices: str | list[str]) -> dict[str, Any]:
    """The Engine API DeviceRequest `docker run --gpus` sends: all GPUs, or the named ones."""
    request: dict[str, Any] = {"Driver": "nvidia", "Capabilities": [["gpu", "utility"]], "Options": {}}
    if devices == "all":
        request.update(Count=-1, DeviceIDs=None)
    else:
        if not devices or not all(isinstance(d, str) and d for d in devices):
            raise ValueError("name at least one device (an index or a GPU UUID)")
        request.update(Count=0, DeviceIDs=list(devices))
    return request


def gpus_flag(devices: str | list[str]) -> str:
    """The `docker run` flag a person types for the same request."""
    return "--gpus all" if devices == "all" else f"--gpus '\"device={','.join(devices)}\"'"


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    uuid: str


_SMI_LINE = re.compile(r"^GPU (\d+): (.*?) \(UUID: (GPU-[0-9A-Fa-f-]+)\)\s*$")


def parse_gpu_list(text: str) -> list[Gpu]:
    """`nvidia-smi -L` output: one `GPU <i>: <name> (UUID: GPU-...)` line per GPU (MIG lines ignored)."""
    out = []
    for line in text.splitlines():
        match = _SMI_LINE.match(line.strip())
        if match:
            out.append(Gpu(int(match.group(1)), match.group(2), match.group(3)))
    return out


def has_nvidia_runtime(info: Mapping[str, Any]) -> bool:
    """From `docker info`: an `nvidia` runtime, or NVIDIA CDI devices the engine knows."""
    runtimes = info.get("Runtimes") or {}
    if "nvidia" in runtimes:
        return True
    cdi = info.get("DiscoveredDevices") or []
    return any(str(d.get("ID", "")).startswith("nvidia.com/gpu") for d in cdi if isinstance(d, Mapping))


def visibility_problem(given: str | list[str], reference: list[Gpu], seen: list[Gpu]) -> str | None:
    """Does a container see exactly the GPUs it was given? `reference` is every GPU of the host."""
    want = {g.uuid for g in reference} if given == "all" else {
        g.uuid for g in reference if str(g.index) in given or g.uuid in given}
    got = {g.uuid for g in seen}
    if not want:
        return f"none of the requested devices {given} exist on the host"
    if got == want:
        return None
    extra, missing = sorted(got - want), sorted(want - got)
    parts = ([f"sees {len(extra)} GPU(s) it was not given: {', '.join(extra)}"] if extra else []) + (
        [f"does not see {', '.join(missing)}"] if missing else [])
    return "; ".join(parts)
