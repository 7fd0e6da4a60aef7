"""Kubernetes resource quantities as exact decimals (what `Quantity.Cmp` compares)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext

# The pattern the CRDs put on every quantity field (int-or-string).
QUANTITY_PATTERN = (r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
                    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
_QUANTITY = re.compile(QUANTITY_PATTERN)
_NUMBER = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """The exact value of `value` (an int or a quantity string such as `500m`, `4Gi`, `1e3`)."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi, 10G)")
    match = _NUMBER.match(value)
    assert match is not None
    number, suffix = match.group(1), match.group(2)
    with localcontext() as ctx:
        ctx.prec = 100
        try:
            base = Decimal(number)
        except InvalidOperation:
            raise QuantityError(f"{value!r} is not a Kubernetes quantity") from None
        if suffix in _BINARY:
            return base * (Decimal(1024) ** _BINARY[suffix])
        if suffix in _DECIMAL:
            return base.scaleb(_DECIMAL[suffix])
        exponent = int(Decimal(suffix[1:]))  # e/E exponent form
        return base.scaleb(exponent)


def is_quantity(value: object) -> bool:
    try:
        parse_quantity(value)
    except QuantityError:
        return False
    return True


def show(value: object) -> str:
    """A quantity as the document wrote it (strings unquoted)."""
    return str(value)
