"""Native WAL framing (csrc/walframe.c) against its pure-Python twins in wal.py."""

import crc32c
import pytest
from engine._native import lib
from hypothesis import given
from hypothesis import strategies as st

from engine.storage.batch import decode_ops
from engine.storage.wal import (
    encode_put_record,
    encode_record,
    py_encode_put_record,
    py_encode_record,
)

u64 = st.integers(0, (1 << 64) - 1)
u32 = st.integers(0, (1 << 32) - 1)


@given(st.binary(max_size=5000), st.integers(0, 4))
def test_native_crc32c_equals_the_crc32c_package(data, split):
    assert lib.shale_crc32c(0, data, len(data)) == crc32c.crc32c(data)
    cut = len(data) * split // 4  # continuing a CRC over two pieces
    first = lib.shale_crc32c(0, data[:cut], cut)
    assert lib.shale_crc32c(first, data[cut:], len(data) - cut) == crc32c.crc32c(data)


@given(u64, u64, u32, st.binary(max_size=2000))
def test_native_record_framing_equals_the_twin(seqno, commit_ts_us, count, body):
    assert encode_record(seqno, commit_ts_us, count, body) == py_encode_record(
        seqno, commit_ts_us, count, body
    )


@given(u64, u64, u32, st.binary(max_size=300), st.binary(max_size=3000))
def test_native_put_record_equals_the_twin_and_decodes(seqno, commit_ts_us, ksid, key, value):
    record = encode_put_record(seqno, commit_ts_us, ksid, key, value)
    assert record == py_encode_put_record(seqno, commit_ts_us, ksid, key, value)
    assert decode_ops(record, 28, 1, len(record)) == [(1, ksid, key, value)]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((-1, 0, 1, b"k", b"v"), OverflowError),
        ((1 << 64, 0, 1, b"k", b"v"), OverflowError),
        ((1, 0, 1 << 32, b"k", b"v"), OverflowError),
        ((1, 0, 1, "k", b"v"), TypeError),
        ((1, 0, 1, b"k", bytearray(b"v")), TypeError),
        ((1, 0, 1, b"k"), TypeError),
    ],
)
def test_native_put_record_refuses_bad_arguments(args, error):
    with pytest.raises(error):
        encode_put_record(*args)


def test_native_record_refuses_bad_arguments():
    with pytest.raises(TypeError):
        encode_record(1, 0, 1, "body")
    with pytest.raises(OverflowError):
        encode_record(1, 0, 1 << 32, b"")
