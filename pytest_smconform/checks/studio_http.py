"""Run checks over HTTP against the app, the way the platform's HostAgent and browser reach it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from ..verdicts import Blocked, ContractViolation
from . import check_kind
from .judge import cors_allows
from .launched import shared_launch

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import Requirement

FOREIGN_ORIGIN = "https://smconform-origin.example"


# A busy host can stall a first request for seconds: a slow answer is retried, longer each time,
# before "no answer" becomes a verdict.
ATTEMPT_TIMEOUTS = (10.0, 20.0, 30.0)
# A connection the engine's NAT drops (a stale conntrack entry of a just-removed container's
# port: seen as a rare 10 s stall right after other containers were removed) is retried from a
# new source port after this, instead of after the whole read timeout.
CONNECT_TIMEOUT = 3.0


def _get(launch: Launch, port: int, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    error: requests.RequestException | None = None
    for timeout in ATTEMPT_TIMEOUTS:
        try:
            return requests.get(launch.url(port, path), headers=headers or {},
                                timeout=(min(CONNECT_TIMEOUT, timeout), timeout), allow_redirects=False)
        except requests.RequestException as exc:
            error = exc
    raise ContractViolation(f"an HTTP answer from GET {path}",
                            f"no answer in {len(ATTEMPT_TIMEOUTS)} tries: {type(error).__name__}",
                            launch_name=launch.plan.name)


def _describe(response: requests.Response) -> str:
    where = response.headers.get("Location")
    return f"{response.status_code}" + (f" redirecting to {where}" if where else "")


@check_kind("served-under-base-url")
def served_under_base_url(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    port, base = int(params["port"]), str(params["base_url"]).rstrip("/")
    launch = shared_launch(ctx, req, allow_unready=True)
    response = _get(launch, port, f"{base}/api")
    if response.status_code == 200 and "version" in response.text:
        return f"GET {base}/api answered 200 ({response.text.strip()[:60]})"
    root = _get(launch, port, "/api")
    hint = " (it is served at /: GET /api answered 200)" if root.status_code == 200 else ""
    raise ContractViolation(f"the app served under {base} (GET {base}/api answers 200)",
                            f"GET {base}/api answered {_describe(response)}{hint}", launch_name=req.launch)


@check_kind("health-endpoint")
def health_endpoint(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    path, timeout = str(params["path"]), float(params["timeout"])
    launch = shared_launch(ctx, req, allow_unready=True)
    if launch.ready_at is None:
        raise ContractViolation(f"GET {path} answers 200 within {timeout:g} s", str(launch.ready_error),
                                launch_name=req.launch)
    return f"GET {path} answered 200 after {launch.time_to_ready:.2f} s"


@check_kind("auth-disabled")
def auth_disabled(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    port, base = int(params["port"]), str(params["base_url"]).rstrip("/")
    launch = shared_launch(ctx, req, allow_unready=True)
    refused, answered = [], []
    for path in params["paths"]:
        response = _get(launch, port, f"{base}{path}")
        answered.append(f"{path} {response.status_code}")
        # Only a refusal is evidence of authentication: 401/403, or a redirect (to a login page).
        if response.status_code in (401, 403) or 300 <= response.status_code < 400:
            refused.append(f"GET {base}{path} -> {_describe(response)}")
    if refused:
        raise ContractViolation("authenticated-only endpoints answer 200 with no token or password",
                                "; ".join(refused) + " (token or password authentication is on)",
                                launch_name=req.launch)
    if not any(a.endswith(" 200") for a in answered):
        raise Blocked(f"no authenticated-only endpoint answered at all ({', '.join(answered)})")
    return f"no credentials asked: {', '.join(answered)}"


@check_kind("cors-all-origins")
def cors_all_origins(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    port, path = int(params["port"]), str(params["path"])
    launch = shared_launch(ctx, req, allow_unready=True)
    response = _get(launch, port, path, {"Origin": FOREIGN_ORIGIN})
    header = response.headers.get("Access-Control-Allow-Origin")
    if response.status_code >= 400 or not cors_allows(header, FOREIGN_ORIGIN):
        raise ContractViolation(
            f"a request with Origin {FOREIGN_ORIGIN} answered with Access-Control-Allow-Origin: *",
            f"status {response.status_code}, Access-Control-Allow-Origin: {header or '(absent)'}",
            launch_name=req.launch)
    return f"Origin {FOREIGN_ORIGIN} -> {response.status_code}, Access-Control-Allow-Origin: {header}"
