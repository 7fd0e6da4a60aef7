"""Studio Classic (KernelGateway app) semantics: AppImageConfig, users, kernel names. No I/O."""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The only (DefaultUid, DefaultGid) pairs Studio Classic accepts (seed 002, "GID/UID limits").
ALLOWED_IDS = ((1000, 100), (0, 0))
DEFAULT_MOUNT_PATH = "/home/sagemaker-user"
DEFAULT_KERNEL = "python3"
# Standard Jupyter data directories a kernel gateway searches after JUPYTER_PATH and sys.prefix.
SYSTEM_DATA_DIRS = ("/usr/local/share/jupyter", "/usr/share/jupyter")


class ConfigError(ValueError):
    """An AppImageConfig document the API would not accept (wrong shape or types)."""


@dataclass(frozen=True)
class KernelDecl:
    name: str
    display_name: str = ""


@dataclass(frozen=True)
class AppImageConfig:
    """What a KernelGatewayImageConfig declares, with the platform's defaults filled in."""

    kernels: tuple[KernelDecl, ...] = ()
    mount_path: str = DEFAULT_MOUNT_PATH
    uid: int = 1000
    gid: int = 100

    @property
    def kernel_names(self) -> tuple[str, ...]:
        """The kernels Studio shows: the declared ones, else python3."""
        return tuple(k.name for k in self.kernels) or (DEFAULT_KERNEL,)

    @classmethod
    def from_api(cls, doc: Mapping[str, Any], defaults: AppImageConfig | None = None) -> AppImageConfig:
        """Accept a CreateAppImageConfig input, or just its KernelGatewayImageConfig."""
        base = defaults or cls()
        if "KernelGatewayImageConfig" in doc:
            doc = doc["KernelGatewayImageConfig"]
        if not isinstance(doc, Mapping):
            raise ConfigError("KernelGatewayImageConfig must be a JSON object")
        unknown = set(doc) - {"KernelSpecs", "FileSystemConfig"}
        if unknown:
            raise ConfigError(f"KernelGatewayImageConfig: unknown keys {sorted(unknown)}")
        kernels = base.kernels
        if "KernelSpecs" in doc:
            specs = doc["KernelSpecs"]
            if not isinstance(specs, list) or not all(isinstance(s, Mapping) and isinstance(s.get("Name"), str)
                                                      for s in specs):
                raise ConfigError("KernelSpecs must be a list of objects with a string Name")
            kernels = tuple(KernelDecl(str(s["Name"]), str(s.get("DisplayName", ""))) for s in specs)
        fs = doc.get("FileSystemConfig") or {}
        if not isinstance(fs, Mapping):
            raise ConfigError("FileSystemConfig must be a JSON object")
        mount = fs.get("MountPath", base.mount_path)
        if not isinstance(mount, str) or not mount.startswith("/"):
            raise ConfigError(f"FileSystemConfig.MountPath must be an absolute path, got {mount!r}")
        ids = []
        for key, fallback in (("DefaultUid", base.uid), ("DefaultGid", base.gid)):
            value = fs.get(key, fallback)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"FileSystemConfig.{key} must be an integer, got {value!r}")
            ids.append(value)
        return cls(kernels=kernels, mount_path=mount.rstrip("/") or "/", uid=ids[0], gid=ids[1])


def ids_problem(uid: int, gid: int) -> str | None:
    if (uid, gid) in ALLOWED_IDS:
        return None
    allowed = " or ".join(f"{u}/{g}" for u, g in ALLOWED_IDS)
    return f"DefaultUid/DefaultGid {uid}/{gid} is not one Studio Classic accepts ({allowed})"


# -- users ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    how: str  # a short explanation: "USER sagemaker-user -> /etc/passwd"


class UserError(ValueError):
    """The image's USER cannot be resolved the way the engine resolves it."""


