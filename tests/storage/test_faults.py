"""Injected I/O faults (FaultInjectingFS): failing WAL writes and syncs in sync mode,
failing SSTable syncs in flushes and compactions. The failing operation reports the
error, nothing acknowledged is lost, the failed write is never visible, and once the
fault clears the store works again and everything survives a reopen."""

import errno
import time

import pytest
from storage_helpers import check_levels, dump, open_small

from engine.storage import BackgroundError, FaultInjectingFS, Store, WriteBatch

BIG_MEMTABLE = {"memtable_bytes": 1 << 20}


def put_many(store: Store, start: int, count: int, model: dict) -> None:
    for i in range(start, start + count):
        key, value = b"k%05d" % i, b"v%05d" % i + b"-" * 80
        store.put("a", key, value)
        model[key] = value


def check_reopened(store_dir: str, model: dict, failed: list[bytes]) -> None:
    with open_small(store_dir, durability="sync") as store:
        assert dump(store, "a") == model
        for key in failed:
            assert store.get("a", key) is None
        check_levels(store)
        assert store.verify() == []


@pytest.mark.parametrize(
    ("operation", "error", "partial", "count"),
    [
        ("fdatasync", errno.EIO, 0, 1),
        ("fdatasync", errno.EIO, 0, 3),
        ("write", errno.ENOSPC, 7, 1),
        ("write", errno.ENOSPC, 7, None),
        ("write", errno.EIO, 0, 2),
    ],
    ids=[
        "fdatasync-EIO",
        "fdatasync-EIO-x3",
        "write-ENOSPC-partial",
        "write-ENOSPC-stuck",
        "write-EIO",
    ],
)
def test_failed_wal_write_or_sync_reports_and_loses_nothing_acknowledged(
    store_dir, operation, error, partial, count
):
    fs = FaultInjectingFS()
    model: dict[bytes, bytes] = {}
    failed: list[bytes] = []
    store = open_small(store_dir, durability="sync", fs=fs, **BIG_MEMTABLE)
    try:
        store.create_keyspace("a")
        put_many(store, 0, 20, model)
        fs.arm(operation, error, count=count, partial=partial)
        for attempt in range(3):
            key = b"failed%d" % attempt
            with pytest.raises(OSError) as info:
                store.write(WriteBatch().put("a", key, b"never").delete("a", b"k00001"))
            assert info.value.errno == error
            failed.append(key)
            assert store.get("a", key) is None
            assert store.get("a", b"k00001") == model[b"k00001"]  # the batch's delete too
            if count is not None and fs.injected >= count:
                break
        fs.clear()
        assert dump(store, "a") == model
        put_many(store, 20, 20, model)  # works again
        assert dump(store, "a") == model
    finally:
        store.close()
    check_reopened(store_dir, model, failed)


def test_group_mode_sync_failure_refuses_writes_until_resumed(store_dir):
    # durability="group" acknowledges a write once it is in the mapped WAL; the syncer's
    # fdatasync failing is a background error: writes are refused until resume(), and
    # nothing acknowledged is lost.
    fs = FaultInjectingFS()
    model: dict[bytes, bytes] = {}
    with open_small(store_dir, durability="group", fs=fs, **BIG_MEMTABLE) as store:
        store.create_keyspace("a")
        put_many(store, 0, 10, model)
        fs.arm("fdatasync", errno.EIO, count=None)
        deadline = time.monotonic() + 10
        while store.stats()["background_error"] is None and time.monotonic() < deadline:
            try:
                put_many(store, 10, 1, model)  # gives the syncer something to sync
            except BackgroundError:
                break  # the error landed between the check and the put
            time.sleep(0.002)
        assert store.stats()["background_error"] is not None
        with pytest.raises(BackgroundError):
            store.put("a", b"refused", b"x")
        fs.clear()
        store.resume()
        put_many(store, 20, 10, model)
    check_reopened(store_dir, model, [b"refused"])


