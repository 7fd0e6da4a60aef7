"""SageMaker Processing semantics (seed 004): the job request, what runs, the job status, the ExitMessage.

Pure functions and data: no I/O, no engine. The job emulator (`platform/processing.py`) and the
checks (`checks/processing_*.py`) build on these; the suite's own tests fuzz them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# CreateProcessingJob limits (AppSpecification, Environment).
ARGV_MAX_ITEMS = 100
ARGV_ITEM_MAX_CHARS = 256
ENVIRONMENT_MAX_ITEMS = 100
ENVIRONMENT_MAX_CHARS = 256
ENV_KEY = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
LOCAL_PATH_PREFIX = "/opt/ml/processing/"
LOCAL_PATH_MAX_CHARS = 256
INSTANCE_COUNT_MAX = 100
EXIT_MESSAGE_MAX_BYTES = 1024
MAX_RUNTIME_MAX_SECONDS = 777600

COMPLETED, FAILED, STOPPED = "Completed", "Failed", "Stopped"
SHELL_FORMS = ("/bin/sh", "sh", "/bin/bash", "bash", "/usr/bin/sh", "/usr/bin/bash", "/bin/dash", "dash")


# -- the request -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessingIO:
    """One ProcessingInput or ProcessingOutput: a name and a path inside the container."""

    name: str
    local_path: str
    files: tuple[tuple[str, str], ...] = ()  # inputs only: relative path -> text content


@dataclass(frozen=True)
class ProcessingJobRequest:
    """The parts of CreateProcessingJob that decide how the container runs."""

    name: str = "default"
    container_entrypoint: tuple[str, ...] | None = None
    container_arguments: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()
    inputs: tuple[ProcessingIO, ...] = ()
    outputs: tuple[ProcessingIO, ...] = ()
    instance_count: int = 1
    instance_type: str = "ml.m5.xlarge"
    max_runtime_seconds: int = 300
    expect_status: str = COMPLETED
    expect_exit_message: str | None = None  # a regular expression (search) over the ExitMessage

    @property
    def hosts(self) -> list[str]:
        return [f"algo-{i}" for i in range(1, self.instance_count + 1)]

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)


SCENARIO_KEYS = {
    "name", "instance_count", "instance_type", "container_entrypoint", "container_arguments", "environment",
    "inputs", "outputs", "max_runtime_seconds", "expect_status", "expect_exit_message",
}  # fmt: skip


def _argv(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{what} must be a list of strings or null, got {type(value).__name__}")
    return tuple(str(x) for x in value)


def _io(value: Any, what: str) -> tuple[ProcessingIO, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(f"{what} must be a list")
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or "local_path" not in item:
            raise ValueError(f"{what}[{index}] needs at least local_path")
        files = item.get("files") or {}
        if not isinstance(files, Mapping):
            raise ValueError(f"{what}[{index}].files must map relative paths to text")
        out.append(ProcessingIO(str(item.get("name") or f"{what.rstrip('s')}-{index + 1}"),
                                str(item["local_path"]),
                                tuple(sorted((str(k), str(v)) for k, v in files.items()))))
    return tuple(out)


def request_from_scenario(name: str, doc: Mapping[str, Any]) -> ProcessingJobRequest:
    """A scenario as written in a spec file (`with: {scenario: {...}}`) -> the request it stands for."""
    unknown = set(doc) - SCENARIO_KEYS
    if unknown:
        raise ValueError(f"scenario {name!r}: unknown keys {sorted(unknown)}; known: {sorted(SCENARIO_KEYS)}")
    env = doc.get("environment") or {}
    if not isinstance(env, Mapping):
        raise ValueError(f"scenario {name!r}: environment must be a mapping")
    return ProcessingJobRequest(
        name=str(doc.get("name") or name),
        container_entrypoint=_argv(doc.get("container_entrypoint"), "container_entrypoint"),
        container_arguments=_argv(doc.get("container_arguments"), "container_arguments"),
        environment=tuple(sorted((str(k), str(v)) for k, v in env.items())),
        inputs=_io(doc.get("inputs"), "inputs"),
        outputs=_io(doc.get("outputs"), "outputs"),
        instance_count=int(doc.get("instance_count", 1)),
        instance_type=str(doc.get("instance_type", "ml.m5.xlarge")),
        max_runtime_seconds=int(doc.get("max_runtime_seconds", 300)),
        expect_status=str(doc.get("expect_status", COMPLETED)),
        expect_exit_message=None if doc.get("expect_exit_message") is None else str(doc["expect_exit_message"]),
    )


def request_limit_problems(req: ProcessingJobRequest) -> list[str]:
    """PR-REQUEST-LIMITS: how the request breaks the AppSpecification/Environment limits (empty: accepted)."""
    problems = []
    for what, argv in (("ContainerEntrypoint", req.container_entrypoint),
                       ("ContainerArguments", req.container_arguments)):
        if argv is None:
            continue
        if not argv:
            problems.append(f"{what} is an empty list (give at least 1 item, or leave it unset)")
        if len(argv) > ARGV_MAX_ITEMS:
            problems.append(f"{what} has {len(argv)} items (at most {ARGV_MAX_ITEMS})")
        problems += [f"{what}[{i}] is {len(v)} characters (at most {ARGV_ITEM_MAX_CHARS})"
                     for i, v in enumerate(argv) if len(v) > ARGV_ITEM_MAX_CHARS]
    if len(req.environment) > ENVIRONMENT_MAX_ITEMS:
        problems.append(f"Environment has {len(req.environment)} entries (at most {ENVIRONMENT_MAX_ITEMS})")
    for key, value in req.environment:
        if not ENV_KEY.fullmatch(key) or len(key) > ENVIRONMENT_MAX_CHARS:
            problems.append(f"Environment key {key[:40]!r} is not a valid name of at most "
                            f"{ENVIRONMENT_MAX_CHARS} characters")
        if len(value) > ENVIRONMENT_MAX_CHARS:
            problems.append(f"Environment[{key[:40]}] is {len(value)} characters (at most {ENVIRONMENT_MAX_CHARS})")
    if not 1 <= req.instance_count <= INSTANCE_COUNT_MAX:
        problems.append(f"InstanceCount {req.instance_count} (1 to {INSTANCE_COUNT_MAX})")
    if not 1 <= req.max_runtime_seconds <= MAX_RUNTIME_MAX_SECONDS:
        problems.append(f"MaxRuntimeInSeconds {req.max_runtime_seconds} (1 to {MAX_RUNTIME_MAX_SECONDS})")
    return problems


def io_path_problems(req: ProcessingJobRequest) -> list[str]:
    """PR-IO-PATHS: every LocalPath is below /opt/ml/processing/, and no two of them overlap."""
    problems = []
    seen: dict[str, str] = {}
    for kind, items in (("ProcessingInput", req.inputs), ("ProcessingOutput", req.outputs)):
        for item in items:
            path = item.local_path
            label = f"{kind} {item.name!r} LocalPath {path!r}"
            if not path.startswith(LOCAL_PATH_PREFIX) or len(path) <= len(LOCAL_PATH_PREFIX):
                problems.append(f"{label} is not below {LOCAL_PATH_PREFIX}")
                continue
            if len(path) > LOCAL_PATH_MAX_CHARS:
                problems.append(f"{label} is longer than {LOCAL_PATH_MAX_CHARS} characters")
            if any(part in ("", ".", "..") for part in path[len(LOCAL_PATH_PREFIX):].rstrip("/").split("/")):
                problems.append(f"{label} has an empty, '.' or '..' component")
            norm = path.rstrip("/") + "/"
            for other, other_label in seen.items():
                if norm.startswith(other) or other.startswith(norm):
                    problems.append(f"{label} overlaps {other_label}")
            seen[norm] = label
    for item in req.inputs:
        for rel, _ in item.files:
            if rel.startswith("/") or ".." in rel.split("/") or not rel:
                problems.append(f"ProcessingInput {item.name!r}: file {rel!r} must be a relative path inside it")
    return problems


# -- what runs (PR-OVERRIDE-MATRIX) -------------------------------------------------------------


def resolve_argv(image_entrypoint: Sequence[str] | None, image_cmd: Sequence[str] | None,
                 container_entrypoint: Sequence[str] | None,
                 container_arguments: Sequence[str] | None) -> list[str]:
    """The command line Processing runs: the four cases of seed 004, as the Docker API resolves them.

    neither: image ENTRYPOINT + CMD; entrypoint only: it alone (image ENTRYPOINT and CMD ignored);
    arguments only: image ENTRYPOINT + the arguments (CMD replaced); both: entrypoint + arguments.
    An empty list counts as unset, as in the engine. An empty result means nothing to run.
    """
    if container_entrypoint:
        return [*container_entrypoint, *(container_arguments or [])]
    entry = list(image_entrypoint or [])
    if container_arguments:
        return entry + list(container_arguments)
    return entry + list(image_cmd or [])


def override_case(container_entrypoint: Sequence[str] | None, container_arguments: Sequence[str] | None) -> str:
    entry, args = bool(container_entrypoint), bool(container_arguments)
    return {(False, False): "neither", (True, False): "entrypoint only",
            (False, True): "arguments only", (True, True): "entrypoint and arguments"}[(entry, args)]


def is_shell_form(argv: Sequence[str] | None) -> bool:
    """True for what a Dockerfile's shell form produces (`/bin/sh -c "…"`) and its spellings (`bash -lc`)."""
    if not argv or len(argv) < 2 or argv[0] not in SHELL_FORMS:
        return False
    return re.fullmatch(r"-[a-z]*c[a-z]*", argv[1]) is not None