def _table(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(user: str, passwd: str, group: str) -> ResolvedUser:
    """The UID/GID a container of the image runs as, resolved as runc does (USER name[:group])."""
    spec = user.strip()
    if not spec:
        return ResolvedUser(0, 0, "no USER: root")
    name, _, grp = spec.partition(":")
    users = [row for row in _table(passwd) if len(row) >= 4]
    entry = next((row for row in users if row[0] == name), None)
    if entry is None and name.isdigit():
        entry = next((row for row in users if row[2] == name), None)
    if entry is not None:
        uid, primary = int(entry[2]), int(entry[3])
        how = f"USER {spec}: /etc/passwd {entry[0]} {entry[2]}:{entry[3]}"
    elif name.isdigit():
        uid, primary = int(name), 0
        how = f"USER {spec}: UID {name} has no /etc/passwd entry, so the engine uses GID 0"
    else:
        raise UserError(f"USER {spec}: no user {name!r} in /etc/passwd")
    if not grp:
        return ResolvedUser(uid, primary, how)
    if grp.isdigit():
        return ResolvedUser(uid, int(grp), how + f", group {grp}")
    row = next((r for r in _table(group) if len(r) >= 3 and r[0] == grp), None)
    if row is None:
        raise UserError(f"USER {spec}: no group {grp!r} in /etc/group")
    return ResolvedUser(uid, int(row[2]), how + f", group {grp} {row[2]}")


# -- kernel discovery --------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelLocation:
    """Where a kernelspec directory was found and the name the platform gives it."""

    name: str
    directory: str
    source: str
    conda_prefix: str | None = None


def conda_kernel_name(env_name: str | None, kernel_dir: str) -> str:
    """nb_conda_kernels' name: conda-env-<env>-<kernel> (conda-base-... for the base env)."""
    short = {"python2": "py", "python3": "py", "ir": "r"}.get(kernel_dir.lower(), kernel_dir)
    return f"conda-base-{short}" if env_name is None else f"conda-env-{env_name}-{short}"


def data_dirs(jupyter_path: str, sys_prefix: str | None) -> list[tuple[str, str]]:
    """Jupyter data directories in the order a gateway searches them, with a label for each."""
    out: list[tuple[str, str]] = []
    if sys_prefix:
        out.append((posixpath.join(sys_prefix, "share/jupyter"), "sys.prefix"))
    out += [(p, "JUPYTER_PATH") for p in jupyter_path.split(":") if p.startswith("/")]
    out += [(d, d) for d in SYSTEM_DATA_DIRS]
    seen: set[str] = set()
    unique = []
    for path, label in out:
        norm = posixpath.normpath(path)
        if norm not in seen:
            seen.add(norm)
            unique.append((norm, label))
    return unique


def conda_envs(paths: Iterable[str]) -> dict[str, str | None]:
    """Conda environment prefixes (a directory holding conda-meta/) -> env name (None: base)."""
    out: dict[str, str | None] = {}
    for path in paths:
        if posixpath.basename(path) != "conda-meta":
            continue
        prefix = posixpath.dirname(path)
        parent = posixpath.dirname(prefix)
        out[prefix] = posixpath.basename(prefix) if posixpath.basename(parent) == "envs" else None
    return out


_DISCOVERY_SUFFIXES = ("/kernel.json", "/conda-meta")


def discovery_paths(paths: Iterable[str]) -> list[str]:
    """The only paths the kernelspec search looks at: kernel.json files and conda-meta directories.

    An image's tree holds tens of thousands of paths; filtering them once, with a suffix test, keeps
    the searches (which run between the container's start and its first kernel) to a few entries."""
    return [p for p in paths if p.endswith(_DISCOVERY_SUFFIXES)]


def locate_kernels(paths: Collection[str], jupyter_path: str, sys_prefix: str | None,
                   include_base_env: bool = False) -> list[KernelLocation]:
    """Every kernelspec a gateway in this image would offer (first one of a name wins)."""
    paths = discovery_paths(paths)
    kernel_files = sorted(p for p in paths if posixpath.basename(p) == "kernel.json")
    found: dict[str, KernelLocation] = {}
    for data_dir, label in data_dirs(jupyter_path, sys_prefix):
        root = data_dir + "/kernels/"
        for path in kernel_files:
            rest = path[len(root):] if path.startswith(root) else ""
            if rest.count("/") == 1:
                name = rest.split("/")[0]
                found.setdefault(name, KernelLocation(name, posixpath.dirname(path), label))
    for prefix, env in sorted(conda_envs(paths).items()):
        if env is None and not include_base_env:
            continue
        root = prefix + "/share/jupyter/kernels/"
        for path in kernel_files:
            rest = path[len(root):] if path.startswith(root) else ""
            if rest.count("/") == 1:
                kdir = rest.split("/")[0]
                name = conda_kernel_name(env, kdir)
                found.setdefault(name, KernelLocation(name, posixpath.dirname(path), f"conda env {prefix}", prefix))
    return list(found.values())


# -- kernelspecs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelSpec:
    location: KernelLocation
    argv: tuple[str, ...]
    language: str
    display_name: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.location.name


def parse_kernelspec(location: KernelLocation, raw: bytes) -> KernelSpec:
    """kernel.json -> KernelSpec; raises ValueError with the reason when it is not usable."""
    import json

    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("kernel.json is not a JSON object")
    argv = doc.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("kernel.json has no argv list of strings")
    env = doc.get("env") or {}
    if not isinstance(env, dict):
        raise ValueError("kernel.json env is not an object")
    return KernelSpec(location, tuple(argv), str(doc.get("language", "")), str(doc.get("display_name", "")),
                      {str(k): str(v) for k, v in env.items()})


def kernel_argv(spec: KernelSpec, connection_file: str) -> list[str]:
    """argv with {connection_file} and {resource_dir} filled in, as jupyter_client does."""
    return [a.replace("{connection_file}", connection_file).replace("{resource_dir}", spec.location.directory)
            for a in spec.argv]


def kernel_env(spec: KernelSpec, image_path: str) -> dict[str, str]:
    """Variables added for a kernel: its spec's env; a conda env's bin first on PATH."""
    env = dict(spec.env)
    prefix = spec.location.conda_prefix
    if prefix:
        env.setdefault("PATH", f"{prefix}/bin:{image_path}")
        env.setdefault("CONDA_PREFIX", prefix)
    return env


def is_python(spec: KernelSpec) -> bool:
    return spec.language.lower().startswith("python")


# -- the image's file system ------------------------------------------------------------------


def resolve_path(kinds: Mapping[str, tuple[str, str]], path: str, hops: int = 16) -> str | None:
    """Where `path` leads in an image's final tree (`kinds`: path -> (kind, link)), following symlinks
    in every component (merged-/usr images link /bin to usr/bin); None when it does not exist."""
    parts = [p for p in path.split("/") if p]
    current = "/"
    while parts:
        candidate = posixpath.join(current, parts.pop(0))
        kind, link = kinds.get(candidate, ("", ""))
        if not kind:
            return None
        if kind == "symlink":
            if hops <= 0:
                return None
            hops -= 1
            target = link if link.startswith("/") else posixpath.join(current, link)
            parts = [p for p in posixpath.normpath(target).split("/") if p] + parts
            current = "/"
            continue
        current = candidate
    return current


def find_program(kinds: Mapping[str, tuple[str, str]], name: str, path_env: str) -> str | None:
    """The first `name` on the image's PATH that leads to a file (as a shell's lookup would)."""
    for directory in path_env.split(":"):
        if directory.startswith("/"):
            target = resolve_path(kinds, posixpath.join(directory, name))
            if target is not None and kinds.get(target, ("", ""))[0] in ("file", "hardlink"):
                return posixpath.join(directory, name)
    return None
