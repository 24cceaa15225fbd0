"""Order-preserving encoding of DynamoDB key values (pure-Python twin of csrc/keycodec.c).

This module specifies the byte format; csrc/keycodec.c implements the same functions natively
and property tests check that both agree byte for byte. Byte order of encodings equals
DynamoDB's order of values of one type: S by UTF-8 bytes, B by unsigned bytes, N numerically.
Encodings are self-delimiting, so keys concatenate into composite keys.

```
S, B  := (byte != 0x00 | 0x00 0xFF)* 0x00 0x01        (UTF-8 for S)    DO NOT CHANGE: on disk
N     := 0x02                                          zero
       | 0x03 exp mantissa                             positive
       | 0x01 ~exp ~mantissa                           negative (every byte complemented)
exp   := E + 129: u8      where value = 0.d1 d2 ... dn x 10^E, d1 != 0, -129 <= E <= 126
mantissa := nibbles (d_i + 1) for each digit, then nibble 0, then nibble 0 if needed to end on
            a byte boundary (high nibble first)
primary key := hash: u32 BE | enc(partition key) [| enc(sort key)]
hash    := fmix32(crc32(enc(partition key)))          (zlib's CRC-32, murmur3's finaliser)
```

A number's digits are those of its canonical text (engine.model.numbers): no leading or trailing
zeros, so the terminator nibble (0, below every digit nibble) makes a shorter mantissa sort first,
and complementing negatives reverses both the exponent and the mantissa order. The hash prefix
spreads partitions evenly; it is what gives Scan its unordered-by-key order and what parallel
Scan splits into segments. Index keys are built with :func:`encode_key_values` by the index
layer (index partition key with its hash prefix, index sort key, then the base table's key).

Functions take and return the normalised values of engine.model (``("S", str)``, ``("N", str)``,
``("B", bytes)``). Pure functions; thread-safe.
"""

from __future__ import annotations

import zlib

__all__ = [
    "decode_key_value",
    "decode_key_values",
    "decode_primary_key",
    "encode_key_value",
    "encode_key_values",
    "encode_primary_key",
    "hash_prefix",
    "partition_hash",
]

_TERM = b"\x00\x01"
_N_NEG, _N_ZERO, _N_POS = 1, 2, 3
_EXP_BIAS = 129
_COMPLEMENT = bytes(range(255, -1, -1))

# Two digits -> one byte (nibbles d1+1, d2+1); one trailing digit -> (d+1, terminator 0).
_PAIR = {f"{a}{b}": bytes([(a + 1) << 4 | (b + 1)]) for a in range(10) for b in range(10)}
_LAST = {str(a): bytes([(a + 1) << 4]) for a in range(10)}
_UNPAIR = {v[0]: k for k, v in _PAIR.items()}


def _encode_bytes(raw: bytes) -> bytes:
    return raw.replace(b"\x00", b"\x00\xff") + _TERM


def _encode_number(text: str) -> bytes:
    if text == "0":
        return b"\x02"
    negative = text[0] == "-"
    if negative:
        text = text[1:]
    point = text.find(".")
    if point < 0:
        digits = text
        exp = len(text)
    else:
        digits = text[:point] + text[point + 1 :]
        exp = point
    stripped = digits.lstrip("0")
    exp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits or not -_EXP_BIAS <= exp <= 255 - _EXP_BIAS:
        raise ValueError(f"not a canonical DynamoDB number: {text!r}")
    n = len(digits)
    even = n - (n & 1)
    body = b"".join([_PAIR[digits[i : i + 2]] for i in range(0, even, 2)])
    body += _LAST[digits[-1]] if n & 1 else b"\x00"
    out = bytes([_N_POS, exp + _EXP_BIAS]) + body
    if negative:
        return bytes([_N_NEG]) + out[1:].translate(_COMPLEMENT)
    return out


def encode_key_value(tag: str, value: str | bytes) -> bytes:
    """Encode one key value; ``tag`` is "S", "N" or "B" and numbers are canonical text."""
    if tag == "S":
        return _encode_bytes(value.encode("utf-8", "surrogatepass"))  # type: ignore[union-attr]
    if tag == "N":
        try:
            return _encode_number(value)  # type: ignore[arg-type]
        except (KeyError, IndexError):
            raise ValueError(f"not a canonical DynamoDB number: {value!r}") from None
    if tag == "B":
        return _encode_bytes(value)  # type: ignore[arg-type]
    raise ValueError(f"not a key type: {tag!r}")


def _decode_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    while True:
        z = data.index(b"\x00", pos)
        out += data[pos:z]
        nxt = data[z + 1]
        if nxt == 0x01:
            return bytes(out), z + 2
        if nxt != 0xFF:
            raise ValueError(f"bad escape in key at offset {z}")
        out.append(0)
        pos = z + 2


def _decode_number(data: bytes, pos: int) -> tuple[str, int]:
    sign = data[pos]
    if sign == _N_ZERO:
        return "0", pos + 1
    if sign not in (_N_POS, _N_NEG):
        raise ValueError(f"bad number tag in key at offset {pos}")
    negative = sign == _N_NEG
    end = pos + 2
    while True:  # find the byte holding the terminator nibble
        b = data[end] ^ 0xFF if negative else data[end]
        end += 1
        if b & 0x0F == 0 or b >> 4 == 0:
            break
    raw = data[pos + 1 : end]
    if negative:
        raw = raw.translate(_COMPLEMENT)
    exp = raw[0] - _EXP_BIAS
    parts = []
    for b in raw[1:]:
        if b >> 4 == 0:
            break
        if b & 0x0F == 0:
            parts.append(str((b >> 4) - 1))
            break
        parts.append(_UNPAIR[b])
    digits = "".join(parts)
    n = len(digits)
    if exp >= n:
        text = digits + "0" * (exp - n)
    elif exp <= 0:
        text = "0." + "0" * (-exp) + digits
    else:
        text = digits[:exp] + "." + digits[exp:]
    return ("-" + text if negative else text), end


def decode_key_value(tag: str, data: bytes, pos: int = 0) -> tuple[str | bytes, int]:
    """Decode one key value of type ``tag`` at ``pos``; return (value, position after it).

    Raises ValueError if the bytes are not a valid encoding.
    """
    try:
        return _decode_one(tag, data, pos)
    except (IndexError, KeyError):
        raise ValueError(f"malformed {tag} key at offset {pos}") from None


def _decode_one(tag: str, data: bytes, pos: int) -> tuple[str | bytes, int]:
    if tag == "S":
        raw, end = _decode_bytes(data, pos)
        return raw.decode("utf-8", "surrogatepass"), end
    if tag == "N":
        return _decode_number(data, pos)
    if tag == "B":
        return _decode_bytes(data, pos)
    raise ValueError(f"not a key type: {tag!r}")


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
    h = zlib.crc32(encoded_partition_key)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def hash_prefix(encoded_partition_key: bytes) -> bytes:
    """The 4-byte big-endian hash prefix of a partition."""
    return partition_hash(encoded_partition_key).to_bytes(4, "big")


def encode_primary_key(
    pk_tag: str, pk: str | bytes, sk_tag: str | None = None, sk: str | bytes | None = None
) -> bytes:
    """hash prefix | enc(partition key) [| enc(sort key)]: a table's (or index's) storage key."""
    enc = encode_key_value(pk_tag, pk)
    out = hash_prefix(enc) + enc
    if sk_tag is not None:
        out += encode_key_value(sk_tag, sk)  # type: ignore[arg-type]
    return out


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