BARE_PROGRAMS = ("sh", "bash", "dash", "zsh", "ash", "python", "python3", "node", "irb", "R")


def bare_program(argv: Sequence[str]) -> bool:
    """True when the command is only a shell or interpreter with no script: a job that does nothing."""
    return len(argv) == 1 and argv[0].rsplit("/", 1)[-1] in BARE_PROGRAMS


# -- the job status (PR-EXIT-STATUS) ------------------------------------------------------------


@dataclass(frozen=True)
class JobOutcome:
    status: str
    failure_reason: str | None


def job_outcome(exit_codes: Mapping[str, int | None], *, message_error: str | None = None,
                stopped: bool = False, timed_out: bool = False) -> JobOutcome:
    """What DescribeProcessingJob reports: Completed iff every container exited 0 (and the messages are UTF-8).

    `exit_codes`: host -> exit code (None: the container never ran). `message_error`: why the
    messages are unusable (non-UTF-8), which fails the job with ClientError whatever the codes.
    """
    if stopped:
        return JobOutcome(STOPPED, None)
    if timed_out:
        return JobOutcome(STOPPED, "MaxRuntimeInSeconds exceeded: the job was stopped")
    if message_error is not None:
        return JobOutcome(FAILED, f"ClientError: {message_error}")
    never = sorted(h for h, c in exit_codes.items() if c is None)
    if never:
        return JobOutcome(FAILED, f"ClientError: the container could not be started on {', '.join(never)}")
    bad = {h: c for h, c in sorted(exit_codes.items()) if c != 0}
    if not exit_codes:
        return JobOutcome(FAILED, "ClientError: no container ran")
    if bad:
        codes = ", ".join(f"{h} exited {c}" for h, c in bad.items())
        return JobOutcome(FAILED, f"AlgorithmError: See job logs for more information ({codes})")
    return JobOutcome(COMPLETED, None)