@pytest.mark.parametrize("durability", ["off", "group"])
def test_unsynced_wal_reservation_failure_is_reported_and_store_recovers(store_dir, durability):
    # durability "off" and "group" copy records into space reserved ahead with fallocate:
    # a failed reservation (ENOSPC) fails the put before any byte is written, never later.
    fs = FaultInjectingFS()
    model: dict[bytes, bytes] = {}
    big = b"x" * (300 << 10)  # past the first reservation: the WAL must extend for it
    with open_small(store_dir, durability=durability, fs=fs, **BIG_MEMTABLE) as store:
        store.create_keyspace("a")
        put_many(store, 0, 10, model)
        fs.arm("fallocate", errno.ENOSPC, count=2)
        for _ in range(2):
            with pytest.raises(OSError) as info:
                store.write(WriteBatch().put("a", b"failed", big).delete("a", b"k00001"))
            assert info.value.errno == errno.ENOSPC
            assert store.get("a", b"failed") is None
            assert store.get("a", b"k00001") == model[b"k00001"]
        put_many(store, 10, 10, model)
        store.put("a", b"big", big)
        model[b"big"] = big
        assert dump(store, "a") == model
    check_reopened(store_dir, model, [b"failed"])


def test_failed_flush_refuses_writes_until_resumed(store_dir):
    fs = FaultInjectingFS()
    model: dict[bytes, bytes] = {}
    store = open_small(store_dir, durability="sync", fs=fs, **BIG_MEMTABLE)
    try:
        store.create_keyspace("a")
        put_many(store, 0, 50, model)
        fs.arm("fsync", errno.EIO, count=None)  # SSTables are fsynced; the WAL fdatasynced
        with pytest.raises(BackgroundError) as info:
            store.flush()
        assert isinstance(info.value.__cause__, OSError)
        assert store.stats()["background_error"] is not None
        with pytest.raises(BackgroundError):
            store.put("a", b"refused", b"x")
        with pytest.raises(BackgroundError):
            store.write(WriteBatch().put("a", b"refused2", b"x"))
        # Reads still work, from the memtables that could not be flushed.
        assert dump(store, "a") == model
        fs.clear()
        store.resume()
        store.flush()
        assert store.stats()["background_error"] is None
        assert store.stats()["levels"][0]["files"] >= 1
        put_many(store, 50, 20, model)
        store.flush()
        assert store.get("a", b"refused") is None
        assert dump(store, "a") == model
    finally:
        store.close()
    check_reopened(store_dir, model, [b"refused", b"refused2"])


def test_failed_compaction_refuses_writes_until_resumed(store_dir):
    fs = FaultInjectingFS()
    model: dict[bytes, bytes] = {}
    store = open_small(store_dir, durability="off", fs=fs, l0_compaction_trigger=100)
    try:
        store.create_keyspace("a")
        for round_ in range(3):
            put_many(store, round_ * 40, 60, model)
            store.flush()
        fs.arm("fsync", errno.EIO, count=None)
        with pytest.raises(BackgroundError):
            store.compact()
        with pytest.raises(BackgroundError):
            store.put("a", b"refused", b"x")
        assert dump(store, "a") == model
        fs.clear()
        store.resume()
        store.compact()
        assert store.stats()["levels"][0]["files"] == 0
        put_many(store, 500, 10, model)
        assert dump(store, "a") == model
        assert store.verify() == []
    finally:
        store.close()
    check_reopened(store_dir, model, [b"refused"])


def test_failed_wal_rotation_keeps_the_store_writable(store_dir):
    # A memtable rotation creates a new WAL segment and fsyncs the directory; that
    # directory fsync fails once, failing the put that needed the rotation.
    fs = FaultInjectingFS()
    model: dict[bytes, bytes] = {}
    with open_small(store_dir, durability="sync", fs=fs, memtable_bytes=2 << 10) as store:
        store.create_keyspace("a")
        put_many(store, 0, 10, model)
        fs.arm("fsync_dir", errno.EIO, count=1)
        failures = 0
        for i in range(10, 60):
            key, value = b"k%05d" % i, b"v%05d" % i + b"-" * 80
            try:
                store.put("a", key, value)
            except OSError:
                failures += 1
                continue
            model[key] = value
        assert failures == 1 and fs.injected == 1
        assert store.stats()["flushes"] >= 1
        store.flush()
        assert dump(store, "a") == model
    check_reopened(store_dir, model, [])
