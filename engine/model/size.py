"""Item size as DynamoDB computes it (capacity units, the 400 KB limit, 1 MB pages).

Rules (DynamoDB Developer Guide, "Item sizes and formats"): an item's size is the sum over its
attributes of the UTF-8 length of the name plus the size of the value, where
- S: UTF-8 length; B: byte length; N: about one byte per two significant digits plus one
  (leading and trailing zeros do not count; a negative number costs one more byte);
- BOOL and NULL: 1 byte;
- SS, NS, BS: the sum of the members' sizes;
- M and L: 3 bytes of overhead plus, per element, 1 byte plus the element's size (for M also the
  UTF-8 length of the element's name).
The limit is 400 KB = 409,600 bytes. Pure functions; thread-safe.

:func:`item_size` is native (csrc/itemcodec.c): it sizes the common shapes in C and hands any
other item to :func:`item_size_py`, the pure-Python specification below, which property tests
compare it with.
"""

from __future__ import annotations

from engine.codec.native_items import item_size
from engine.errors import ValidationException, msg_item_size_exceeded

__all__ = [
    "MAX_ITEM_SIZE_BYTES",
    "check_item_size",
    "item_size",
    "item_size_py",
    "number_size",
    "value_size",
]

MAX_ITEM_SIZE_BYTES = 400 * 1024


def number_size(text: str) -> int:
    """Size in bytes of a canonical number."""
    if text.isdigit():  # a non-negative integer (key values often are): no sign, no point
        return (len(text.strip("0")) + 1) // 2 + 1
    negative = text.startswith("-")
    digits = text.lstrip("-").replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1 + negative


def _utf8_len(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def value_size(value: dict) -> int:
    """Size in bytes of one normalised AttributeValue."""
    for tag, v in value.items():
        if tag == "S":
            return _utf8_len(v)
        if tag == "N":
            return number_size(v)
        if tag == "B":
            return len(v)
        if tag == "BOOL" or tag == "NULL":
            return 1
        if tag == "M":
            return 3 + sum(_utf8_len(k) + value_size(e) + 1 for k, e in v.items())
        if tag == "L":
            return 3 + sum(value_size(e) + 1 for e in v)
        if tag == "SS":
            return sum(_utf8_len(m) for m in v)
        if tag == "NS":
            return sum(number_size(m) for m in v)
        if tag == "BS":
            return sum(len(m) for m in v)
    return 0


def item_size_py(item: dict) -> int:
    """Size in bytes of a normalised item: attribute names plus values (the Python twin of
    :func:`item_size`)."""
    # Inlined for the common case (ASCII names, S values): Query and Scan size every item
    # they read, and this loop is most of their cost.
    total = 0
    for name, value in item.items():
        total += len(name) if name.isascii() else len(name.encode("utf-8", "surrogatepass"))
        s = value.get("S")
        if s is not None:
            total += len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))
        else:
            total += value_size(value)
    return total


def check_item_size(item: dict, message: str | None = None) -> int:
    """Return the item's size; raise ValidationException if it exceeds 400 KB.

    ``message`` overrides the default text (UpdateItem says "Item size to update has exceeded
    the maximum allowed size").
    """
    size = item_size(item)
    if size > MAX_ITEM_SIZE_BYTES:
        raise ValidationException(message or msg_item_size_exceeded())
    return size