# -- the ExitMessage (PR-EXITMSG-*) -------------------------------------------------------------


@dataclass(frozen=True)
class ExitMessage:
    """The ExitMessage the service shows, from each container's /opt/ml/output/message."""

    text: str | None  # None: no container wrote a message
    shown_bytes: bytes
    total_bytes: int
    invalid_hosts: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def client_error(self) -> str | None:
        if not self.invalid_hosts:
            return None
        return f"the message file of {', '.join(self.invalid_hosts)} is not UTF-8 (/opt/ml/output/message)"

    @property
    def dropped_bytes(self) -> int:
        return max(0, self.total_bytes - EXIT_MESSAGE_MAX_BYTES)


def utf8_error(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"byte {exc.start} (0x{data[exc.start]:02x}): {exc.reason}"
    return None


def exit_message(messages: Mapping[str, bytes | None], limit: int = EXIT_MESSAGE_MAX_BYTES) -> ExitMessage:
    """Concatenate the hosts' messages in host order, keep the first `limit` bytes, and say what was lost."""
    hosts = sorted(messages, key=_host_order)
    present = [(h, messages[h]) for h in hosts if messages[h] is not None]
    if not present:
        return ExitMessage(None, b"", 0)
    invalid = tuple(h for h, data in present if utf8_error(data or b"") is not None)
    joined = b"".join(data or b"" for _, data in present)
    shown = joined[:limit]
    warnings = []
    text = shown.decode("utf-8", "ignore") if invalid else _decode_prefix(shown)
    if len(joined) > limit:
        chars_total = len(joined.decode("utf-8", "replace"))
        warnings.append(f"the messages total {len(joined)} bytes: the last {len(joined) - limit} bytes "
                        f"are dropped (the service keeps the first {limit})")
        if chars_total <= limit and not invalid:
            warnings.append(f"if the service counted characters, all {chars_total} would be kept")
        if not invalid and _splits_character(joined, limit):
            warnings.append(f"the cut at byte {limit} splits the character {_char_at(joined, limit)!r}: "
                            "the service shows a broken character or drops it")
    if len(present) > 1:
        sizes = ", ".join(f"{h}: {len(d or b'')} B" for h, d in present)
        warnings.append(f"{len(present)} containers wrote messages, concatenated in host order ({sizes})")
    return ExitMessage(text, shown, len(joined), invalid, tuple(warnings))


def _host_order(host: str) -> tuple[int, str]:
    match = re.fullmatch(r"algo-(\d+)", host)
    return (int(match.group(1)), host) if match else (1 << 30, host)


def _splits_character(data: bytes, limit: int) -> bool:
    """True when byte `limit` falls inside a multi-byte UTF-8 sequence."""
    return len(data) > limit and (data[limit] & 0xC0) == 0x80


def _char_at(data: bytes, index: int) -> str:
    """The character whose UTF-8 sequence covers byte `index` of valid UTF-8 `data`."""
    lead = index
    while lead > 0 and (data[lead] & 0xC0) == 0x80:
        lead -= 1
    return data[lead:lead + 4].decode("utf-8", "ignore")[:1]


def _decode_prefix(data: bytes) -> str:
    """Decode a UTF-8 prefix that may end inside a character (that partial character is dropped)."""
    for trim in range(4):
        try:
            return data[:len(data) - trim].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "ignore")


