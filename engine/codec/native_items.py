"""The native half of the model layer's hot paths (csrc/itemcodec.c).

The entry points are real CPython functions written in C, fetched once from
``shale_item_functions()``: calling them does not go through cffi. Their contracts, and the
pure-Python twins that specify them, are in engine/model (itemcodec.py, values.py, size.py),
which is the only user of this module and calls ``configure`` once at import with the Python
twins the C code hands its slow paths to. They hold the GIL and are thread-safe.
"""

from __future__ import annotations

from engine._native import lib
from engine.codec.capi import python_functions

__all__ = [
    "configure",
    "decode_item",
    "decode_page",
    "decode_value",
    "encode_item",
    "encode_value",
    "item_size",
    "validate_item",
    "validate_sized_item",
]


(
    configure,  # (error class, validate_value, validate_item twin, item_size twin) -> None
    encode_item,  # (item) -> bytes
    decode_item,  # (data[, pos]) -> item
    encode_value,  # (item, size) -> size u32 LE | item
    decode_value,  # (base value) -> (item, size)
    validate_item,  # (item) -> normalised item
    item_size,  # (normalised item) -> int
    validate_sized_item,  # (item) -> (normalised item, size)
    decode_page,  # (rows, limit, max_bytes, accept, keep) -> (items, count, scanned, size, k, v)
) = python_functions(lib.shale_item_functions, "item")
