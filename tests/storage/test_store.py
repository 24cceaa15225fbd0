"""Store behaviour outside the model test: keyspaces, reopen after compaction, the
worker-process background mode, and regressions."""

import os
import threading

import pytest
from storage_helpers import check_levels, dump, open_small, sst_files

from engine.storage import KeyspaceError, Store, WriteBatch


def fill(store: Store, keyspace: str, count: int, tag: bytes = b"v") -> dict[bytes, bytes]:
    written = {}
    for i in range(count):
        key = b"key%05d" % (i * 7919 % count)
        value = tag + b"%05d" % i + b"." * 90
        store.put(keyspace, key, value)
        written[key] = value
    return written


def test_keyspaces_are_created_listed_and_refused_twice(store_dir):
    with open_small(store_dir, durability="off") as store:
        store.create_keyspace("b")
        store.create_keyspace("a")
        assert store.list_keyspaces() == ["a", "b"]
        with pytest.raises(KeyspaceError):
            store.create_keyspace("a")
        with pytest.raises(KeyspaceError):
            store.put("missing", b"k", b"v")
        with pytest.raises(KeyspaceError):
            store.write(WriteBatch().put("a", b"k", b"v").put("missing", b"k", b"v"))
        assert store.get("a", b"k") is None  # nothing of the refused batch was written


def test_drop_keyspace_removes_its_data_and_files_for_good(store_dir):
    with open_small(store_dir, durability="off") as store:
        store.create_keyspace("keep")
        store.create_keyspace("doomed")
        kept = fill(store, "keep", 300)
        fill(store, "doomed", 300)
        store.flush()
        store.wait_for_compactions()
        before = set(sst_files(store_dir))
        doomed_ksid = store._ksids["doomed"]
        doomed_files = {
            os.path.join(store_dir, f"{m.number:06d}.sst")
            for m in store._version.levels(doomed_ksid).all_files()
        }
        assert doomed_files and doomed_files <= before
        store.put("doomed", b"unflushed", b"x")  # only in the memtable and the WAL
        store.drop_keyspace("doomed")
        assert store.list_keyspaces() == ["keep"]
        with pytest.raises(KeyspaceError):
            store.get("doomed", b"key00001")
        with pytest.raises(KeyspaceError):
            store.drop_keyspace("doomed")
        assert not doomed_files & set(sst_files(store_dir))
        store.create_keyspace("doomed")  # a new keyspace under the old name is empty
        assert dump(store, "doomed") == {}
        assert dump(store, "keep") == kept
    with open_small(store_dir, durability="off") as store:
        assert store.list_keyspaces() == ["doomed", "keep"]
        assert dump(store, "doomed") == {}  # the WAL's records of the old keyspace stay dead
        assert dump(store, "keep") == kept
        store.flush()
        assert dump(store, "doomed") == {}


def test_reopen_after_compaction_keeps_every_key(store_dir):
    with open_small(store_dir, durability="off") as store:
        store.create_keyspace("a")
        store.create_keyspace("b")
        model_a = fill(store, "a", 600)
        model_b = fill(store, "b", 200)
        for i in range(0, 600, 3):  # tombstones that the full compaction drops
            key = b"key%05d" % i
            store.delete("a", key)
            model_a.pop(key, None)
        store.compact()
        stats = store.stats()
        assert stats["compactions"] > 0
        levels_used = [lvl["level"] for lvl in stats["levels"] if lvl["files"]]
        assert levels_used and 0 not in levels_used
        check_levels(store)
        for lv in store._version.keyspaces.values():
            assert sum(m.tombstone_count for m in lv.all_files()) == 0
    with open_small(store_dir, durability="off") as store:
        check_levels(store)
        assert store.verify() == []
        assert dump(store, "a") == model_a
        assert dump(store, "b") == model_b
        assert list(store.scan("a", reverse=True)) == sorted(model_a.items(), reverse=True)
        for key, value in list(model_a.items())[:50]:
            assert store.get("a", key) == value
        assert store.get("a", b"key00000") is None


def test_background_compactions_build_deeper_levels_and_keep_data(store_dir):
    with open_small(store_dir, durability="off") as store:
        store.create_keyspace("a")
        model = {}
        for round_ in range(4):
            model.update(fill(store, "a", 500, tag=b"r%d" % round_))
        store.flush()
        store.wait_for_compactions()
        stats = store.stats()
        assert stats["flushes"] > 4 and stats["compactions"] > 0
        assert any(lvl["files"] for lvl in stats["levels"][2:]), stats["levels"]
        check_levels(store)
        assert dump(store, "a") == model


def test_background_process_mode_flushes_and_compacts(store_dir):
    with open_small(store_dir, durability="off", background="process") as store:
        store.create_keyspace("a")
        model = {}
        for round_ in range(3):
            model.update(fill(store, "a", 300, tag=b"p%d" % round_))
        store.flush()
        store.wait_for_compactions()
        stats = store.stats()
        assert stats["flushes"] > 0 and stats["compactions"] > 0
        # the jobs really ran in worker processes
        assert store._workers and all(w._proc is not None for w in store._workers.values())
        assert dump(store, "a") == model
        store.compact()
        assert dump(store, "a") == model
    with open_small(store_dir, durability="off", background="process") as store:
        assert dump(store, "a") == model