# -- secrets in the message (PR-EXITMSG-SECRETS) ---------------------------------------------------


@dataclass(frozen=True)
class SecretFinding:
    kind: str
    start: int
    end: int


_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[\s\S]*)")),
    ("AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)"
                                     r"[A-Z0-9]{16}(?![A-Z0-9])")),
    ("AWS session token", re.compile(
        r"(?i:aws_?session_?token|x-amz-security-token|security_?token|sessiontoken)[\"']?\s*[:=]\s*[\"']?"
        r"([A-Za-z0-9/+=]{16,})")),
    ("AWS session token", re.compile(r"(?:FwoGZXIvYXdzE|IQoJb3JpZ2luX2Vj|FQoGZXIvYXdzE)[A-Za-z0-9/+=]{20,}")),
    ("AWS secret access key", re.compile(
        r"(?i:aws_?secret_?access_?key|secret_?access_?key|secret_?key|aws_?secret)[\"']?\s*[:=]\s*[\"']?"
        r"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])")),
    ("AWS secret access key (unlabelled)", re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")),
)


def _looks_random_40(token: str) -> bool:
    """A bare 40-character token is taken for a secret key only if it mixes cases and digits (not a hex digest)."""
    return (any(c.isupper() for c in token) and any(c.islower() for c in token)
            and any(c.isdigit() or c in "/+" for c in token) and not re.fullmatch(r"[0-9a-fA-F]{40}", token))


