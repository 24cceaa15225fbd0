"""shale_block_get (csrc/block.c) against its pure-Python twin, on blocks built by the
SSTable writer's own block builder."""

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.codec import block_get, py_block_get
from engine.storage.sstable import build_data_block


@st.composite
def blocks(draw):
    keys = sorted(set(draw(st.lists(st.binary(max_size=5), max_size=30))))
    entries = []
    for key in keys:
        seqs = sorted(set(draw(st.lists(st.integers(1, 50), min_size=1, max_size=3))), reverse=True)
        for seq in seqs:
            kind = draw(st.integers(0, 1))
            value = draw(st.binary(max_size=8)) if kind else b""
            entries.append((key, (seq << 8) | kind, value))
    return entries


@settings(max_examples=300, deadline=None)
@given(blocks(), st.binary(max_size=5), st.integers(0, 60))
def test_native_block_get_matches_twin_and_model(entries, probe, seqno):
    raw = build_data_block(
        [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]
    )
    native = block_get(raw, probe, seqno)
    assert native == py_block_get(raw, probe, seqno)
    visible = [e for e in entries if e[0] == probe and e[1] >> 8 <= seqno]
    if not visible:
        assert native == -1
        return
    _, trailer, value = visible[0]
    assert native & 1 == trailer & 0xFF
    start, length = native >> 32, (native & 0xFFFFFFFF) >> 1
    assert raw[start : start + length] == value


@given(st.binary(max_size=64), st.binary(max_size=4))
def test_garbage_blocks_never_point_out_of_bounds(raw, probe):
    # Garbage need not be sorted, so only safety is promised: never a read past the end.
    result = block_get(raw, probe, 10)
    if result >= 0:
        start, length = result >> 32, (result & 0xFFFFFFFF) >> 1
        assert start + length <= len(raw)


def test_truncated_block_is_malformed():
    raw = build_data_block([b"a", b"b"], [(5 << 8) | 1, (6 << 8) | 1], [b"x", b"y"])
    assert block_get(raw[:12], b"a", 10) == -2
    assert py_block_get(raw[:12], b"a", 10) == -2
    assert struct.unpack_from("<I", raw)[0] == 2
