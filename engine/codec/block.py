"""Point lookup inside one decompressed SSTable data block: native and twin.

`block_get(block, key, seqno)` finds the newest version of `key` with seqno <= `seqno`
and returns -1 when the block has none, -2 when the block is malformed, otherwise
`(value_offset << 32) | (value_length << 1) | is_value` with value_offset absolute in
the block (is_value 0 means the version is a tombstone). The block layout is
docs/FORMAT.md "Data block". `py_block_get` is the pure-Python twin used as the oracle.
"""

import struct
from bisect import bisect_left

from engine._native import lib

_native_block_get = lib.shale_block_get


def block_get(block: bytes, key: bytes, seqno: int) -> int:
    """Native lookup; `block` and `key` must be bytes."""
    return _native_block_get(block, len(block), key, len(key), seqno)


def py_block_get(block: bytes, key: bytes, seqno: int) -> int:
    """Twin of block_get with identical results (including -2 for malformed blocks)."""
    try:
        (count,) = struct.unpack_from("<I", block, 0)
        koffs = struct.unpack_from(f"<{count + 1}I", block, 8)
        voffs_at = 8 + 4 * (count + 1)
        voffs = struct.unpack_from(f"<{count + 1}I", block, voffs_at)
        trailers_at = voffs_at + 4 * (count + 1)
        trailers = struct.unpack_from(f"<{count}Q", block, trailers_at)
    except struct.error:
        return -2
    keys_at = trailers_at + 8 * count
    key_area = koffs[count]
    values_at = keys_at + key_area
    if values_at > len(block):
        return -2
    keys = []
    for a, b in zip(koffs, koffs[1:]):
        if b < a or b > key_area:
            return -2
        keys.append(block[keys_at + a : keys_at + b])
    i = bisect_left(keys, key)
    while i < count and keys[i] == key:
        trailer = trailers[i]
        if trailer >> 8 <= seqno:
            va, vb = voffs[i], voffs[i + 1]
            if vb < va or values_at + vb > len(block):
                return -2
            return ((values_at + va) << 32) | ((vb - va) << 1) | (1 if trailer & 0xFF else 0)
        i += 1
    return -1