def find_secrets(text: str) -> list[SecretFinding]:
    """Credentials in `text`: AWS access key ids, secret keys, session tokens, private keys (spans, sorted)."""
    found: list[SecretFinding] = []
    for kind, pattern in _SECRET_PATTERNS:
        for match in pattern.finditer(text):
            start, end = (match.start(1), match.end(1)) if pattern.groups else (match.start(), match.end())
            if kind.endswith("(unlabelled)"):
                if not _looks_random_40(match.group(0)):
                    continue
                kind = "AWS secret access key"
            if any(f.start <= start < f.end or start <= f.start < end for f in found):
                continue
            found.append(SecretFinding(kind, start, end))
    return sorted(found, key=lambda f: f.start)


def mask_secrets(text: str) -> str:
    """`text` with every secret replaced by its first 4 characters and asterisks (none survives a re-scan)."""
    out, last = [], 0
    for finding in find_secrets(text):
        secret = text[finding.start:finding.end]
        keep = "" if finding.kind == "private key" else secret[:4]
        out += [text[last:finding.start], f"{keep}****[{finding.kind} masked]"]
        last = finding.end
    out.append(text[last:])
    return "".join(out)


# -- the config files (PR-CONFIG-FILES) ---------------------------------------------------------


def resource_config(current_host: str, hosts: Sequence[str], *, local_mode: bool = False) -> dict[str, Any]:
    """/opt/ml/config/resourceconfig.json: the documented shape (local mode adds two keys)."""
    doc: dict[str, Any] = {"current_host": current_host, "hosts": list(hosts)}
    if local_mode:
        doc.update(network_interface_name="eth0", current_instance_type="local")
    return doc


def processing_job_config(req: ProcessingJobRequest, *, image_uri: str, job_name: str, region: str = "us-west-2",
                          account: str = "000000000000", local_mode: bool = False) -> dict[str, Any]:
    """/opt/ml/config/processingjobconfig.json in the shape the developer guide documents."""
    arn = job_name if local_mode else f"arn:aws:sagemaker:{region}:{account}:processing-job/{job_name}"
    inputs = []
    for item in req.inputs:
        s3 = {"LocalPath": item.local_path, "S3Uri": f"s3://smconform-bucket/{job_name}/input/{item.name}",
              "S3DataDistributionType": "FullyReplicated", "S3DataType": "S3Prefix", "S3InputMode": "File",
              "S3CompressionType": "None", "S3DownloadMode": "StartOfJob"}
        entry: dict[str, Any] = {"InputName": item.name, "S3Input": s3}
        if local_mode:
            entry["DataUri"] = s3["S3Uri"]
        inputs.append(entry)
    outputs = [{"OutputName": item.name,
                "S3Output": {"LocalPath": item.local_path,
                             "S3Uri": f"s3://smconform-bucket/{job_name}/output/{item.name}",
                             "S3UploadMode": "EndOfJob"}} for item in req.outputs]
    return {
        "ProcessingJobArn": arn,
        "ProcessingJobName": job_name,
        "AppSpecification": {"ImageUri": image_uri,
                             "ContainerEntrypoint": list(req.container_entrypoint)
                             if req.container_entrypoint is not None else None,
                             "ContainerArguments": list(req.container_arguments)
                             if req.container_arguments is not None else None},
        "Environment": req.env,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {"Outputs": outputs, "KmsKeyId": None},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": req.instance_count,
                                                  "InstanceType": req.instance_type, "VolumeSizeInGB": 30,
                                                  "VolumeKmsKeyId": None}},
        "RoleArn": f"arn:aws:iam::{account}:role/smconform-processing" if not local_mode else "<no_role>",
        "StoppingCondition": {"MaxRuntimeInSeconds": req.max_runtime_seconds},
    }


