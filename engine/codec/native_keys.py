"""Native key encoding (thin cffi wrappers over csrc/keycodec.c) and the native item codec.

Names, signatures, results and exceptions are identical to the pure-Python twin in
engine/codec/keys.py, which specifies the byte format. Output goes through one scratch buffer
per thread, so a call allocates only its result. The native calls run for well under a
microsecond and do not release the GIL.
"""

from __future__ import annotations

import ctypes
import threading

from engine._native import ffi, lib

__all__ = [
    "decode_key_value",
    "decode_key_values",
    "decode_primary_key",
    "encode_key_value",
    "encode_key_values",
    "encode_primary_key",
    "hash_prefix",
    "native_decode_item",
    "native_encode_item",
    "partition_hash",
]

_NUMBER_MAX = lib.SHALE_KEY_NUMBER_MAX
_TEXT_MAX = lib.SHALE_KEY_NUMBER_TEXT_MAX
_TAGS = {"S": ord("S"), "N": ord("N"), "B": ord("B")}
_enc_bytes = lib.shale_key_encode_bytes
_enc_number = lib.shale_key_encode_number
_dec_bytes = lib.shale_key_decode_bytes
_dec_number = lib.shale_key_decode_number
_hash = lib.shale_key_hash
_enc_primary = lib.shale_key_encode_primary
_buffer = ffi.buffer
_from_buffer = ffi.from_buffer
_new = ffi.new


class _Scratch(threading.local):
    def __init__(self) -> None:
        self.size = 4096  # the buffer never shrinks below 4096 bytes
        self.buf = _new("uint8_t[]", self.size)
        self.text = _new("char[]", _TEXT_MAX)
        self.out_len = _new("size_t *")


_scratch = _Scratch()


def _out(need: int):
    s = _scratch
    if need > s.size:
        s.size = max(need, 2 * s.size)
        s.buf = _new("uint8_t[]", s.size)
    return s.buf


def _raw(tag: str, value: str | bytes) -> bytes:
    if tag == "S":
        return value.encode("utf-8", "surrogatepass")  # type: ignore[union-attr]
    if tag == "N":
        return value.encode("ascii")  # type: ignore[union-attr]
    if tag == "B":
        return value  # type: ignore[return-value]
    raise ValueError(f"not a key type: {tag!r}")


def encode_key_value(tag: str, value: str | bytes) -> bytes:
    """Encode one key value; ``tag`` is "S", "N" or "B" and numbers are canonical text."""
    raw = _raw(tag, value)
    if tag == "N":
        out = _out(_NUMBER_MAX)
        n = _enc_number(raw, len(raw), out)
        if n < 0:
            raise ValueError(f"not a canonical DynamoDB number: {value!r}")
        return _buffer(out, n)[:]
    out = _out(2 * len(raw) + 2)
    return _buffer(out, _enc_bytes(raw, len(raw), out))[:]


def decode_key_value(tag: str, data: bytes, pos: int = 0) -> tuple[str | bytes, int]:
    """Decode one key value of type ``tag`` at ``pos``; return (value, position after it)."""
    view = _from_buffer(data) + pos
    avail = len(data) - pos
    s = _scratch
    if tag == "N":
        used = _dec_number(view, avail, s.text, s.out_len)
        if used < 0:
            raise ValueError(f"bad number in key at offset {pos}")
        return _buffer(s.text, s.out_len[0])[:].decode("ascii"), pos + used
    if tag not in ("S", "B"):
        raise ValueError(f"not a key type: {tag!r}")
    out = _out(max(avail, 1))
    used = _dec_bytes(view, avail, out, s.out_len)
    if used < 0:
        raise ValueError(f"bad escape in key at offset {pos}")
    raw = _buffer(out, s.out_len[0])[:]
    return (raw.decode("utf-8", "surrogatepass") if tag == "S" else raw), pos + used


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


def encode_primary_key(
    pk_tag: str, pk: str | bytes, sk_tag: str | None = None, sk: str | bytes | None = None
) -> bytes:
    """hash prefix | enc(partition key) [| enc(sort key)]: a table's (or index's) storage key."""
    a = pk.encode("utf-8", "surrogatepass") if pk_tag != "B" else pk  # type: ignore[union-attr]
    if sk_tag is None:
        b = b""
        t = 0
    else:
        b = sk.encode("utf-8", "surrogatepass") if sk_tag != "B" else sk  # type: ignore[union-attr]
        t = _TAGS.get(sk_tag, -1)
    need = 2 * (len(a) + len(b)) + 8 + _NUMBER_MAX
    out = _scratch.buf if need <= 4096 else _new("uint8_t[]", need)
    n = _enc_primary(_TAGS.get(pk_tag, -1), a, len(a), t, b, len(b), out)
    if n < 0:
        raise ValueError("bad key type or not a canonical DynamoDB number in key")
    return _buffer(out, n)[:]


def decode_primary_key(
    data: bytes, pk_tag: str, sk_tag: str | None = None
) -> tuple[str | bytes, str | bytes | None]:
    """Inverse of :func:`encode_primary_key` (the hash prefix is checked)."""
    pk, pos = decode_key_value(pk_tag, data, 4)
    if hash_prefix(data[4:pos]) != data[:4]:
        raise ValueError("hash prefix does not match the partition key")
    sk = None
    if sk_tag is not None:
        sk, pos = decode_key_value(sk_tag, data, pos)
    if pos != len(data):
        raise ValueError("trailing bytes after key")
    return pk, sk


# --- The item codec's native half (csrc/keycodec.c; specification: engine/model/itemcodec.py).
# The C side hands out two real CPython functions; they are fetched once here, so item encode
# and decode calls do not go through cffi at all.


def _fetch_item_codec() -> tuple:
    ptr = lib.shale_item_codec_functions()
    if ptr == ffi.NULL:
        raise ImportError("engine._native: the item codec failed to initialise")
    # The C side returned a new reference that is deliberately kept for the process lifetime.
    return ctypes.cast(int(ffi.cast("uintptr_t", ptr)), ctypes.py_object).value


native_encode_item, native_decode_item = _fetch_item_codec()
