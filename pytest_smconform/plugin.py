"""pytest entry point. Kept import-light: nothing heavy loads unless --smconform is given."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .session import SmconformSession

_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
SESSION_KEY = pytest.StashKey["SmconformSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smconform", "SageMaker conformance (pytest-smconform)")
    group.addoption("--smconform", dest="smconform", metavar="PROFILE", default=None,
                    help="check an image against a profile: jupyterlab, kernelgateway, processing, "
                         "local-mode, spaces (or one of your spec files)")
    group.addoption("--smconform-image", dest="smconform_image", metavar="REF", action="append", default=[],
                    help="an image to check (or give it as a positional argument); repeatable, or @FILE "
                         "of refs one a line: the suite then runs over each and compares them")
    group.addoption("--smconform-report", dest="smconform_report", metavar="PATH", default=None,
                    help="write the JSON report there (also on failure or interruption)")
    group.addoption("--smconform-option", dest="smconform_option", metavar="KEY=VALUE", action="append",
                    default=[], help="override a profile parameter (repeatable); --smconform-list shows them")
    group.addoption("--smconform-level", dest="smconform_level", choices=("must", "should"), default=None,
                    help="'must': SHOULD requirements are reported but do not fail the run")
    group.addoption("--smconform-spec", dest="smconform_spec", metavar="PATH", action="append", default=[],
                    help="an extra spec file (repeatable): new profiles or extensions of shipped ones")
    group.addoption("--smconform-container-config", dest="smconform_container_config", metavar="PATH",
                    default=None, help="JSON ContainerConfig (ContainerEntrypoint, ContainerArguments, "
                                       "ContainerEnvironmentVariables) Studio will use")
    group.addoption("--smconform-seed", dest="smconform_seed", type=int, default=None,
                    help="seed for fuzzed requirements (printed in every failure)")
    group.addoption("--smconform-app-image-config", dest="smconform_app_image_config", metavar="PATH",
                    default=None, help="kernelgateway: the AppImageConfig JSON Studio Classic would use")
    group.addoption("--smconform-allow-engine-socket", dest="smconform_allow_engine_socket",
                    action="store_true", default=False,
                    help="local-mode: mount this engine's socket into the image (hands it the engine)")
    group.addoption("--smconform-docker-settings", dest="smconform_docker_settings", metavar="PATH",
                    default=None, help="local-mode: a DockerSettings JSON document to validate")
    group.addoption("--smconform-template", dest="smconform_template", metavar="PATH", action="append",
                    default=[], help="spaces: a WorkspaceTemplate YAML document (repeatable)")
    group.addoption("--smconform-workspace", dest="smconform_workspace", metavar="PATH", action="append",
                    default=[], help="spaces: a Workspace YAML document (repeatable)")
    group.addoption("--smconform-prewarm", dest="smconform_prewarm", metavar="IMAGE,...", default=None,
                    help="spaces: print the image pre-warming DaemonSet for these images")
    group.addoption("--smconform-kubeconfig", dest="smconform_kubeconfig", metavar="PATH", default=None,
                    help="spaces: check templates and workspaces against this live cluster ('auto': "
                         "KUBECONFIG, the in-cluster service account, then ~/.kube/config)")
    group.addoption("--smconform-list", dest="smconform_list", action="store_true", default=False,
                    help="print the profile's requirements (id, level, how, rule) and parameters; run nothing")
    group.addoption("--smconform-explain", dest="smconform_explain", metavar="ID", default=None,
                    help="print a requirement's rule, its source passage and how the suite checks it")
    group.addoption("--smconform-certify", dest="smconform_certify", metavar="DIR", default=None,
                    help="write a certification bundle there (reports, JUnit, image facts, logs, summary, "
                         "manifest); `smconform verify DIR` checks it")
    group.addoption("--smconform-rerun-failed", dest="smconform_rerun_failed", metavar="DIR", default=None,
                    help="re-run only what failed in that bundle, with its seed, against the same image id")
    parser.addini("smconform_profile", "default profile for --smconform", default=None)
    parser.addini("smconform_image", "default image", default=None)
    parser.addini("smconform_report", "default report path", default=None)
    parser.addini("smconform_level", "must or should", default=None)
    parser.addini("smconform_options", "KEY=VALUE profile parameter overrides", type="linelist", default=[])
    parser.addini("smconform_specs", "extra spec files", type="paths", default=[])


def _value(config: pytest.Config, option: str, ini: str) -> Any:
    given = config.getoption(option)
    return given if given not in (None, []) else config.getini(ini)


def _take_image_args(config: pytest.Config) -> list[str]:
    """Positional arguments that are image references, not paths: pytest must not collect them."""
    images = []
    for arg in list(config.args):
        if Path(arg).exists() or "::" in arg or not _IMAGE_REF.match(arg):
            continue
        images.append(arg)
        config.args.remove(arg)
    return images


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """--smconform-list / --smconform-explain print from the specs and exit: no engine, no run."""
    if not config.getoption("smconform_list") and config.getoption("smconform_explain") is None:
        return None
    from .certify.catalog import print_catalog
    from .errors import SmconformError
    from .settings import parse_option_pairs

    profile = _value(config, "smconform", "smconform_profile")
    try:
        return print_catalog(
            str(profile) if profile else None, config.getoption("smconform_explain"),
            parse_option_pairs(list(config.getini("smconform_options")) + list(config.getoption("smconform_option"))),
            [Path(p) for p in config.getini("smconform_specs")] + [Path(p) for p in config.getoption("smconform_spec")],
            Path(str(config.rootpath)))
    except SmconformError as exc:
        raise pytest.UsageError(f"smconform: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "smconform: a SageMaker conformance requirement")
    profile = _value(config, "smconform", "smconform_profile")
    rerun_from = config.getoption("smconform_rerun_failed")
    if not profile and not rerun_from:
        return
    from . import gc_tuning

    gc_tuning.install(config)
    gc_tuning.freeze_long_lived()  # pytest's modules and plugins; the suite's are frozen once collected
    from .errors import SmconformError
    from .session import SmconformSession, build_settings

    positional = _take_image_args(config)
    _hypothesis_storage_outside_cwd()
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        # No path was given: a conformance run collects its requirements, not `testpaths`.
        config.args[:] = []
    try:
        plan = None
        if rerun_from:
            from .certify.rerun import load_plan

            plan = load_plan(Path(rerun_from))
            profile = profile or plan.profile
        settings = build_settings(
            profile=str(profile),
            image=_value(config, "smconform_image", "smconform_image") or None,
            positional=positional,
            report=_value(config, "smconform_report", "smconform_report"),
            options=list(config.getini("smconform_options")) + list(config.getoption("smconform_option")),
            level=_value(config, "smconform_level", "smconform_level"),
            spec_files=[Path(p) for p in config.getini("smconform_specs")]
            + [Path(p) for p in config.getoption("smconform_spec")],
            container_config=config.getoption("smconform_container_config"),
            seed=config.getoption("smconform_seed"),
            rootdir=Path(str(config.rootpath)),
        )
        _profile_inputs(config, settings)
        _certify_inputs(config, settings)
        if plan is not None:
            from .certify.rerun import apply_plan

            apply_plan(plan, settings, config.getoption("smconform_seed"))
            if not settings.images:
                pytest.exit(f"smconform: nothing failed in {rerun_from}; nothing to re-run", returncode=0)
        session = SmconformSession(config, settings)
    except SmconformError as exc:
        _report_unusable_run(config, str(profile), positional, exc)
        raise pytest.UsageError(f"smconform: {exc}") from None
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "smconform-session")
    from .xdist_support import ControllerPlugin, is_controller

    if is_controller(config):
        config.pluginmanager.register(ControllerPlugin(session), "smconform-xdist-controller")


def _report_unusable_run(config: pytest.Config, profile: str, positional: list[str], exc: Exception) -> None:
    """The run could not start: the report, when one was asked for, still says so (incomplete)."""
    from .report import unusable_run_report, write_report

    path = _value(config, "smconform_report", "smconform_report")
    if not path:
        return
    image = _value(config, "smconform_image", "smconform_image") or (positional[0] if positional else None)
    with contextlib.suppress(OSError):  # the usage error itself is what the user must see
        write_report(Path(str(path)), unusable_run_report(profile, image, str(exc)))


def _profile_inputs(config: pytest.Config, settings: Any) -> None:
    from .errors import UsageError

    def existing(value: str | None, option: str) -> Path | None:
        if value is None:
            return None
        path = Path(value)
        if not path.is_file():
            raise UsageError(f"{option}: file not found: {value}")
        return path

    settings.app_image_config = existing(config.getoption("smconform_app_image_config"),
                                         "--smconform-app-image-config")
    if settings.app_image_config is not None:  # bad input is refused before anything starts
        from .platform.kernelgateway import read_app_image_config

        read_app_image_config(settings.app_image_config)
    settings.allow_engine_socket = bool(config.getoption("smconform_allow_engine_socket"))
    settings.docker_settings = existing(config.getoption("smconform_docker_settings"),
                                        "--smconform-docker-settings")
    settings.templates = [p for p in (existing(v, "--smconform-template")
                                      for v in config.getoption("smconform_template")) if p]
    settings.workspaces = [p for p in (existing(v, "--smconform-workspace")
                                       for v in config.getoption("smconform_workspace")) if p]
    prewarm = config.getoption("smconform_prewarm")
    settings.prewarm = [x.strip() for x in prewarm.split(",") if x.strip()] if prewarm else []
    kubeconfig = config.getoption("smconform_kubeconfig")
    settings.live = kubeconfig is not None
    settings.kubeconfig = None if kubeconfig in (None, "auto") else existing(kubeconfig, "--smconform-kubeconfig")
    if settings.live:
        from .live.connect import load

        load(settings.kubeconfig).api.close()  # an unreachable cluster is a usage error, before any test runs


def _certify_inputs(config: pytest.Config, settings: Any) -> None:
    certify = config.getoption("smconform_certify")
    if certify:
        from .certify.bundle import check_target

        settings.certify_dir = Path(certify)
        check_target(settings.certify_dir)


def _hypothesis_storage_outside_cwd() -> None:
    """Keep Hypothesis' storage (its unicode tables cost a second to rebuild) in a user cache.

    A conformance run is started from anywhere; without this, every new directory pays for
    the tables again and is left with a `.hypothesis/` folder. A user's own setting wins.
    """
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache_home / "pytest-smconform" / "hypothesis"))


def smconform_session(config: pytest.Config) -> SmconformSession | None:
    return config.stash.get(SESSION_KEY, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = smconform_session(config)
    if session is not None:
        session.close()
        config.pluginmanager.unregister(session)
        del config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    session = smconform_session(config)
    if session is None:
        return None
    return session.header()

