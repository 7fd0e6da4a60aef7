"""GPU rules every profile shares: no bundled driver, a CUDA runtime in GPU images, and `--gpus`."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from ..model.gpu import (
    cuda_runtimes,
    device_request,
    driver_files,
    gpu_declared,
    gpus_flag,
    has_nvidia_runtime,
    parse_gpu_list,
    visibility_problem,
)
from ..verdicts import Blocked, ContractViolation, NotApplicable
from . import check_kind
from .judge import fmt_list

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement


def need_image(ctx: RunContext) -> None:
    if ctx.settings.image is None:
        raise NotApplicable("no image given (documents-only run)")


def declared(ctx: RunContext, params: dict[str, Any]) -> str | None:
    config = ctx.image_config()
    env = dict(str(item).partition("=")[::2] for item in config.get("Env") or [])
    return gpu_declared(config.get("Labels") or {}, env, bool(params.get("gpu")))


@check_kind("gpu-no-driver")
def gpu_no_driver(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    need_image(ctx)
    tree = ctx.layers().final_tree()
    found = driver_files(tree)
    if found:
        raise ContractViolation(
            "no NVIDIA driver files (libcuda.so.N, libnvidia-ml.so.N, nvidia-smi, kernel modules) outside "
            "the CUDA toolkit's stubs/", f"{len(found)} files: {fmt_list(found)}")
    stubs = sorted(p for p in tree if "/stubs/" in p and ("libcuda" in p or "libnvidia-ml" in p))
    note = f"; toolkit stubs left alone: {fmt_list(stubs, 3)}" if stubs else ""
    return f"no driver library, nvidia-smi or kernel module in {len(tree)} paths{note}"


@check_kind("gpu-toolkit")
def gpu_toolkit(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    need_image(ctx)
    how = declared(ctx, params)
    if how is None:
        raise NotApplicable("the image is not declared a GPU image (no label io.smconform.gpu, no "
                            "NVIDIA_VISIBLE_DEVICES, no --smconform-option=gpu=true)")
    found = cuda_runtimes(ctx.layers().final_tree())
    if not found:
        raise ContractViolation(f"the CUDA runtime libcudart.so.* in a GPU image ({how})", "no libcudart.so.* found")
    return f"GPU image ({how}) with {fmt_list(found, 3)}"


def _host_gpus() -> str | None:
    """`nvidia-smi -L` on this host (the engine's host when the engine is local), if there is one."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        done = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@check_kind("gpu-visible")
def gpu_visible(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    need_image(ctx)
    info = ctx.engine.info()
    if not has_nvidia_runtime(info):
        runtimes = ", ".join(sorted(info.get("Runtimes") or {})) or "none listed"
        raise NotApplicable(f"the engine has no NVIDIA container runtime (docker info runtimes: {runtimes}; "
                            "no nvidia.com/gpu CDI devices): run on a GPU host to check --gpus")
    how = declared(ctx, params)
    if how is None:
        raise NotApplicable("the image is not declared a GPU image, so the platform never runs it with --gpus")
    image = str(ctx.image()["Id"])
    code, output = ctx.engine.run_once(image, ["nvidia-smi", "-L"], [device_request("all")])
    every = parse_gpu_list(output)
    if code != 0 or not every:
        raise ContractViolation(f"`docker run {gpus_flag('all')}` sees the host's GPUs (nvidia-smi -L)",
                                f"exit {code}: {output.strip()[-300:]}")
    host_text = _host_gpus()
    reference = parse_gpu_list(host_text) if host_text else every
    problem = visibility_problem("all", reference, every)
    if problem:
        raise ContractViolation(f"`{gpus_flag('all')}` shows every GPU of the host", problem)
    chosen = [str(reference[-1].index)]
    code, output = ctx.engine.run_once(image, ["nvidia-smi", "-L"], [device_request(chosen)])
    if code != 0:
        raise Blocked(f"`docker run {gpus_flag(chosen)}` failed: {output.strip()[-200:]}")
    problem = visibility_problem(chosen, reference, parse_gpu_list(output))
    if problem:
        raise ContractViolation(f"`{gpus_flag(chosen)}` shows exactly GPU {chosen[0]}", problem)
    return f"{gpus_flag('all')}: {len(every)} GPUs; {gpus_flag(chosen)}: exactly GPU {chosen[0]} ({how})"
