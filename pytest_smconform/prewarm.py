"""The image pre-warming DaemonSet of seed 003: one `sleep infinity` container per image, on every node.

    smconform-prewarm IMAGE [IMAGE ...] [--name image-preload-ds] [--namespace NS]

Prints the DaemonSet YAML; apply it with `kubectl apply -n NAMESPACE -f -`.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

import yaml

DEFAULT_NAME = "image-preload-ds"
APP_LABEL = "image-preloader"
# the seed's per-container budget: the container only sleeps
RESOURCES = {"requests": {"cpu": "1m", "memory": "16Mi"}, "limits": {"cpu": "5m", "memory": "32Mi"}}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IMAGE = re.compile(r"^[^\s@]+(@sha256:[0-9a-f]{64})?$")


class PrewarmError(ValueError):
    """An image reference or a name Kubernetes would refuse."""


def _tag_of(image: str) -> str:
    if "@" in image:
        return image.split("@sha256:", 1)[1][:12]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else last


def _label(text: str) -> str:
    label = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return label or "image"


def container_names(images: list[str]) -> list[str]:
    """`preloader-<version>` as in the seed (3.4.2-gpu -> preloader-3-4-2); longer when that would clash."""
    short = [_label(re.sub(r"-(cpu|gpu)$", "", _tag_of(i))) for i in images]
    full = [_label(_tag_of(i)) for i in images]
    names: list[str] = []
    for index, image in enumerate(images):
        base = short[index] if short.count(short[index]) == 1 else full[index]
        if full.count(base) > 1 or base in names:
            base = _label(f"{image.rsplit('/', 1)[-1]}-{index + 1}")
        name = f"preloader-{base}"[:63].rstrip("-")
        while name in names:
            name = f"{name[:60]}-{index + 1}"
        names.append(name)
    return names


def daemonset(images: list[str], name: str = DEFAULT_NAME, namespace: str | None = None) -> dict[str, Any]:
    if not images:
        raise PrewarmError("give at least one image")
    bad = [i for i in images if not _IMAGE.match(i)]
    if bad:
        raise PrewarmError(f"not an image reference: {', '.join(repr(b) for b in bad)}")
    if not _DNS_LABEL.match(name) or len(name) > 63:
        raise PrewarmError(f"{name!r} is not a valid DaemonSet name (lowercase letters, digits and '-')")
    if namespace is not None and (not _DNS_LABEL.match(namespace) or len(namespace) > 63):
        raise PrewarmError(f"{namespace!r} is not a valid namespace (lowercase letters, digits and '-')")
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    containers = [
        {"name": cname, "image": image, "command": ["sleep"], "args": ["infinity"],
         "resources": {k: dict(v) for k, v in RESOURCES.items()}}
        for cname, image in zip(container_names(images), images, strict=True)
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"app": APP_LABEL}},
            "template": {"metadata": {"labels": {"app": APP_LABEL}}, "spec": {"containers": containers}},
        },
    }


def daemonset_yaml(images: list[str], name: str = DEFAULT_NAME, namespace: str | None = None) -> str:
    return yaml.safe_dump(daemonset(images, name, namespace), sort_keys=False, default_flow_style=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="smconform-prewarm",
        description="Print the DaemonSet that pre-pulls images on every node (SageMaker Spaces on HyperPod/EKS).")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image references to pre-pull")
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"DaemonSet name (default {DEFAULT_NAME})")
    parser.add_argument("--namespace", default=None, help="metadata.namespace (default: kubectl's -n)")
    args = parser.parse_args(argv)
    images = [i.strip() for arg in args.images for i in arg.split(",") if i.strip()]
    try:
        text = daemonset_yaml(images, args.name, args.namespace)
    except PrewarmError as exc:
        print(f"smconform-prewarm: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
