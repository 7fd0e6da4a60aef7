"""Reach the user's cluster: --smconform-kubeconfig, then KUBECONFIG, then in-cluster, then ~/.kube/config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SmconformError, UsageError


class ClusterError(SmconformError):
    """The cluster cannot be reached, or refused an operation the live mode needs."""


@dataclass
class Cluster:
    api: Any  # kubernetes.client.ApiClient
    server: str
    source: str  # where the configuration came from
    version: str  # the apiserver's gitVersion


def _client_module() -> Any:
    try:
        import kubernetes
    except ImportError:
        raise UsageError("the live mode needs the kubernetes client: pip install 'pytest-smconform[cluster]'") from None
    return kubernetes


def load(kubeconfig: Path | None, timeout: float = 10.0) -> Cluster:
    """An ApiClient for the first configuration found; a clear error when there is none or it is unreachable."""
    kubernetes = _client_module()
    config = kubernetes.client.Configuration()
    env = os.environ.get("KUBECONFIG")
    try:
        if kubeconfig is not None:
            kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=config)
            source = f"--smconform-kubeconfig {kubeconfig}"
        elif env:
            kubernetes.config.load_kube_config(config_file=env.split(os.pathsep)[0], client_configuration=config)
            source = f"KUBECONFIG {env}"
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            kubernetes.config.load_incluster_config(client_configuration=config)
            source = "in-cluster service account"
        else:
            default = Path.home() / ".kube" / "config"
            if not default.is_file():
                raise UsageError("no cluster configuration: give --smconform-kubeconfig=PATH or set KUBECONFIG")
            kubernetes.config.load_kube_config(config_file=str(default), client_configuration=config)
            source = str(default)
    except (kubernetes.config.ConfigException, OSError, ValueError, TypeError) as exc:
        raise UsageError(f"cannot use the cluster configuration: {exc}") from None
    api = kubernetes.client.ApiClient(config)
    try:
        info = kubernetes.client.VersionApi(api).get_code(_request_timeout=timeout)
    except kubernetes.client.ApiException as exc:
        api.close()
        raise ClusterError(f"the cluster at {config.host} answered {exc.status} {exc.reason} to /version") from None
    except Exception as exc:  # urllib3 raises many kinds for refused, reset, TLS and DNS failures
        api.close()
        reason = getattr(exc, "reason", None) or exc
        raise ClusterError(f"cannot reach the cluster at {config.host} ({source}): {reason}") from None
    return Cluster(api=api, server=str(config.host), source=source, version=str(info.git_version))
