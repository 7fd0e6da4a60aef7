"""Properties of the Processing model: request limits, override matrix, job status, ExitMessage, secrets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_smconform.model import processing as m

pytestmark = pytest.mark.unit

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
ARGV = st.lists(TEXT, min_size=1, max_size=5)
OPT_ARGV = st.none() | ARGV


# -- PR-OVERRIDE-MATRIX ------------------------------------------------------------------------


@given(OPT_ARGV, OPT_ARGV, OPT_ARGV, OPT_ARGV)
def test_override_matrix_four_cases(image_ep: list[str] | None, image_cmd: list[str] | None,
                                    entry: list[str] | None, args: list[str] | None) -> None:
    argv = m.resolve_argv(image_ep, image_cmd, entry, args)
    if entry is None and args is None:
        assert argv == (image_ep or []) + (image_cmd or [])
    elif entry is not None and args is None:
        assert argv == entry  # image ENTRYPOINT and CMD ignored
    elif entry is None and args is not None:
        assert argv == (image_ep or []) + args  # CMD replaced
    else:
        assert argv == (entry or []) + (args or [])


def test_override_matrix_seed_example() -> None:
    argv = m.resolve_argv(["python3", "/processing_script.py"], None,
                          ["python3", "-v", "/processing_script.py"], ["data-format", "csv"])
    assert argv == ["python3", "-v", "/processing_script.py", "data-format", "csv"]
    assert m.override_case(None, ["x"]) == "arguments only"


def test_shell_form() -> None:
    assert m.is_shell_form(["/bin/sh", "-c", "python3 x.py"])
    assert not m.is_shell_form(["python3", "x.py"])
    assert not m.is_shell_form(["/bin/sh"])
    assert not m.is_shell_form(None)


# -- PR-REQUEST-LIMITS / PR-IO-PATHS -------------------------------------------------------------


@given(st.lists(st.text(max_size=300), min_size=1, max_size=120))
def test_request_limits(argv: list[str]) -> None:
    req = m.ProcessingJobRequest(container_arguments=tuple(argv))
    problems = m.request_limit_problems(req)
    ok = len(argv) <= 100 and all(len(a) <= 256 for a in argv)
    assert (not problems) == ok


def test_request_limits_boundaries() -> None:
    assert not m.request_limit_problems(m.ProcessingJobRequest(container_entrypoint=("x" * 256,) * 100))
    assert m.request_limit_problems(m.ProcessingJobRequest(container_entrypoint=("x" * 257,)))
    assert m.request_limit_problems(m.ProcessingJobRequest(container_entrypoint=("x",) * 101))
    assert m.request_limit_problems(m.ProcessingJobRequest(container_entrypoint=()))


@given(st.text(max_size=40))
def test_io_paths(path: str) -> None:
    req = m.ProcessingJobRequest(outputs=(m.ProcessingIO("o", path),))
    problems = m.io_path_problems(req)
    if not path.startswith("/opt/ml/processing/"):
        assert problems


def test_io_paths_examples() -> None:
    good = m.request_from_scenario("s", {"inputs": [{"name": "i", "local_path": "/opt/ml/processing/input"}],
                                         "outputs": [{"name": "o", "local_path": "/opt/ml/processing/output"}]})
    assert m.io_path_problems(good) == []
    bad = m.request_from_scenario("s", {"outputs": [{"local_path": "/opt/ml/output/data"}]})
    assert "not below" in m.io_path_problems(bad)[0]
    overlap = m.request_from_scenario("s", {"inputs": [{"local_path": "/opt/ml/processing/a"}],
                                            "outputs": [{"local_path": "/opt/ml/processing/a/b"}]})
    assert "overlaps" in m.io_path_problems(overlap)[0]
    with pytest.raises(ValueError, match="unknown keys"):
        m.request_from_scenario("s", {"instances": 2})


# -- PR-EXIT-STATUS --------------------------------------------------------------------------------


@given(st.dictionaries(st.sampled_from([f"algo-{i}" for i in range(1, 6)]), st.integers(0, 255), min_size=1))
def test_completed_iff_all_zero(codes: dict[str, int]) -> None:
    outcome = m.job_outcome(codes)
    assert (outcome.status == m.COMPLETED) == all(c == 0 for c in codes.values())
    if outcome.status == m.FAILED:
        assert outcome.failure_reason and outcome.failure_reason.startswith("AlgorithmError")


def test_client_error_wins_over_exit_zero() -> None:
    outcome = m.job_outcome({"algo-1": 0}, message_error="not UTF-8")
    assert outcome.status == m.FAILED and outcome.failure_reason == "ClientError: not UTF-8"
    assert m.job_outcome({"algo-1": 0}, stopped=True).status == m.STOPPED


# -- PR-EXITMSG-* ----------------------------------------------------------------------------------

MESSAGES = st.dictionaries(st.sampled_from(["algo-1", "algo-2", "algo-3", "algo-10"]),
                           st.none() | st.binary(max_size=700) | TEXT.map(lambda t: (t * 40).encode()),
                           max_size=4)


@settings(max_examples=300)
@given(MESSAGES)
def test_exit_message_properties(messages: dict[str, bytes | None]) -> None:
    result = m.exit_message(messages)
    order = sorted(messages, key=lambda h: int(h.split("-")[1]))
    joined = b"".join(messages[h] or b"" for h in order)
    written = [messages[h] for h in order if messages[h] is not None]
    if not written:
        assert result.text is None
        return
    assert len(result.shown_bytes) <= 1024
    assert joined.startswith(result.shown_bytes)
    assert result.shown_bytes == joined[:1024]
    valid = all(m.utf8_error(d or b"") is None for d in written)
    assert (result.client_error is None) == valid
    if valid:
        assert result.text is not None
        assert joined.decode("utf-8").startswith(result.text)
        assert len(result.text.encode()) <= 1024
        assert any("dropped" in w for w in result.warnings) == (len(joined) > 1024)


def test_exit_message_split_character() -> None:
    data = ("a" * 1023 + "é" + "tail").encode()
    result = m.exit_message({"algo-1": data})
    assert result.text == "a" * 1023
    assert any("splits the character 'é'" in w for w in result.warnings)
    assert result.dropped_bytes == len(data) - 1024


def test_exit_message_concatenation_order() -> None:
    result = m.exit_message({"algo-2": b"two;", "algo-10": b"ten;", "algo-1": b"one;"})
    assert result.text == "one;two;ten;"
    invalid = m.exit_message({"algo-1": b"ok", "algo-2": "caf\u00e9".encode("latin-1")})
    assert invalid.invalid_hosts == ("algo-2",)
    assert invalid.client_error and "algo-2" in invalid.client_error


# -- PR-EXITMSG-SECRETS ----------------------------------------------------------------------------

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = st.sampled_from([
    ACCESS_KEY,
    f"aws_secret_access_key = {SECRET_KEY}",
    SECRET_KEY,
    "AWS_SESSION_TOKEN=" + "IQoJb3JpZ2luX2VjEJr" + "A" * 60,
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
])
PLAIN = st.text(st.characters(whitelist_categories=["Ll", "Zs"]), max_size=30)


@given(PLAIN, SECRETS, PLAIN)
def test_secrets_found_and_masked(before: str, secret: str, after: str) -> None:
    text = f"{before} {secret} {after}"
    assert m.find_secrets(text)
    masked = m.mask_secrets(text)
    assert m.find_secrets(masked) == []
    assert SECRET_KEY not in masked and ACCESS_KEY not in masked and "MIIEowIBAAKCAQEA" not in masked


def test_no_false_positives_on_ordinary_messages() -> None:
    for text in ["processed 120 files; git 3f786850e387550fdab836ed7e6dc881de23001b",
                 "Completed: wrote /opt/ml/processing/output/summary.json (2 KB)",
                 "ValueError: column 'price' has 3 NaN values", "ÄÖÜ ✓ résumé"]:
        assert m.find_secrets(text) == [], text


# -- PR-CONFIG-FILES / outputs -----------------------------------------------------------------------


def test_config_files_shape() -> None:
    req = m.request_from_scenario("s", {"instance_count": 2, "outputs": [{"local_path": "/opt/ml/processing/o"}]})
    job = m.processing_job_config(req, image_uri="img:1", job_name="job")
    res = m.resource_config("algo-2", req.hosts)
    assert m.config_shape_problems(job, res, "algo-2", req.hosts) == []
    local = m.processing_job_config(req, image_uri="img:1", job_name="job", local_mode=True)
    assert any("not an ARN" in p for p in m.config_shape_problems(local, res, "algo-2", req.hosts))
    assert set(m.resource_config("algo-1", ["algo-1"], local_mode=True)) > set(res)


def test_outputs_symlinks_lost() -> None:
    entries = [m.OutputEntry("out", "out/a.csv", "file", 3), m.OutputEntry("out", "out/b", "symlink", target="/tmp/b")]
    verdict = m.judge_outputs(entries, ["out", "other"], completed=True)
    assert [e.path for e in verdict.uploaded] == ["out/a.csv"]
    assert verdict.lost[0][0].path == "out/b" and "symbolic link" in verdict.lost[0][1]
    assert verdict.empty_outputs == ("other",)
    failed = m.judge_outputs(entries, ["out"], completed=False)
    assert not failed.uploaded and len(failed.lost) == 2


# -- the emulator's pure helpers ---------------------------------------------------------------------


def test_engine_timestamps_and_archive_reader() -> None:
    import io
    import tarfile

    from pytest_smconform.platform.processing import _ChunkReader, _timestamp

    assert _timestamp("0001-01-01T00:00:00Z") is None
    start = _timestamp("2026-11-21T23:41:40.390321849Z")
    end = _timestamp("2026-11-21T23:41:41.890321849Z")
    assert start is not None and end is not None and abs(end - start - 1.5) < 1e-6
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("output/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/tmp/x"
        tar.addfile(info)
    data = buffer.getvalue()
    chunks = [data[i:i + 7] for i in range(0, len(data), 7)]
    with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as tar:
        members = [(m.name, m.issym(), m.linkname) for m in tar]
    assert members == [("output/link", True, "/tmp/x")]


def test_bare_program_and_undeclared_outputs() -> None:
    assert m.bare_program(["/bin/bash"]) and m.bare_program(["python3"])
    assert not m.bare_program(["python3", "/job.py"])
    assert m.is_shell_form(["bash", "-lc", "python3 x.py"])
    undeclared = m.OutputEntry(f"{m.UNDECLARED}/opt/ml/processing/data", "algo-1:/opt/ml/processing/data/a", "file")
    verdict = m.judge_outputs([undeclared], ["output-1"], completed=True)
    assert verdict.empty_outputs == ("output-1",) and "not under a declared" in verdict.lost[0][1]
