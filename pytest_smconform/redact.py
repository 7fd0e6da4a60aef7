"""Secrets never reach a report, a reproduce line, a failure text or a log tail.

A value is secret when the variable that carries it has a secret-looking name (PASSWORD,
TOKEN, SECRET, API_KEY, ...). Every environment the suite hands a container is remembered
here, and every text it shows is passed through `redact`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "****"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words ("true", "1234")
_SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|"
    r"SESSION_?KEY|(^|_)KEY$|(^|_)PASS$|(^|_)PWD$)",
    re.IGNORECASE)

_lock = threading.Lock()
_values: set[str] = set()


# Names of locations, not of secrets (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is a path).
_LOCATION = re.compile(r"_(URI|URL|PATH|FILE|DIR|ENDPOINT|HOST|PORT)$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _LOCATION.search(name)


def remember(env: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
    """Note the values of the secret-named variables of `env`: from now on they are masked."""
    pairs = env.items() if isinstance(env, Mapping) else env
    found = {str(v) for k, v in pairs if is_secret_name(str(k)) and len(str(v)) >= MIN_SECRET_LENGTH}
    if found:
        with _lock:
            _values.update(found)


def shown_value(name: str, value: str) -> str:
    """How a variable's value may be shown (e.g. in a `docker run -e` line)."""
    return MASK if is_secret_name(name) and value else redact(value)


def redact(text: str) -> str:
    with _lock:
        values = sorted(_values, key=len, reverse=True)  # longest first: no partial leftovers
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_tree(data: Any) -> Any:
    """A JSON-like structure with every string redacted."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {key: redact_tree(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [redact_tree(value) for value in data]
    return data


def forget_all() -> None:
    """For tests: start from an empty book."""
    with _lock:
        _values.clear()
