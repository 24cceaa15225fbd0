"""Equality and ordering of normalised AttributeValues, as DynamoDB defines them.

- Equality (``=``, ``<>``, ``IN``, ``contains`` on sets and lists): values of different types are
  never equal; N compares numerically (canonical text makes this a string compare); sets compare
  as sets (member order is irrelevant); L and M compare element-wise.
- Ordering (``<``, ``<=``, ``>``, ``>=``, BETWEEN): defined only between two S (by UTF-8 bytes,
  i.e. by code point), two N (numerically) or two B (unsigned bytes). Any other pair is
  incomparable: :func:`compare_values` returns None and the comparison is false.
Pure functions; thread-safe.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["compare_values", "values_equal"]


def values_equal(a: dict, b: dict) -> bool:
    """DynamoDB equality of two normalised values."""
    ((ta, va),) = a.items()
    ((tb, vb),) = b.items()
    if ta != tb:
        return False
    if ta in ("SS", "NS", "BS"):
        return len(va) == len(vb) and set(va) == set(vb)
    if ta == "L":
        return len(va) == len(vb) and all(values_equal(x, y) for x, y in zip(va, vb, strict=True))
    if ta == "M":
        return va.keys() == vb.keys() and all(values_equal(va[k], vb[k]) for k in va)
    return va == vb


def compare_values(a: dict, b: dict) -> int | None:
    """-1, 0 or 1 for two S, two N or two B values; None for any other pair."""
    ((ta, va),) = a.items()
    ((tb, vb),) = b.items()
    if ta != tb:
        return None
    if ta == "S":
        # Python compares str by code point, which is UTF-8 byte order for valid strings.
        return (va > vb) - (va < vb)
    if ta == "N":
        if va == vb:
            return 0
        da, db = Decimal(va), Decimal(vb)
        return (da > db) - (da < db)
    if ta == "B":
        return (va > vb) - (va < vb)
    return None
