"""docs/FORMAT.md's worked hex examples, decoded by the real readers and re-encoded by
the real writers: the document cannot drift from the code."""

import re
from pathlib import Path

import crc32c
import pytest

import engine.codec as codec
from engine.codec import bloom_build, bloom_may_contain, make_run_buffer
from engine.index import entry_key
from engine.model import decode_item, encode_item
from engine.storage.batch import encode_ops
from engine.storage.catalog import decode_file_meta, encode_file_meta
from engine.storage.format import (
    BLOCK_TRAILER,
    FOOTER,
    KIND_TOMBSTONE,
    KIND_VALUE,
    SST_FORMAT_VERSION,
    SST_MAGIC,
    WAL_FORMAT_VERSION,
    WAL_HEADER,
    WAL_MAGIC,
)
from engine.storage.sstable import Block, build_data_block, encode_block
from engine.storage.wal import encode_record, read_segment
from engine.table import IndexDef, TableDef

DOC = Path(__file__).resolve().parents[1] / "docs" / "FORMAT.md"


def examples() -> dict[str, bytes]:
    found = re.findall(r"```hex ([\w-]+)\n(.*?)```", DOC.read_text(), re.S)
    return {name: bytes.fromhex(body.replace("\n", " ")) for name, body in found}


@pytest.fixture(scope="module")
def hexes():
    return examples()


def test_every_example_is_checked(hexes):
    assert set(hexes) == {
        "wal-segment-header",
        "wal-record",
        "block-trailer",
        "sst-footer",
        "data-block",
        "bloom",
        "file-meta",
        "key-n-negative",
        "key-n-1000",
        "key-s-escaped",
        "primary-key",
        "item",
        "index-key",
    }


def test_wal_segment_header(hexes):
    magic, version, reserved, number = WAL_HEADER.unpack(hexes["wal-segment-header"])
    assert (magic, version, reserved, number) == (WAL_MAGIC, WAL_FORMAT_VERSION, 0, 7)


def test_wal_record_decodes_and_reencodes(hexes, tmp_path):
    raw = hexes["wal-record"]
    path = tmp_path / "000007.wal"
    path.write_bytes(hexes["wal-segment-header"] + raw)
    scan = read_segment(str(path), is_last=False, salvage=False)
    (record,) = scan.records
    assert (record.seqno, record.commit_ts_us) == (42, 1_700_000_000_000_000)
    assert record.ops == [(KIND_VALUE, 1, b"k1", b"v1"), (KIND_TOMBSTONE, 2, b"old", None)]
    body = encode_ops([(1, b"k1", b"v1"), (2, b"old", None)])
    assert encode_record(42, 1_700_000_000_000_000, 2, body) == raw
    assert int.from_bytes(raw[:4], "little") == crc32c.crc32c(raw[4:])


def test_block_trailer(hexes):
    raw = hexes["block-trailer"]
    compression, crc = BLOCK_TRAILER.unpack(raw[2:])
    assert (raw[:2], compression) == (b"hi", 0)
    assert crc == crc32c.crc32c(b"hi\x00")
    assert encode_block(b"hi", 0) == raw


def test_sst_footer(hexes):
    fields = FOOTER.unpack(hexes["sst-footer"])
    assert fields == (100, 13, 113, 93, 206, 40, SST_FORMAT_VERSION, SST_MAGIC)


def test_data_block(hexes):
    raw = hexes["data-block"]
    block = Block(raw)
    assert block.count == 3 and block.flags == 3
    assert [block.key(i) for i in range(3)] == [b"a", b"b", b"b"]
    assert [block.value(i) for i in range(3)] == [b"x", b"", b"yz"]
    assert [(t >> 8, t & 0xFF) for t in block.trailers] == [(9, 1), (8, 0), (3, 1)]
    rebuilt = build_data_block([b"a", b"b", b"b"], list(block.trailers), [b"x", b"", b"yz"])
    assert rebuilt == raw


def test_bloom(hexes):
    raw = hexes["bloom"]
    buf, keys_at, offs_at, _ = make_run_buffer([(b"a", 0), (b"b", 0)])
    assert bloom_build(buf, keys_at, offs_at, 2, 10) == raw
    assert raw[-1] == 6 and len(raw) == 64 // 8 + 1
    assert bloom_may_contain(raw, b"a") and bloom_may_contain(raw, b"b")


def test_file_meta(hexes):
    raw = hexes["file-meta"]
    meta = decode_file_meta(12, raw)
    assert (meta.level, meta.file_size, meta.entry_count, meta.tombstone_count) == (1, 4096, 3, 1)
    assert (meta.min_seqno, meta.max_seqno, meta.smallest, meta.largest) == (3, 9, b"a", b"b")
    assert (meta.min_commit_ts_us, meta.max_commit_ts_us) == (
        1_700_000_000_000_000,
        1_700_000_000_000_001,
    )
    assert encode_file_meta(meta) == raw


def test_key_encoding_examples(hexes):
    assert codec.encode_key_value("N", "-3.25") == hexes["key-n-negative"]
    assert codec.encode_key_value("N", "1000") == hexes["key-n-1000"]
    assert codec.encode_key_value("S", "a\x00b") == hexes["key-s-escaped"]
    assert codec.decode_key_value("N", hexes["key-n-negative"])[0] == "-3.25"
    assert codec.decode_key_value("S", hexes["key-s-escaped"])[0] == "a\x00b"
    key = hexes["primary-key"]
    assert codec.encode_primary_key("S", "user#1", "N", "42") == key
    assert key[:4] == codec.hash_prefix(codec.encode_key_value("S", "user#1"))


def test_index_key_example(hexes):
    d = TableDef(
        "t", "0", "table.0", "id", "n", {"id": "S", "n": "N", "color": "S", "rank": "N"}, 0.0
    )
    ix = IndexDef("by_color", True, ("color",), ("rank",))
    base = codec.encode_primary_key("S", "user#1", "N", "42")
    item = {"id": {"S": "user#1"}, "n": {"N": "42"}, "color": {"S": "red"}, "rank": {"N": "7"}}
    assert entry_key(d, ix, item, base) == hexes["index-key"]


def test_item_codec_example(hexes):
    item = {"id": {"S": "u1"}, "n": {"N": "42"}, "ok": {"BOOL": True}, "tags": {"SS": ["a", "b"]}}
    assert encode_item(item) == hexes["item"]
    assert decode_item(hexes["item"]) == item
