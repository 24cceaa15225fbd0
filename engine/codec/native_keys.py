"""Native key encoding (csrc/keycodec.c).

Names, results and exceptions are identical to the pure-Python twin in engine/codec/keys.py,
which specifies the key format; property tests check that both agree byte for byte. Arguments
are positional. (The item codec is csrc/itemcodec.c, reached through engine.codec.native_items.)

The hot entry points (``encode_key_value``, ``encode_primary_key`` and ``decode_key_value``)
are real CPython functions written in C, fetched once from
``shale_codec_functions()``: calling them does not go through cffi, which is what keeps a key
encode well under a microsecond. They hold the GIL (they run for well under a microsecond) and
are thread-safe. ``partition_hash`` goes through cffi.
"""

from __future__ import annotations

from engine._native import lib
from engine.codec.capi import python_functions

__all__ = [
    "decode_key_value",
    "decode_key_values",
    "decode_primary_key",
    "encode_key_value",
    "encode_key_values",
    "encode_primary_key",
    "hash_prefix",
    "index_entries",
    "index_keys_plausible",
    "partition_hash",
    "table_key",
]

_hash = lib.shale_key_hash


(
    encode_key_value,  # (tag, value) -> bytes
    encode_primary_key,  # (pk_tag, pk[, sk_tag, sk]) -> bytes; sk_tag None: no sort key
    decode_key_value,  # (tag, data[, pos]) -> (value, end)
    # (plan, item, skey, value, whole, ops, changes) -> entries staged: for each (index name,
    # keyspace, hash attribute, hash tag, range attribute or None, range tag or None) of
    # plan whose key the item holds, ops[(keyspace, encode_primary_key(..) + skey)] = value
    # and changes[index name] = whole (engine.index.hook's new-item path)
    index_entries,
    # (checks, item) -> bool: False if an attribute of some (attribute, tag, ...) in checks
    # is held by item but not as a non-empty value of that tag (engine.index's key check)
    index_keys_plausible,
    # (attributes, hash key, range key or None, item) -> bytes | None: the storage key when
    # the item's key attributes are plainly valid, else None (engine.table's storage_key)
    table_key,
) = python_functions(lib.shale_codec_functions, "codec")


def encode_key_values(values: list[tuple[str, str | bytes]]) -> bytes:
    """Concatenated encodings of (tag, value) pairs (no hash prefix)."""
    return b"".join([encode_key_value(t, v) for t, v in values])


def decode_key_values(tags: list[str], data: bytes, pos: int = 0) -> list[str | bytes]:
    """Decode consecutive values of the given types; the data must be consumed exactly."""
    out = []
    for tag in tags:
        value, pos = decode_key_value(tag, data, pos)
        out.append(value)
    if pos != len(data):
        raise ValueError("trailing bytes after key")
    return out


def partition_hash(encoded_partition_key: bytes) -> int:
    """32-bit hash of an encoded partition key (fmix32 of zlib's CRC-32)."""
    return _hash(encoded_partition_key, len(encoded_partition_key))


def hash_prefix(encoded_partition_key: bytes) -> bytes:
    """The 4-byte big-endian hash prefix of a partition."""
    return _hash(encoded_partition_key, len(encoded_partition_key)).to_bytes(4, "big")


def decode_primary_key(
    data: bytes, pk_tag: str, sk_tag: str | None = None
) -> tuple[str | bytes, str | bytes | None]:
    """Inverse of :func:`encode_primary_key` (the hash prefix is checked)."""
    pk, pos = decode_key_value(pk_tag, data, 4)
    if len(data) < 4 or _hash(data[4:pos], pos - 4).to_bytes(4, "big") != data[:4]:
        raise ValueError("hash prefix does not match the partition key")
    sk = None
    if sk_tag is not None:
        sk, pos = decode_key_value(sk_tag, data, pos)
    if pos != len(data):
        raise ValueError("trailing bytes after key")
    return pk, sk