def test_scan_with_start_not_below_end_is_empty(store_dir):
    # Regression: with the range inside one SSTable block, a scan whose start lay
    # after its end handed the merge an inverted run range and raised ValueError.
    with open_small(store_dir, durability="off") as store:
        store.create_keyspace("a")
        fill(store, "a", 200)
        store.compact()
        for start, end in [(b"key00150", b"key00100"), (b"key00100", b"key00100")]:
            assert list(store.scan("a", start, end)) == []
            assert list(store.scan("a", start, end, reverse=True)) == []


def test_drop_keyspace_while_flushes_install_does_not_deadlock(store_dir):
    # Regression: drop_keyspace took the store mutex, then the install lock, while a
    # flush install holds the install lock and then takes the mutex.
    with open_small(store_dir, durability="off", memtable_bytes=1 << 10) as store:
        store.create_keyspace("busy")
        errors: list[BaseException] = []
        stop = threading.Event()

        def writer() -> None:
            try:
                i = 0
                while not stop.is_set():
                    store.put("busy", b"k%06d" % i, b"v" * 200)
                    i += 1
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            for round_ in range(30):
                name = f"tmp{round_}"
                store.create_keyspace(name)
                store.put(name, b"k", b"v" * 300)
                store.drop_keyspace(name)
        finally:
            stop.set()
            thread.join(timeout=60)
        assert not thread.is_alive(), "writer stuck: drop_keyspace deadlocked with a flush"
        assert errors == []
        assert store.stats()["flushes"] > 0


def test_dropping_a_keyspace_mid_compaction_does_not_fail_the_store(store_dir):
    # Regression: drop_keyspace unlinks the keyspace's SSTables; a compaction job
    # already running on them failed with FileNotFoundError, which was recorded as a
    # background error, and the store refused every later write.
    with open_small(store_dir, durability="off", l0_compaction_trigger=1) as store:
        store.create_keyspace("keep")
        for round_ in range(25):
            name = f"short-lived{round_}"
            store.create_keyspace(name)
            for i in range(60):
                store.put(name, b"k%04d" % i, b"v" * 100)
            store.drop_keyspace(name)
            store.put("keep", b"round", b"%d" % round_)
        store.flush()
        store.wait_for_compactions()
        assert store.stats()["background_error"] is None
        assert store.get("keep", b"round") == b"24"


def test_catalog_entries_and_keyspaces_commit_together_and_survive_reopen(store_dir):
    with open_small(store_dir) as store:
        store.catalog_put({b"table/t1": b"def1"}, create_keyspaces=("t1", "t1.gsi"))
        assert store.list_keyspaces() == ["t1", "t1.gsi"]
        with pytest.raises(KeyspaceError):
            store.catalog_put({b"table/t1": b"other"}, create_keyspaces=("t1",))
        assert store.catalog_get(b"table/t1") == b"def1"
        store.catalog_put({b"table/t2": b"def2", b"other": b"x"})
    with open_small(store_dir) as store:
        assert store.catalog_items(b"table/") == [(b"table/t1", b"def1"), (b"table/t2", b"def2")]
        store.catalog_put({b"table/t1": None})
        assert store.catalog_get(b"table/t1") is None
        assert store.list_keyspaces() == ["t1", "t1.gsi"]


def test_statistics_survive_a_clean_close(store_dir):
    with open_small(store_dir) as store:
        store.create_keyspace("a")
        store.put("a", b"k", b"v" * 10)
    with open_small(store_dir) as store:
        stats = store.stats()
        assert stats["user_bytes_written"] == 11
        assert stats["batches_written"] == 1


@pytest.mark.parametrize("durability", ["off", "group", "sync"])
def test_wal_bytes_copied_into_a_memory_map_are_counted_apart(store_dir, durability):
    # Durability "off" and "group" write the WAL through a memory map, which write(2)
    # counters (the benchmark's /proc/self/io wchar) cannot see; "sync" writes it.
    with open_small(store_dir, durability=durability) as store:
        store.create_keyspace("a")
        for i in range(50):
            store.put("a", b"k%03d" % i, b"v" * 100)
        stats = store.stats()
    assert stats["wal_bytes_written"] > 50 * 100
    expected = stats["wal_bytes_written"] if durability != "sync" else 0
    assert stats["wal_bytes_mapped"] == expected


def test_a_hot_key_keeps_every_version_a_snapshot_can_see(tmp_path):
    """One key rewritten a thousand times in one memtable over an SSTable, with snapshots
    along the way: each snapshot reads, and scans, the version of its moment, before and
    after a flush."""
    store = Store.open(str(tmp_path / "db"), durability="off")
    store.create_keyspace("kv")
    store.put("kv", b"before", b"b")
    store.flush()  # scans then merge the memtable with an SSTable
    snapshots = []
    for i in range(1000):
        if i % 100 == 0:
            snapshots.append((store.snapshot(), i - 1))
        if i % 7 == 3:
            store.delete("kv", b"hot")
        else:
            store.put("kv", b"hot", b"v%d" % i)

    def expected(last: int) -> bytes | None:
        if last < 0 or last % 7 == 3:
            return None
        return b"v%d" % last

    for flushed in (False, True):
        for snap, last in snapshots:
            want = expected(last)
            assert store.get("kv", b"hot", snapshot=snap) == want, (flushed, last)
            rows = dict(store.scan("kv", snapshot=snap))
            assert rows.get(b"hot") == want and rows[b"before"] == b"b"
        assert store.get("kv", b"hot") == expected(999)
        store.flush()
    for snap, _ in snapshots:
        snap.release()
    store.close()
