"""Damaged files: flipped bits in SSTable blocks, torn and damaged WAL records,
truncated SSTables. Every damage is either repaired as documented (a torn WAL tail) or
reported as a CorruptionError naming the file and the offset; salvage mode recovers
what it can and reports what it dropped."""

import os

import pytest
from storage_helpers import open_small, sst_files, wal_files

from engine.storage import CorruptionError, Store
from engine.storage.sstable import SSTableReader
from engine.storage.wal import read_segment

# Flushes and compactions stay out of the way: one memtable, one L1 file.
QUIET = {"memtable_bytes": 1 << 20, "level_base_bytes": 1 << 20, "target_file_size_bytes": 1 << 20}


def key(i: int) -> bytes:
    return b"key%04d" % i


def value(i: int) -> bytes:
    return b"value-%04d-" % i + bytes(range(i % 50, i % 50 + 60))


def flip_bit(path: str, offset: int, bit: int = 0) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ (1 << bit)]))


def make_wal(store_dir: str, count: int) -> tuple[str, list]:
    """A store whose data (`count` single-put batches) lives only in one WAL segment."""
    with open_small(store_dir, durability="sync", **QUIET) as store:
        store.create_keyspace("a")
        for i in range(count):
            store.put("a", key(i), value(i))
    (path,) = wal_files(store_dir)
    records = read_segment(path, is_last=True, salvage=False).records
    assert len(records) == count
    return path, records


def assert_names(exc: CorruptionError, path: str, offset: int) -> None:
    assert (exc.path, exc.offset) == (path, offset)
    assert path in str(exc) and f"offset {offset}" in str(exc)


# ---------------------------------------------------------------- SSTables


def make_sstable(store_dir: str) -> tuple[str, SSTableReader]:
    with open_small(store_dir, durability="off", **QUIET) as store:
        store.create_keyspace("a")
        for i in range(300):
            store.put("a", key(i), value(i))
        store.compact()
    (path,) = sst_files(store_dir)
    reader = SSTableReader(path, 0, None)
    assert reader.block_count >= 4
    return path, reader


def test_flipped_bit_in_sstable_block_is_corruption_naming_file_and_offset(store_dir):
    path, reader = make_sstable(store_dir)
    damaged = 2
    offset = reader.block_offsets[damaged]
    first_key, last_key = reader.last_keys[damaged - 1], reader.last_keys[damaged]
    reader.close()
    flip_bit(path, offset + 10, bit=3)
    with open_small(store_dir, durability="off", **QUIET) as store:
        with pytest.raises(CorruptionError) as info:
            store.get("a", last_key)
        assert_names(info.value, path, offset)
        with pytest.raises(CorruptionError) as info:
            list(store.scan("a"))
        assert_names(info.value, path, offset)
        with pytest.raises(CorruptionError):
            list(store.scan("a", first_key + b"\x00", reverse=True))
        # Blocks on either side still read.
        assert store.get("a", key(0)) == value(0)
        assert store.get("a", key(299)) == value(299)
        assert list(store.scan("a", end=first_key)) == [
            (key(i), value(i)) for i in range(300) if key(i) < first_key
        ]
        problems = store.verify()
        assert [(p.path, p.offset) for p in problems] == [(path, offset)]
        # A read that failed never went into the block cache as good data.
        with pytest.raises(CorruptionError):
            store.get("a", last_key)


def test_verify_of_undamaged_store_finds_nothing(store_dir):
    _, reader = make_sstable(store_dir)
    reader.close()
    with open_small(store_dir, durability="off", **QUIET) as store:
        assert store.verify() == []


@pytest.mark.parametrize("cut", ["footer", "index"])
def test_truncated_sstable_fails_the_open_naming_the_file(store_dir, cut):
    path, reader = make_sstable(store_dir)
    size = reader.index_offset + 3 if cut == "index" else reader.file_size - 5
    reader.close()
    os.truncate(path, size)
    with pytest.raises(CorruptionError) as info:
        open_small(store_dir, durability="off", **QUIET)
    assert info.value.path == path and path in str(info.value)
    # The failed open released the LOCK: a later open gets the same diagnosis.
    with pytest.raises(CorruptionError):
        open_small(store_dir, durability="off", **QUIET)


# --------------------------------------------------------------------- WAL


def test_torn_tail_cut_mid_record_is_truncated_and_reported(store_dir):
    path, records = make_wal(store_dir, 10)
    last = records[-1]
    os.truncate(path, last.offset + last.size_bytes - 3)
    with open_small(store_dir, durability="sync", **QUIET) as store:
        report = store.recovery_report
        assert report.torn_tails == [(path, last.offset, last.size_bytes - 3)]
        assert report.records == 9
        assert report.dropped == []
        assert [k for k, _ in store.scan("a")] == [key(i) for i in range(9)]
        assert store.get("a", key(9)) is None
        store.put("a", b"after", b"recovery")
    with open_small(store_dir, durability="sync", **QUIET) as store:
        assert store.recovery_report.torn_tails == []
        assert store.get("a", b"after") == b"recovery"
        assert len(list(store.scan("a"))) == 10


