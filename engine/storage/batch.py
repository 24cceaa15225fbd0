"""Write batches: the unit of atomicity, and their encoding inside a WAL record.

A `WriteBatch` collects puts and deletes over any keyspaces; `Store.write` commits it
atomically under one sequence number and one commit timestamp. Within a batch the last
operation on a (keyspace, key) wins, so a batch never holds two versions of one key at
one seqno.

Thread-safety: a WriteBatch is not shared between threads while it is being filled.
"""

from collections.abc import Iterator

from engine._native import lib
from engine.codec.capi import python_functions
from engine.storage.format import KIND_TOMBSTONE, KIND_VALUE, OP_HEADER, VALUE_LEN

_unpack_op = OP_HEADER.unpack_from  # 9 bytes
_unpack_len = VALUE_LEN.unpack_from


class WriteBatch:
    """Puts and deletes to commit atomically with `Store.write`.

    Example:
        batch = WriteBatch()
        batch.put("items", b"k1", b"v1")
        batch.delete("index", b"old")
        store.write(batch)
    """

    __slots__ = ("ops",)

    def __init__(self) -> None:
        #: (keyspace, key) -> value, or None for a delete, in the order first added. Code
        #: that stages many puts at once (the index hook's native path) may insert into it
        #: directly: keys (str, bytes) and values bytes, exactly as put would.
        self.ops: dict[tuple[str, bytes], bytes | None] = {}

    def put(self, keyspace: str, key: bytes, value: bytes) -> "WriteBatch":
        """Set `key` to `value` in `keyspace`. Raises TypeError for non-bytes."""
        if type(key) is not bytes or type(value) is not bytes:
            key, value = _as_bytes(key, "key"), _as_bytes(value, "value")
        self.ops[(keyspace, key)] = value
        return self

    def delete(self, keyspace: str, key: bytes) -> "WriteBatch":
        """Remove `key` from `keyspace` (a tombstone; deleting a missing key is fine)."""
        if type(key) is not bytes:
            key = _as_bytes(key, "key")
        self.ops[(keyspace, key)] = None
        return self

    def clear(self) -> None:
        self.ops.clear()

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def user_bytes(self) -> int:
        """Key and value bytes of the operations this batch will write (the 'user bytes
        written'; an operation replaced by a later one on its key is not counted)."""
        return sum(len(k) + (0 if v is None else len(v)) for (_, k), v in self.ops.items())

    def iter_ops(self) -> Iterator[tuple[str, bytes, bytes | None]]:
        """Yield (keyspace, key, value-or-None) for every operation, None = delete."""
        for (keyspace, key), value in self.ops.items():
            yield keyspace, key, value


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}")


def encode_ops(ops: list[tuple[int, bytes, bytes | None]]) -> bytes:
    """Encode (keyspace id, key, value-or-None) operations as a WAL batch body
    (FORMAT.md "Write batch"): op := kind u8 | keyspace id u32 | key length u32 | key
    [| value length u32 | value]."""
    pack_op = OP_HEADER.pack
    pack_len = VALUE_LEN.pack
    parts: list[bytes] = []
    append = parts.append
    for ksid, key, value in ops:
        if value is None:
            append(pack_op(KIND_TOMBSTONE, ksid, len(key)))
            append(key)
        else:
            append(pack_op(KIND_VALUE, ksid, len(key)))
            append(key)
            append(pack_len(len(value)))
            append(value)
    return b"".join(parts)


def decode_ops(
    payload: bytes, offset: int, count: int, end: int
) -> list[tuple[int, int, bytes, bytes | None]]:
    """Decode `count` operations from payload[offset:end] into (kind, keyspace id, key,
    value-or-None). Raises ValueError when the bytes do not parse exactly."""
    ops = []
    append = ops.append
    for _ in range(count):
        kind, ksid, klen = _unpack_op(payload, offset)
        offset += 9
        key_end = offset + klen
        key = payload[offset:key_end]
        if kind == KIND_VALUE:
            (vlen,) = _unpack_len(payload, key_end)
            offset = key_end + 4 + vlen
            append((kind, ksid, key, payload[key_end + 4 : offset]))
        elif kind == KIND_TOMBSTONE:
            offset = key_end
            append((kind, ksid, key, None))
        else:
            raise ValueError(f"unknown operation kind {kind}")
        if offset > end:
            raise ValueError("operation runs past the end of the record")
    if offset != end:
        raise ValueError(f"{end - offset} unparsed bytes after the last operation")
    return ops


#: ``encode_batch(batch.ops, ksids) -> (ops, body, user bytes) | None`` (csrc/batchops.c):
#: a batch's (kind, keyspace id, key, value) operations and their WAL body (encode_ops's
#: encoding) in one call; None when a keyspace is not in ``ksids``.
#: ``apply_ops(generation, seqno, ops) -> bytes added``: MemtableGeneration.apply's loop
#: (its twin is MemtableGeneration.py_apply).
encode_batch, apply_ops = python_functions(lib.shale_batch_functions, "write batch")
