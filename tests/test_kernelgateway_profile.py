"""The kernelgateway profile (Studio Classic custom images) end to end on real containers, and its
pure models: AppImageConfig, user resolution, kernel discovery and the Jupyter wire protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixture_catalog import IMAGES, mutants
from hypothesis import given
from hypothesis import strategies as st

from pytest_smconform.model import jupyter_wire as wire
from pytest_smconform.model.kernelgateway import (
    AppImageConfig,
    ConfigError,
    KernelLocation,
    UserError,
    conda_envs,
    conda_kernel_name,
    discovery_paths,
    find_program,
    ids_problem,
    kernel_argv,
    kernel_env,
    locate_kernels,
    parse_kernelspec,
    resolve_path,
    resolve_user,
)

PROFILE = "kernelgateway"
KG_IDS = {"KG-OVERRIDE", "KG-KERNELSPEC", "KG-KERNEL-RUNS", "KG-CONDA-ENVS", "KG-UIDGID", "KG-HOME",
          "KG-METADATA", "KG-STOP", "KG-SIZE"}


def _leftovers(run: Any) -> list[str]:
    """Containers and volumes of this suite run still on the engine (other runs may be going on)."""
    import docker

    client = docker.from_env()
    label = f"io.smconform.run={run.report['run']['id']}"
    found = [str(c.name) for c in client.containers.list(all=True, filters={"label": label})]
    found += [str(v.name) for v in client.volumes.list(filters={"label": label})]
    return found


def _aic(tmp_path: Path, kernels: list[str], uid: int, gid: int, mount: str) -> Path:
    path = tmp_path / "app-image-config-input.json"
    path.write_text(json.dumps({
        "AppImageConfigName": "smconform",
        "KernelGatewayImageConfig": {
            "KernelSpecs": [{"Name": k, "DisplayName": k} for k in kernels],
            "FileSystemConfig": {"MountPath": mount, "DefaultUid": uid, "DefaultGid": gid}}}))
    return path


# -- end to end --------------------------------------------------------------------------------


@pytest.mark.docker
def test_conforming_image_with_two_declared_kernels(fixture_image: Any, run_suite: Any, tmp_path: Path) -> None:
    aic = _aic(tmp_path, ["python3", "conda-env-myenv-py"], 1000, 100, "/home/sagemaker-user")
    run = run_suite(PROFILE, fixture_image(PROFILE, "conforming"), f"--smconform-app-image-config={aic}")
    assert run.failed_ids() == set(), run.result.stdout.str()[-3000:]
    outcomes = run.outcomes()
    # GPU rules: not a GPU image, and this host has no NVIDIA runtime: not applicable, with the reason.
    assert {outcomes.pop("IMG-GPU-TOOLKIT"), outcomes.pop("IMG-GPU-VISIBLE")} == {"skipped"}
    assert run.entry("IMG-GPU-VISIBLE")["reason"] == "not-applicable"
    assert set(outcomes.values()) == {"passed"}
    assert run.report["verdict"] == "conformant"
    runs = run.entry("KG-KERNEL-RUNS")["message"]
    assert "python3 answered execute_request as 1000:100" in runs
    assert "conda-env-myenv-py answered execute_request as 1000:100 in /opt/conda/envs/myenv" in runs
    assert "python3 answered execute_request as 1000:100 in /usr/local/venv" in runs
    assert "conda-env-myenv-py (/opt/conda/envs/myenv)" in run.entry("KG-CONDA-ENVS")["message"]
    assert "nothing of the image listens on 8888" in run.entry("KG-OVERRIDE")["message"]
    assert run.entry("KG-SIZE")["how"] == "static"
    assert _leftovers(run) == []


@pytest.mark.docker
def test_root_image_with_a_matching_root_config_passes(fixture_image: Any, run_suite: Any, tmp_path: Path) -> None:
    # The kg-uidgid mutant runs as root: with DefaultUid/DefaultGid 0/0 (and /root as mount path,
    # like the samples' root images) it is a conforming image.
    aic = _aic(tmp_path, [], 0, 0, "/root")
    run = run_suite(PROFILE, fixture_image(PROFILE, "kg-uidgid"), f"--smconform-app-image-config={aic}")
    assert run.failed_ids() == set(), run.result.stdout.str()[-3000:]
    assert "python3 answered execute_request as 0:0" in run.entry("KG-KERNEL-RUNS")["message"]
    assert "empty volume at /root" in run.entry("KG-HOME")["message"]
    assert run.report["verdict"] == "conformant"


@pytest.mark.docker
def test_a_declared_kernel_in_another_language(fixture_image: Any, run_suite: Any, tmp_path: Path) -> None:
    aic = _aic(tmp_path, ["echo"], 1000, 100, "/home/sagemaker-user")
    run = run_suite(PROFILE, fixture_image(PROFILE, "echo-kernel"), f"--smconform-app-image-config={aic}",
                    "-k", "KG-KERNELSPEC or KG-KERNEL-RUNS or KG-HOME")
    assert run.failed_ids() == set(), run.result.stdout.str()[-3000:]
    assert "echo answered execute_request as 1000:100" in run.entry("KG-KERNEL-RUNS")["message"]
    assert "kernels echo started and wrote there" in run.entry("KG-HOME")["message"]


@pytest.mark.docker
def test_an_image_without_a_shell_passes(fixture_image: Any, run_suite: Any) -> None:
    # The platform brings its own gateway: an image needs no shell, so the suite's stand-in runs in python3.
    run = run_suite(PROFILE, fixture_image(PROFILE, "no-shell"), "-k", "KG-")
    assert run.failed_ids() == set(), run.result.stdout.str()[-3000:]
    assert "python3 answered execute_request as 1000:100" in run.entry("KG-KERNEL-RUNS")["message"]
    assert run.outcome("KG-STOP") == "passed"
    assert "-c" in json.dumps(run.report.get("launches", []))


@pytest.mark.docker
def test_a_pair_studio_does_not_accept_fails_uidgid_only(fixture_image: Any, run_suite: Any,
                                                         tmp_path: Path) -> None:
    aic = _aic(tmp_path, [], 1000, 1000, "/home/sagemaker-user")
    run = run_suite(PROFILE, fixture_image(PROFILE, "conforming"), f"--smconform-app-image-config={aic}",
                    "-k", "KG-UIDGID or KG-KERNEL-RUNS")
    assert run.failed_ids() == {"KG-UIDGID"}
    assert "1000/1000 is not one Studio Classic accepts" in run.entry("KG-UIDGID")["observed"]
    assert "as 1000:1000" in run.entry("KG-KERNEL-RUNS")["message"]


@pytest.mark.docker
@pytest.mark.parametrize("mutant", mutants(PROFILE), ids=str)
def test_mutant_fails_exactly_its_requirement(mutant: Any, fixture_image: Any, run_suite: Any) -> None:
    run = run_suite(PROFILE, fixture_image(PROFILE, mutant.name), *mutant.suite_args)
    assert run.failed_ids() == {mutant.requirement}, run.result.stdout.str()[-4000:]
    entry = run.entry(mutant.requirement)
    assert entry["expected"] and entry["observed"] and entry["fix"]
    skipped = {i for i, o in run.outcomes().items() if o == "skipped"}
    for req_id in skipped - {"IMG-GPU-TOOLKIT", "IMG-GPU-VISIBLE"}:  # the GPU rules may not apply
        assert run.entry(req_id).get("reason") == "blocked", run.entry(req_id)  # else: blocked by the mutant
    assert _leftovers(run) == []


@pytest.mark.docker
def test_cuda_stubs_are_not_a_bundled_driver(fixture_image: Any, run_suite: Any) -> None:
    run = run_suite(PROFILE, fixture_image(PROFILE, "gpu-cuda-stubs"), "-k", "IMG-GPU")
    assert run.failed_ids() == set(), run.result.stdout.str()[-3000:]
    assert "toolkit stubs left alone" in run.entry("IMG-GPU-NODRIVER")["message"]
    assert run.outcome("IMG-GPU-TOOLKIT") == "passed"
    visible = run.entry("IMG-GPU-VISIBLE")
    assert visible["outcome"] == "skipped" and "no NVIDIA container runtime" in visible["message"]


def test_every_kg_requirement_has_a_mutant() -> None:
    covered = {m.requirement for m in mutants(PROFILE)}
    assert KG_IDS - covered == set(), f"no mutant under {IMAGES / PROFILE} for these"


# -- AppImageConfig and users ---------------------------------------------------------------------


@pytest.mark.unit
def test_app_image_config_defaults_and_parsing() -> None:
    default = AppImageConfig()
    assert default.kernel_names == ("python3",)
    assert (default.uid, default.gid, default.mount_path) == (1000, 100, "/home/sagemaker-user")
    cfg = AppImageConfig.from_api({"KernelGatewayImageConfig": {
        "KernelSpecs": [{"Name": "conda-env-rapids-py", "DisplayName": "rapids"}],
        "FileSystemConfig": {"MountPath": "/home/jovyan/work/", "DefaultUid": 0, "DefaultGid": 0}}})
    assert cfg.kernel_names == ("conda-env-rapids-py",)
    assert (cfg.uid, cfg.gid, cfg.mount_path) == (0, 0, "/home/jovyan/work")
    partial = AppImageConfig.from_api({"FileSystemConfig": {"DefaultGid": 1000}})
    assert (partial.uid, partial.gid) == (1000, 1000)
    for bad in ({"KernelSpecs": [{"DisplayName": "x"}]}, {"FileSystemConfig": {"DefaultUid": "1000"}},
                {"FileSystemConfig": {"MountPath": "home"}}, {"Other": 1}):
        with pytest.raises(ConfigError):
            AppImageConfig.from_api(bad)


@pytest.mark.unit
@given(st.integers(0, 70000), st.integers(0, 70000))
def test_only_two_id_pairs_are_allowed(uid: int, gid: int) -> None:
    assert (ids_problem(uid, gid) is None) == ((uid, gid) in ((1000, 100), (0, 0)))


@pytest.mark.unit
def test_user_resolution_follows_the_engine() -> None:
    passwd = "root:x:0:0:root:/root:/bin/bash\nsagemaker-user:x:1000:100::/home/sagemaker-user:/bin/bash\n"
    group = "root:x:0:\nusers:x:100:\nstaff:x:50:\n"
    assert (resolve_user("", passwd, group).uid, resolve_user("", passwd, group).gid) == (0, 0)
    got = resolve_user("sagemaker-user", passwd, group)
    assert (got.uid, got.gid) == (1000, 100)
    got = resolve_user("1000", passwd, group)
    assert (got.uid, got.gid) == (1000, 100)
    got = resolve_user("1001", passwd, group)  # no passwd entry: the engine uses GID 0
    assert (got.uid, got.gid) == (1001, 0)
    got = resolve_user("1000:staff", passwd, group)
    assert (got.uid, got.gid) == (1000, 50)
    got = resolve_user("1000:100", passwd, group)
    assert (got.uid, got.gid) == (1000, 100)
    with pytest.raises(UserError):
        resolve_user("nobody-here", passwd, group)
    with pytest.raises(UserError):
        resolve_user("1000:nogroup", passwd, group)


# -- kernel discovery -----------------------------------------------------------------------------


@pytest.mark.unit
def test_conda_kernel_names_follow_nb_conda_kernels() -> None:
    assert conda_kernel_name("myenv", "python3") == "conda-env-myenv-py"
    assert conda_kernel_name("r-env", "ir") == "conda-env-r-env-r"
    assert conda_kernel_name(None, "python3") == "conda-base-py"
    assert conda_kernel_name("jl", "julia-1.5") == "conda-env-jl-julia-1.5"


@pytest.mark.unit
def test_locate_kernels_searches_like_the_platform() -> None:
    paths = {
        "/usr/local/venv/share/jupyter/kernels/python3/kernel.json",
        "/usr/local/share/jupyter/kernels/python3/kernel.json",  # shadowed by sys.prefix's
        "/usr/local/share/jupyter/kernels/ir/kernel.json",
        "/srv/extra/kernels/echo/kernel.json",
        "/opt/conda/conda-meta", "/opt/conda/share/jupyter/kernels/python3/kernel.json",  # base: filtered out
        "/opt/conda/envs/rapids/conda-meta", "/opt/conda/envs/rapids/share/jupyter/kernels/python3/kernel.json",
        "/opt/conda/envs/bare/conda-meta",
        "/home/user/.local/share/jupyter/kernels/mine/kernel.json",  # user dir: not searched
        "/usr/local/venv/share/jupyter/kernels/python3/deeper/kernel.json",
    }
    found = {loc.name: loc for loc in locate_kernels(paths, "/srv/extra", "/usr/local/venv")}
    assert set(found) == {"python3", "ir", "echo", "conda-env-rapids-py"}
    assert found["python3"].directory == "/usr/local/venv/share/jupyter/kernels/python3"
    assert found["python3"].source == "sys.prefix"
    assert found["conda-env-rapids-py"].conda_prefix == "/opt/conda/envs/rapids"
    assert "python3" not in {loc.name for loc in locate_kernels(paths - {
        "/usr/local/venv/share/jupyter/kernels/python3/kernel.json",
        "/usr/local/share/jupyter/kernels/python3/kernel.json"}, "", None)}


_segment = st.sampled_from(["usr", "local", "opt", "conda", "envs", "e1", "share", "jupyter", "kernels",
                             "python3", "ir", "kernel.json", "conda-meta", "venv", "srv", "home"])


@pytest.mark.unit
@given(trees=st.lists(st.lists(_segment, min_size=1, max_size=8).map(lambda parts: "/" + "/".join(parts)),
                      max_size=60),
       prefix=st.sampled_from([None, "/usr/local/venv", "/opt/conda", "/usr"]),
       jupyter_path=st.sampled_from(["", "/srv/kernels", "/opt/conda/share/jupyter:/srv"]))
def test_the_discovery_filter_keeps_every_path_the_search_uses(trees: list[str], prefix: str | None,
                                                             jupyter_path: str) -> None:
    """The suite filters an image's tens of thousands of paths before the kernelspec search (it runs
    between the container's start and its first kernel): the search must find exactly the same."""
    paths = set(trees)
    kept = discovery_paths(paths)
    assert locate_kernels(kept, jupyter_path, prefix, include_base_env=True) == \
        locate_kernels(paths, jupyter_path, prefix, include_base_env=True)
    assert conda_envs(kept) == conda_envs(paths)
    assert all(p.endswith(("/kernel.json", "/conda-meta")) for p in kept)


