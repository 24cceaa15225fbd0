"""The item codec: a whole item as the bytes of one storage value.

Format 1 (DO NOT CHANGE: on disk) is a documented subset of CPython's ``marshal`` version 4
stream, written and read by ``marshal`` (C speed: decoding a typical item is faster than
``orjson.loads`` of its wire JSON and than ``msgpack.unpackb``). The item is stored in boto3's
low-level shape, normalised (canonical number text, validated sets), so decoding returns exactly
what a GetItem answers. Only these marshal codes occur (``| 0x80`` marks a back-referenceable
object; ``r`` refers back to the n-th such object, u32 LE):

```
item   := dict
dict   := '{' (str value)* '0'
value  := dict | list | str | bytes | 'T' | 'F' | ref
list   := '[' count: u32 LE  value*                 (L members, SS/NS/BS members)
str    := ('z'|'Z') len: u8 ascii | ('a'|'A') len: u32 LE ascii
        | ('u'|'t') len: u32 LE utf-8 (surrogatepass)
bytes  := 's' len: u32 LE raw
ref    := 'r' index: u32 LE
```

Python values map as: dict -> AttributeValue or M member map, list -> L or set members, True /
False -> BOOL and NULL flags. The first byte of a format-1 value is always ``{`` or ``{|0x80``
(0x7B/0xFB); a future format starts with a byte below 0x20, so the version costs no byte.
Encoding is not canonical bytes (back-references depend on object identity): compare decoded
items, never encoded bytes. :func:`decode_item_reference` is an independent pure-Python reader of
the grammar above, used by tests so that the format never silently depends on more of marshal.
"""

from __future__ import annotations

import marshal
import struct

from engine.errors import InternalServerError

__all__ = ["decode_item", "decode_item_reference", "encode_item"]

_MARSHAL_VERSION = 4
_FORMAT1_FIRST = (0x7B, 0xFB)
_dumps = marshal.dumps
_loads = marshal.loads


def encode_item(item: dict) -> bytes:
    """Encode a normalised item (see engine.model.values) as format-1 bytes."""
    return _dumps(item, _MARSHAL_VERSION)


def decode_item(data: bytes) -> dict:
    """Decode bytes written by :func:`encode_item`.

    Raises InternalServerError if the bytes are not a format-1 item (corruption is an internal
    error, never a client's).
    """
    try:
        if data[0] in _FORMAT1_FIRST:
            item = _loads(data)
            if type(item) is dict:
                return item
    except (EOFError, ValueError, TypeError, IndexError):
        pass
    raise InternalServerError("Item codec: not a format-1 item")


_U32 = struct.Struct("<I")


def decode_item_reference(data: bytes) -> dict:
    """Pure-Python reader of format 1 (the grammar in the module docstring)."""
    refs: list = []
    pos = 0

    def read() -> object:
        nonlocal pos
        code = data[pos]
        pos += 1
        flag = code & 0x80
        code &= 0x7F
        slot = -1
        if flag:
            slot = len(refs)
            refs.append(None)
        c = chr(code)
        if c == "{":
            out: object = {}
            if flag:
                refs[slot] = out
            while data[pos] != ord("0"):
                k = read()
                out[k] = read()  # type: ignore[index]
            pos += 1
            return out
        if c == "[":
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            lst: list = []
            if flag:
                refs[slot] = lst
            for _ in range(n):
                lst.append(read())
            return lst
        if c in "zZ":
            n = data[pos]
            pos += 1
            out = data[pos : pos + n].decode("ascii")
        elif c in "aAut":
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            raw = data[pos : pos + n]
            out = raw.decode("ascii") if c in "aA" else raw.decode("utf-8", "surrogatepass")
        elif c == "s":
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            out = bytes(data[pos : pos + n])
        elif c == "T":
            out = True
        elif c == "F":
            out = False
        elif c == "r":
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            return refs[n]
        else:
            raise InternalServerError(f"Item codec: unexpected code {code:#x} at {pos - 1}")
        if c not in "TF":
            pos += n
        if flag:
            refs[slot] = out
        return out

    item = read()
    if pos != len(data) or type(item) is not dict:
        raise InternalServerError("Item codec: trailing bytes or not an item")
    return item
