"""Native write batches (csrc/batchops.c) against their pure-Python twins: encode_batch
against encode_ops, MemtableGeneration.apply against py_apply."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_helpers import batch_of

from engine.storage.batch import (
    WriteBatch,
    apply_ops,
    decode_ops,
    encode_batch,
    encode_ops,
)
from engine.storage.format import KIND_TOMBSTONE, KIND_VALUE
from engine.storage.memtable import MemtableGeneration

KEYSPACES = {"items": 3, "index.a": 7, "index.b": (1 << 32) - 1}
keyspace = st.sampled_from(sorted(KEYSPACES))
key = st.binary(max_size=12)  # short keys: operations often meet on one key
value = st.none() | st.binary(max_size=600)
batches = st.lists(st.tuples(keyspace, key, value), max_size=30)


@given(batches)
def test_encode_batch_equals_encode_ops_and_decodes(ops):
    batch = batch_of(ops)
    encoded, body, user_bytes = encode_batch(batch.ops, KEYSPACES)
    final = [(KEYSPACES[ks], k, v) for (ks, k), v in batch.ops.items()]  # last op per key wins
    assert body == encode_ops(final)
    want = [(KIND_TOMBSTONE if v is None else KIND_VALUE, ksid, k, v) for ksid, k, v in final]
    assert encoded == want
    assert decode_ops(body, 0, len(want), len(body)) == want
    assert user_bytes == batch.user_bytes == sum(len(k) + len(v or b"") for _, k, v in final)


def test_encode_batch_answers_none_for_an_unknown_keyspace():
    batch = WriteBatch().put("items", b"k", b"v").put("nowhere", b"k", b"v")
    assert encode_batch(batch.ops, KEYSPACES) is None


def test_encode_batch_refuses_what_is_not_a_batch():
    with pytest.raises(TypeError):
        encode_batch({("items", "not bytes"): b"v"}, KEYSPACES)
    with pytest.raises(TypeError):
        encode_batch({("items", b"k"): "not bytes"}, KEYSPACES)
    with pytest.raises(OverflowError):
        encode_batch({("items", b"k"): b"v"}, {"items": 1 << 32})


def state(generation: MemtableGeneration):
    return (
        generation.size_bytes,
        generation.max_seqno,
        generation.max_commit_ts_us,
        {ksid: (t.data, t.older, list(t._new)) for ksid, t in generation.tables.items()},
    )


@settings(max_examples=200)
@given(st.lists(batches, min_size=1, max_size=8))
def test_apply_equals_py_apply(batch_list):
    native, twin = MemtableGeneration([1]), MemtableGeneration([1])
    for seqno, ops in enumerate(batch_list, start=1):
        encoded, _, _ = encode_batch(batch_of(ops).ops, KEYSPACES)
        native.apply(seqno, 1000 + seqno, encoded)
        twin.py_apply(seqno, 1000 + seqno, tuple(encoded))  # a tuple, as Store.put passes
        assert state(native) == state(twin)
    for ksid, table in native.tables.items():  # every version readable, newest first
        for k in table.data:
            assert table.versions(k) == twin.tables[ksid].versions(k)


def test_apply_ops_refuses_malformed_operations_before_touching_a_memtable():
    generation = MemtableGeneration([1])
    for bad in ([(2, 3, b"k", b"v")], [(KIND_VALUE, 3, "k", b"v")], [(KIND_VALUE, 3, b"k", None)]):
        with pytest.raises((TypeError, ValueError)):
            apply_ops(generation, 1, bad)
    with pytest.raises(OverflowError):
        apply_ops(generation, 1 << 56, [(KIND_VALUE, 3, b"k", b"v")])
    assert all(not t.data for t in generation.tables.values())


def test_one_value_in_two_keyspaces_is_one_memtable_entry():
    """An ALL-projection index entry is the base value object itself: apply stores one
    entry object for both (same seqno, same kind, so the same bytes), and the result is
    what py_apply builds."""
    value = b"item" * 50
    batch = WriteBatch().put("items", b"k", value).put("index.a", b"ik", value)
    batch.put("index.b", b"other", b"different")
    ops, _, _ = encode_batch(batch.ops, KEYSPACES)
    native, twin = MemtableGeneration([1]), MemtableGeneration([1])
    native.apply(9, 1009, ops)
    twin.py_apply(9, 1009, ops)
    assert state(native) == state(twin)
    base = native.tables[KEYSPACES["items"]].data[b"k"]
    assert native.tables[KEYSPACES["index.a"]].data[b"ik"] is base
    assert native.tables[KEYSPACES["index.b"]].data[b"other"] is not base
