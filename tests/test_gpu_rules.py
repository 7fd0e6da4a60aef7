"""GPU rules without a GPU: driver files versus toolkit stubs, GPU declaration, the `--gpus` request
the suite sends and the parsing of what a container reports."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_smconform.model.gpu import (
    Gpu,
    cuda_runtimes,
    device_request,
    driver_files,
    gpu_declared,
    gpus_flag,
    has_nvidia_runtime,
    parse_gpu_list,
    visibility_problem,
)

pytestmark = pytest.mark.unit

SMI = """GPU 0: NVIDIA A10G (UUID: GPU-3a1b2c3d-0000-1111-2222-333344445555)
GPU 1: NVIDIA A10G (UUID: GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff)
  MIG 1g.5gb      Device  0: (UUID: MIG-0123)
"""


def test_driver_files_but_not_stubs() -> None:
    paths = [
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
        "/usr/lib64/libnvidia-ml.so.1", "/usr/bin/nvidia-smi",
        "/lib/modules/6.1.0/kernel/drivers/video/nvidia.ko", "/lib/modules/6.1.0/updates/nvidia-uvm.ko.xz",
        "/usr/local/cuda/lib64/stubs/libcuda.so", "/usr/local/cuda/lib64/stubs/libcuda.so.1",
        "/usr/local/cuda/targets/x86_64-linux/lib/stubs/libnvidia-ml.so",
        "/usr/local/cuda/lib64/libcudart.so.12", "/usr/lib/x86_64-linux-gnu/libcuda.so",  # dev link: allowed
        "/usr/share/doc/nvidia-smi", "/opt/venv/lib/python3.11/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12",
    ]
    assert driver_files(paths) == sorted(paths[:6])
    assert cuda_runtimes(paths) == sorted([paths[9], paths[12]])
    assert cuda_runtimes(["/usr/local/cuda/lib64/stubs/libcudart.so.12"]) == []


@given(st.lists(st.sampled_from(["usr", "lib", "local", "cuda", "stubs", "lib64", "x"]), min_size=1, max_size=5))
def test_anything_under_stubs_is_never_a_driver_file(parts: list[str]) -> None:
    path = "/" + "/".join([*parts, "stubs", "libcuda.so.1"])
    assert driver_files([path]) == []


def test_gpu_declaration() -> None:
    assert gpu_declared({}, {}, False) is None
    assert gpu_declared({"io.smconform.gpu": "false"}, {"NVIDIA_VISIBLE_DEVICES": "void"}, False) is None
    assert gpu_declared({"io.smconform.gpu": "true"}, {}, False) == "label io.smconform.gpu=true"
    assert gpu_declared({}, {"NVIDIA_VISIBLE_DEVICES": "all"}, False) == "ENV NVIDIA_VISIBLE_DEVICES=all"
    assert gpu_declared({}, {}, True) == "the gpu option"


def test_device_requests_match_docker_run_gpus() -> None:
    assert device_request("all") == {"Driver": "nvidia", "Count": -1, "DeviceIDs": None,
                                     "Capabilities": [["gpu", "utility"]], "Options": {}}
    named = device_request(["1", "GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"])
    assert named["Count"] == 0 and named["DeviceIDs"] == ["1", "GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"]
    assert gpus_flag("all") == "--gpus all"
    assert gpus_flag(["0", "1"]) == "--gpus '\"device=0,1\"'"
    with pytest.raises(ValueError):
        device_request([])


def test_parse_and_judge_what_the_container_sees() -> None:
    host = parse_gpu_list(SMI)
    assert host == [Gpu(0, "NVIDIA A10G", "GPU-3a1b2c3d-0000-1111-2222-333344445555"),
                    Gpu(1, "NVIDIA A10G", "GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff")]
    assert parse_gpu_list("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.") == []
    assert visibility_problem("all", host, host) is None
    assert visibility_problem(["1"], host, host[1:]) is None
    assert visibility_problem([host[0].uuid], host, host[:1]) is None
    too_many = visibility_problem(["1"], host, host)
    assert too_many is not None and "not given" in too_many and host[0].uuid in too_many
    missing = visibility_problem("all", host, host[:1])
    assert missing is not None and "does not see" in missing
    assert visibility_problem(["7"], host, []) == "none of the requested devices ['7'] exist on the host"


def test_nvidia_runtime_detection_from_docker_info() -> None:
    assert not has_nvidia_runtime({"Runtimes": {"runc": {}, "io.containerd.runc.v2": {}}})
    assert has_nvidia_runtime({"Runtimes": {"runc": {}, "nvidia": {"path": "nvidia-container-runtime"}}})
    assert has_nvidia_runtime({"Runtimes": {}, "DiscoveredDevices": [{"Source": "cdi", "ID": "nvidia.com/gpu=0"}]})
    assert not has_nvidia_runtime({})



def _reference_driver_files(paths: list[str]) -> list[str]:
    """The rule as first written: a regular expression on every base name (the fast path must agree)."""
    import posixpath

    from pytest_smconform.model.gpu import _DRIVER_LIB, _DRIVER_TOOLS, _KERNEL_MODULE, in_stubs

    return sorted(p for p in paths if not in_stubs(p) and (
        _DRIVER_LIB.match(posixpath.basename(p)) or _KERNEL_MODULE.match(posixpath.basename(p))
        or (posixpath.basename(p) in _DRIVER_TOOLS and "/bin/" in p + "/")))


def _reference_cuda_runtimes(paths: list[str]) -> list[str]:
    import posixpath

    from pytest_smconform.model.gpu import _CUDART, in_stubs

    return sorted(p for p in paths if _CUDART.match(posixpath.basename(p)) and not in_stubs(p))


_NAMES = st.sampled_from(["libcuda.so.1", "libcuda.so", "libcudart.so.12.2", "libcudart.so", "libcudart.so.x",
                          "libnvidia-ml.so.535.1", "libnvcuvid.so.1", "nvidia-smi", "nvidia.ko", "nvidia-uvm.ko.xz",
                          "nvidia_drm.ko.zst", "nvidiax", "libcudadebugger.so.1", "python3", "stubs", "bin", "lib"])
_PATHS = st.lists(st.one_of(_NAMES, st.text("abc.-_/sn", max_size=8)), min_size=1, max_size=5).map(
    lambda parts: "/" + "/".join(parts))


@given(st.lists(_PATHS, max_size=30))
def test_the_fast_gpu_path_tests_agree_with_the_regular_expressions(paths: list[str]) -> None:
    assert driver_files(paths) == _reference_driver_files(paths)
    assert cuda_runtimes(paths) == _reference_cuda_runtimes(paths)