@pytest.mark.unit
def test_kernelspec_argv_and_env() -> None:
    loc = KernelLocation("conda-env-rapids-py", "/opt/conda/envs/rapids/share/jupyter/kernels/python3",
                         "conda env", "/opt/conda/envs/rapids")
    spec = parse_kernelspec(loc, json.dumps({
        "argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}", "--res={resource_dir}"],
        "display_name": "Python 3", "language": "python", "env": {"A": "1"}}).encode())
    assert kernel_argv(spec, "/tmp/c.json") == [
        "python", "-m", "ipykernel_launcher", "-f", "/tmp/c.json", f"--res={loc.directory}"]
    env = kernel_env(spec, "/usr/bin:/bin")
    assert env == {"A": "1", "PATH": "/opt/conda/envs/rapids/bin:/usr/bin:/bin",
                   "CONDA_PREFIX": "/opt/conda/envs/rapids"}
    for bad in (b"[]", b'{"argv": []}', b'{"argv": "python"}', b"not json"):
        with pytest.raises(ValueError):
            parse_kernelspec(loc, bad)


@pytest.mark.unit
def test_paths_resolve_through_symlinked_directories() -> None:
    kinds = {"/bin": ("symlink", "usr/bin"), "/usr": ("dir", ""), "/usr/bin": ("dir", ""),
             "/usr/bin/sh": ("symlink", "dash"), "/usr/bin/dash": ("file", ""),
             "/usr/local": ("dir", ""), "/usr/local/venv": ("dir", ""), "/usr/local/venv/bin": ("dir", ""),
             "/usr/local/venv/bin/python3": ("symlink", "/usr/bin/python3"),
             "/usr/bin/python3": ("symlink", "python3.11"), "/usr/bin/python3.11": ("file", ""),
             "/loop": ("symlink", "/loop")}
    assert resolve_path(kinds, "/bin/sh") == "/usr/bin/dash"
    assert resolve_path(kinds, "/bin/bash") is None
    assert resolve_path(kinds, "/loop/x") is None
    assert find_program(kinds, "python3", "/opt/none:/usr/local/venv/bin:/usr/bin") == "/usr/local/venv/bin/python3"
    assert find_program(kinds, "python", "/usr/local/venv/bin:/usr/bin") is None