_JOB_CONFIG_KEYS = {"ProcessingJobArn", "ProcessingJobName", "AppSpecification", "Environment", "ProcessingInputs",
                    "ProcessingOutputConfig", "ProcessingResources", "RoleArn", "StoppingCondition"}


def config_shape_problems(job_config: Any, resource: Any, host: str, hosts: Sequence[str]) -> list[str]:
    """How the two files differ from the documented shape (used on what the container actually had)."""
    problems = []
    if not isinstance(resource, dict):
        return ["resourceconfig.json is not a JSON object"]
    if resource.get("current_host") != host:
        problems.append(f"resourceconfig.json current_host is {resource.get('current_host')!r}, not {host!r}")
    if resource.get("hosts") != list(hosts):
        problems.append(f"resourceconfig.json hosts is {resource.get('hosts')!r}, not {list(hosts)!r}")
    if not isinstance(job_config, dict):
        return [*problems, "processingjobconfig.json is not a JSON object"]
    missing = _JOB_CONFIG_KEYS - set(job_config)
    if missing:
        problems.append(f"processingjobconfig.json lacks {sorted(missing)}")
    arn = str(job_config.get("ProcessingJobArn", ""))
    if not arn.startswith("arn:"):
        problems.append(f"ProcessingJobArn {arn!r} is not an ARN")
    cluster = (job_config.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    if cluster.get("InstanceCount") != len(hosts):
        problems.append(f"ClusterConfig.InstanceCount {cluster.get('InstanceCount')!r} != {len(hosts)} hosts")
    return problems


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


UNDECLARED = "undeclared "  # output name prefix of entries the job wrote under /opt/ml/processing elsewhere


@dataclass(frozen=True)
class OutputEntry:
    """One entry found under an output LocalPath after the job."""

    output: str
    path: str
    kind: str  # file | dir | symlink | other
    size: int = 0
    target: str = ""


@dataclass(frozen=True)
class OutputVerdict:
    uploaded: tuple[OutputEntry, ...] = ()
    lost: tuple[tuple[OutputEntry, str], ...] = ()
    empty_outputs: tuple[str, ...] = field(default_factory=tuple)


def judge_outputs(entries: Sequence[OutputEntry], outputs: Sequence[str], completed: bool) -> OutputVerdict:
    """What S3 would receive: regular files, when the job completed; symbolic links are never followed."""
    uploaded, lost = [], []
    for entry in entries:
        if entry.output.startswith(UNDECLARED) and entry.kind != "dir":
            why = (f"symbolic link to {entry.target or '?'}: not followed, and " if entry.kind == "symlink" else "")
            lost.append((entry, why + "not under a declared ProcessingOutput LocalPath: not uploaded"))
        elif entry.kind == "symlink":
            lost.append((entry, f"symbolic link to {entry.target or '?'}: not followed, not uploaded"))
        elif entry.kind == "file" and not completed:
            lost.append((entry, "the job did not complete: outputs are not uploaded"))
        elif entry.kind == "file":
            uploaded.append(entry)
        elif entry.kind == "other":
            lost.append((entry, "not a regular file"))
    with_content = {e.output for e in entries if e.kind != "dir" and not e.output.startswith(UNDECLARED)}
    empty = tuple(name for name in outputs if name not in with_content)
    return OutputVerdict(tuple(uploaded), tuple(lost), empty)