@pytest.mark.parametrize(
    "garbage",
    [b"\x07", b"\xde\xad\xbe\xef" * 5, b"\x01" + b"\x00" * 4095],
    ids=["one-byte", "random-header", "byte-then-zero-page"],
)
def test_garbage_after_the_last_record_is_a_torn_tail(store_dir, garbage):
    path, _ = make_wal(store_dir, 5)
    end = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(garbage)
    with open_small(store_dir, durability="sync", **QUIET) as store:
        assert store.recovery_report.torn_tails == [(path, end, len(garbage))]
        assert [k for k, _ in store.scan("a")] == [key(i) for i in range(5)]
        # Replay truncated the segment back to its last good record (unless the
        # recovered memtable was already flushed and the segment deleted).
        try:
            assert os.path.getsize(path) == end
        except FileNotFoundError:
            pass


def test_bad_record_mid_wal_fails_the_open_naming_file_and_offset(store_dir):
    path, records = make_wal(store_dir, 8)
    bad = records[3]
    flip_bit(path, bad.offset + 30)  # inside the payload: the checksum fails
    with pytest.raises(CorruptionError) as info:
        open_small(store_dir, durability="sync", **QUIET)
    assert_names(info.value, path, bad.offset)
    assert "checksum" in str(info.value)


def test_salvage_recovers_records_around_a_bad_one_and_reports_the_drop(store_dir):
    path, records = make_wal(store_dir, 8)
    bad = records[3]
    flip_bit(path, bad.offset + 30)
    survivors = {key(i): value(i) for i in range(8) if i != 3}
    with open_small(store_dir, durability="sync", salvage=True, **QUIET) as store:
        report = store.recovery_report
        assert [(p, off, n) for p, off, n, _why in report.dropped] == [
            (path, bad.offset, bad.size_bytes)
        ]
        assert report.records == 7
        assert report.torn_tails == []
        assert dict(store.scan("a")) == survivors
        store.flush()  # the salvaged generation reaches an SSTable; the segment goes
    with open_small(store_dir, durability="sync", **QUIET) as store:
        assert dict(store.scan("a")) == survivors


def test_damaged_length_mid_wal_is_not_mistaken_for_a_torn_tail(store_dir):
    # A damaged length field that points past the end of the file, with good records
    # after it, is corruption in the middle of the log: truncating there as if it
    # were a torn tail would silently drop the acknowledged records that follow.
    path, records = make_wal(store_dir, 8)
    bad = records[2]
    flip_bit(path, bad.offset + 4 + 3, bit=6)  # top byte of the u32 length
    with pytest.raises(CorruptionError) as info:
        open_small(store_dir, durability="sync", **QUIET)
    assert_names(info.value, path, bad.offset)
    with open_small(store_dir, durability="sync", salvage=True, **QUIET) as store:
        assert dict(store.scan("a")) == {key(i): value(i) for i in range(8) if i != 2}
        assert [(p, off) for p, off, _n, _why in store.recovery_report.dropped] == [
            (path, bad.offset)
        ]


def test_damaged_wal_header_fails_the_open(store_dir):
    path, _ = make_wal(store_dir, 3)
    flip_bit(path, 1)
    with pytest.raises(CorruptionError) as info:
        Store.open(store_dir, durability="sync")
    assert_names(info.value, path, 0)


@pytest.mark.parametrize("zeros", [64, 4096, 1 << 20])
def test_zeros_after_the_last_record_are_unused_space_not_a_torn_tail(store_dir, zeros):
    # WAL segments are preallocated with zeros, so a crash leaves zeros after the last
    # record: that is the clean end of the log, in any segment, and nothing is reported.
    path, _ = make_wal(store_dir, 5)
    with open(path, "ab") as f:
        f.write(bytes(zeros))
    with open_small(store_dir, durability="sync", **QUIET) as store:
        assert store.recovery_report.torn_tails == []
        assert store.recovery_report.dropped == []
        assert [k for k, _ in store.scan("a")] == [key(i) for i in range(5)]


def test_a_killed_writer_leaves_a_preallocated_segment_that_reopens_cleanly(store_dir):
    # The live segment is longer than its records (zeros ahead of the writes): a reopen
    # after losing the process without close() must neither complain nor lose records.
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {os.getcwd()!r})
        from engine.storage import Store
        store = Store.open({store_dir!r}, durability="sync")
        store.create_keyspace("a")
        for i in range(50):
            store.put("a", b"k%03d" % i, b"v")
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    with open_small(store_dir, durability="sync", **QUIET) as store:
        assert store.recovery_report.torn_tails == []
        assert store.recovery_report.records == 50
        assert len(list(store.scan("a"))) == 50