# -- the wire protocol ----------------------------------------------------------------------------


@pytest.mark.unit
def test_greeting_is_zmtp3_null() -> None:
    mine = wire.greeting()
    assert len(mine) == wire.GREETING_SIZE
    assert wire.check_greeting(mine) == (3, 0, "NULL")
    with pytest.raises(wire.WireError):
        wire.check_greeting(b"HTTP/1.1 400 Bad Request\r\n".ljust(64, b" "))
    curve = mine[:12] + b"CURVE".ljust(20, b"\x00") + mine[32:]
    with pytest.raises(wire.WireError):
        wire.check_greeting(curve)


@pytest.mark.unit
@given(st.lists(st.binary(max_size=600), min_size=1, max_size=6), st.integers(1, 50))
def test_frames_round_trip_in_any_chunking(parts: list[bytes], chunk: int) -> None:
    data = wire.ready_command("ROUTER") + wire.multipart(parts)
    reader = wire.FrameReader()
    for i in range(0, len(data), chunk):
        reader.feed(data[i:i + chunk])
    kind, body = reader.take_message() or ("", [])
    assert kind == "command" and wire.command_name(body[0]) == "READY"
    assert reader.take_message() == ("message", parts)
    assert reader.take_message() is None


@pytest.mark.unit
def test_messages_are_signed_and_checked() -> None:
    key = b"secret"
    msg_id, frames = wire.request(key, "s1", "execute_request", {"code": "1"})
    reply = [b"routing-id", *frames]
    parsed = wire.parse(key, reply)
    assert parsed.msg_type == "execute_request" and parsed.content == {"code": "1"}
    assert parsed.header["msg_id"] == msg_id
    with pytest.raises(wire.WireError, match="signature"):
        wire.parse(b"other", reply)
    with pytest.raises(wire.WireError):
        wire.parse(key, frames[:4])
    assert wire.parse(b"", wire.request(b"", "s", "kernel_info_request", {})[1]).content == {}
