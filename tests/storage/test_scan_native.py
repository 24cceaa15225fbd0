"""Native scan rows (csrc/scanrows.c) against their pure-Python twins: Memtable.iter_visible
against py_iter_visible over memtables of many versions, tombstones and read seqnos,
block_rows against py_block_rows over built data blocks (and malformed ones), and
merged_rows against py_merged_rows over block and memtable chunks."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_helpers import batch_of

from engine.storage.batch import encode_batch
from engine.storage.chunks import (
    _view,
    block_chunk,
    iter_memtable_chunks,
    py_block_rows,
    py_merged_rows,
)
from engine.storage.format import KIND_TOMBSTONE, KIND_VALUE
from engine.storage.memtable import MemtableGeneration
from engine.storage.scanrows import block_rows, merged_rows, visible_rows
from engine.storage.sstable import Block, build_data_block

KSID = 3
key = st.binary(max_size=4)  # short keys: writes often meet on one key
writes = st.lists(st.tuples(key, st.none() | st.binary(max_size=40)), min_size=1, max_size=12)


def memtable(batches):
    generation = MemtableGeneration([1])
    for seqno, ops in enumerate(batches, start=1):
        batch = batch_of(("ks", k, v) for k, v in ops)
        encoded, _, _ = encode_batch(batch.ops, {"ks": KSID})
        generation.apply(seqno, 1000 + seqno, encoded)
    return generation.tables[KSID]


@settings(max_examples=300)
@given(
    st.lists(writes, min_size=1, max_size=10),
    st.integers(0, 11),
    st.none() | key,
    st.none() | key,
    st.booleans(),
)
def test_iter_visible_equals_its_twin(batches, seqno, start, end, reverse):
    table = memtable(batches)
    native = list(table.iter_visible(start, end, reverse, seqno))
    assert native == list(table.py_iter_visible(start, end, reverse, seqno))


def test_a_memtable_of_many_keys_is_resolved_a_run_at_a_time():
    batches = [[(b"%04d" % i, b"v%d" % (i + s)) for i in range(0, 1000, s + 1)] for s in range(3)]
    table = memtable(batches)
    for seqno in range(4):
        for reverse in (False, True):
            want = list(table.py_iter_visible(None, None, reverse, seqno))
            assert list(table.iter_visible(None, None, reverse, seqno)) == want


def test_visible_rows_stops_at_a_version_too_new_and_refuses_strangers():
    def entry(seqno, kind, value=b""):
        return struct.pack("<Q", seqno << 8 | kind) + value

    data = {b"a": entry(1, KIND_VALUE, b"x"), b"b": entry(2, KIND_TOMBSTONE), b"c": entry(9, 1)}
    assert visible_rows([b"a", b"b", b"c"], data, 5, 0) == ([(b"a", b"x")], 2)
    assert visible_rows([b"a", b"b", b"c"], data, 9, 1) == ([(b"c", b"")], 3)
    with pytest.raises(KeyError):
        visible_rows([b"zz"], data, 5, 0)
    with pytest.raises(ValueError):
        visible_rows([b"a"], {b"a": b"short"}, 5, 0)
    with pytest.raises(TypeError):
        visible_rows((b"a",), data, 5, 0)


entries = st.lists(
    st.tuples(st.binary(max_size=8), st.integers(0, 1 << 40), st.binary(max_size=30)),
    max_size=40,
)


@settings(max_examples=300)
@given(entries, st.data(), st.booleans())
def test_block_rows_equals_its_twin(raw_entries, data, reverse):
    raw_entries.sort(key=lambda e: (e[0], -e[1]))
    keys = [k for k, _, _ in raw_entries]
    trailers = [s << 8 | KIND_VALUE for _, s, _ in raw_entries]
    values = [v for _, _, v in raw_entries]
    block = build_data_block(keys, trailers, values)
    lo = data.draw(st.integers(0, len(keys)))
    hi = data.draw(st.integers(lo, len(keys)))
    assert block_rows(block, lo, hi, reverse) == py_block_rows(block, lo, hi, reverse)
    assert [k for k, _ in block_rows(block, 0, len(keys), False)] == keys


def test_block_rows_refuses_malformed_blocks_and_ranges():
    block = build_data_block([b"a", b"b"], [1 << 8 | 1, 2 << 8 | 1], [b"x", b"y"])
    with pytest.raises(IndexError):
        block_rows(block, 0, 3, False)
    with pytest.raises(ValueError):
        block_rows(block[:-1], 0, 2, False)  # a value runs past the end
    with pytest.raises(ValueError):
        block_rows(b"\x05\x00", 0, 0, False)
    broken = bytearray(block)
    struct.pack_into("<I", broken, 8 + 4, 1 << 30)  # the second key's offset, past its area
    with pytest.raises(ValueError):
        block_rows(bytes(broken), 0, 2, False)


@settings(max_examples=300)
@given(entries, writes, st.data())
def test_merged_rows_equals_its_twin(raw_entries, ops, data):
    """Rows picked from a block chunk's view and a memtable chunk's view, as a merge step
    picks them (any runs, any entry indexes within them)."""
    raw_entries.sort(key=lambda e: (e[0], -e[1]))
    block = Block(
        build_data_block(
            [k for k, _, _ in raw_entries],
            [s << 8 | KIND_VALUE for _, s, _ in raw_entries],
            [v for _, _, v in raw_entries],
        )
    )
    views = [_view(block_chunk(block, 0, block.count))]
    for chunk in iter_memtable_chunks(memtable([ops]), None, None, False, 1 << 56):
        views.append(_view(chunk))
    views.append(None)  # a finished run: never picked
    sizes = [block.count] + [len(v[5]) for v in views[1:-1]]
    picks = data.draw(
        st.lists(
            st.sampled_from([(r, i) for r, n in enumerate(sizes) for i in range(n)] or [(0, 0)]),
            max_size=50,
        )
    )
    picks = [(r, i) for r, i in picks if i < sizes[r]]
    runs, idxs = [r for r, _ in picks], [i for _, i in picks]
    assert merged_rows(views, runs, idxs) == py_merged_rows(views, runs, idxs)


def test_merged_rows_refuses_what_lies_outside_a_view():
    block = Block(build_data_block([b"a", b"b"], [1 << 8 | 1, 2 << 8 | 1], [b"x", b"y"]))
    views = [_view(block_chunk(block, 0, 2)), None]
    assert merged_rows(views, [0, 0], [1, 0]) == [(b"b", b"y"), (b"a", b"x")]
    with pytest.raises(ValueError):
        merged_rows(views, [0], [7])  # past the block's entries
    with pytest.raises(ValueError):
        merged_rows(views, [1], [0])  # a finished run
    with pytest.raises(IndexError):
        merged_rows(views, [2], [0])
    with pytest.raises(TypeError):
        merged_rows(views, [0], [0, 1])
