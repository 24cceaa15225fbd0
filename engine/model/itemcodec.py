"""The item codec: a whole item as the bytes of one storage value.

Format 1 (DO NOT CHANGE: on disk). Lengths and counts are unsigned LEB128 varints; strings are
UTF-8 (lone surrogates written as by Python's "surrogatepass"); numbers are their canonical text.

```
item   := 0x01 (format) | map
map    := count: varint | (name: str | value)*
str    := len: varint | bytes
value  := 0x01 str (S) | 0x02 str (N) | 0x03 str (B) | 0x04 (BOOL false) | 0x05 (BOOL true)
        | 0x06 (NULL) | 0x07 count str* (SS) | 0x08 count str* (NS) | 0x09 count str* (BS)
        | 0x0A count value* (L) | 0x0B map (M)
```

Worked example: ``{"a": {"N": "1"}}`` encodes as ``01 01 01 61 02 01 31``.

Items are stored normalised (engine.model.values), so decoding returns exactly what GetItem
answers. Encoding is canonical for a given dict (attribute order is kept), but compare decoded
items, not bytes, to decide whether a write changed anything.

The functions here are the pure-Python twin, which specifies the format; :func:`encode_item`,
:func:`decode_item` and the table base value pair :func:`encode_sized_item` /
:func:`decode_sized_item` (docs/FORMAT.md "Table base value": ``size: u32 LE | item``) are the
native implementation in csrc/itemcodec.c (CPython API, so decoding a typical item is faster
than ``orjson.loads`` of its wire JSON), and property tests check that both agree byte for
byte. Importing this module hands the C code the Python twins its slow paths call
(validation and sizing of uncommon shapes). Thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engine.codec import native_items as _c
from engine.errors import InternalServerError
from engine.model.size import item_size_py
from engine.model.values import validate_item_py, validate_value

__all__ = [
    "FORMAT",
    "decode_item",
    "decode_item_py",
    "decode_page",
    "decode_page_py",
    "decode_sized_item",
    "encode_item",
    "encode_item_py",
    "encode_sized_item",
]

FORMAT = 1
_TAGS = {"S": 1, "N": 2, "B": 3, "SS": 7, "NS": 8, "BS": 9, "L": 10, "M": 11}
_NAMES = {v: k for k, v in _TAGS.items()}

_c.configure(InternalServerError, validate_value, validate_item_py, item_size_py)

#: ``encode_item(item) -> bytes``: a normalised item as format-1 bytes. Raises TypeError if
#: ``item`` is not a normalised item in boto3's low-level shape.
encode_item = _c.encode_item

#: ``decode_item(data, pos=0) -> dict``: the item whose encoding is ``data[pos:]`` (to the end;
#: ``pos`` saves slicing a prefix off). Raises InternalServerError if it is not an item.
decode_item = _c.decode_item

#: ``encode_sized_item(item, size) -> bytes``: ``size: u32 LE | encode_item(item)``, in one
#: allocation (a table base value).
encode_sized_item = _c.encode_value

#: ``decode_sized_item(data) -> (item, size)``: the inverse of :func:`encode_sized_item`.
#: Raises InternalServerError if ``data`` is not one.
decode_sized_item = _c.decode_value

#: ``decode_page(rows, limit, max_bytes, accept, keep_items) -> (items, count, scanned, size,
#: last_key, last_value)``: one page of a table read over ``rows``, an iterator of (key, table
#: base value). Each row's item is decoded and counted as scanned, its stored size added; it is
#: counted (and kept in ``items`` when ``keep_items``) if ``accept`` is None or
#: ``accept(item)`` is true. Reading stops after ``limit`` scanned rows (None: no limit) or
#: once the sizes reach ``max_bytes``; the last row read is then returned as ``last_key,
#: last_value`` (both None when the rows ran out). Raises InternalServerError on a value that
#: is not an item, and whatever ``accept`` raises. :func:`decode_page_py` specifies it.
decode_page = _c.decode_page


def decode_page_py(
    rows: Iterable[tuple[bytes, bytes]],
    limit: int | None,
    max_bytes: int,
    accept: Callable[[dict], object] | None,
    keep_items: bool,
) -> tuple[list[dict], int, int, int, bytes | None, bytes | None]:
    """Pure-Python twin of :func:`decode_page`."""
    items: list = []
    count = scanned = size = 0
    for key, data in rows:
        item = decode_item_py(data[4:]) if len(data) >= 4 else decode_item_py(b"")
        scanned += 1
        size += int.from_bytes(data[:4], "little")
        if accept is None or accept(item):
            count += 1
            if keep_items:
                items.append(item)
        if scanned == limit or size >= max_bytes:
            return items, count, scanned, size, key, data
    return items, count, scanned, size, None, None


# --- the pure-Python twin ------------------------------------------------------------------------


def _varint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _str(out: bytearray, s: str | bytes) -> None:
    raw = s if isinstance(s, bytes) else s.encode("utf-8", "surrogatepass")
    _varint(out, len(raw))
    out += raw


def _enc_map(out: bytearray, m: dict) -> None:
    _varint(out, len(m))
    for name, value in m.items():
        _str(out, name)
        _enc_value(out, value)


def _enc_value(out: bytearray, value: dict) -> None:
    ((tag, v),) = value.items()
    if tag == "BOOL":
        out.append(5 if v else 4)
    elif tag == "NULL":
        out.append(6)
    elif tag in ("S", "N", "B"):
        out.append(_TAGS[tag])
        _str(out, v)
    elif tag in ("SS", "NS", "BS"):
        out.append(_TAGS[tag])
        _varint(out, len(v))
        for m in v:
            _str(out, m)
    elif tag == "L":
        out.append(10)
        _varint(out, len(v))
        for e in v:
            _enc_value(out, e)
    elif tag == "M":
        out.append(11)
        _enc_map(out, v)
    else:
        raise TypeError(f"item codec: bad type tag {tag!r}")


def encode_item_py(item: dict) -> bytes:
    """Pure-Python twin of :func:`encode_item`."""
    out = bytearray([FORMAT])
    _enc_map(out, item)
    return bytes(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varint(self) -> int:
        n = shift = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7

    def raw(self) -> bytes:
        n = self.varint()
        start = self.pos
        self.pos += n
        if self.pos > len(self.data):
            raise IndexError
        return bytes(self.data[start : self.pos])

    def str(self) -> str:
        return self.raw().decode("utf-8", "surrogatepass")

    def map(self) -> dict:
        return {self.str(): self.value() for _ in range(self.varint())}

    def value(self) -> dict:
        tag = self.data[self.pos]
        self.pos += 1
        if tag == 4 or tag == 5:
            return {"BOOL": tag == 5}
        if tag == 6:
            return {"NULL": True}
        name = _NAMES.get(tag)
        if name is None:
            raise ValueError(f"bad tag {tag}")
        if tag in (1, 2):
            return {name: self.str()}
        if tag == 3:
            return {name: self.raw()}
        if tag in (7, 8):
            return {name: [self.str() for _ in range(self.varint())]}
        if tag == 9:
            return {name: [self.raw() for _ in range(self.varint())]}
        if tag == 10:
            return {name: [self.value() for _ in range(self.varint())]}
        return {name: self.map()}


def decode_item_py(data: bytes) -> dict:
    """Pure-Python twin of :func:`decode_item`."""
    r = _Reader(data)
    try:
        if not data or data[0] != FORMAT:
            raise ValueError("not a format-1 item")
        r.pos = 1
        item = r.map()
        if r.pos != len(data):
            raise ValueError("trailing bytes")
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise InternalServerError(f"item codec: {exc}") from None
    return item
