"""Concurrency: 8 writers and several readers on one store while memtables flush and
levels compact underneath. Snapshot scans must see exactly the batches committed at or
before the snapshot's seqno, and sync writers must share WAL syncs (group commit)."""

import threading
import time

from storage_helpers import check_levels, dump, open_small, run_threads

from engine.storage import Store, WriteBatch

WRITERS = 8
READERS = 3
BATCHES_PER_WRITER = 120


def test_snapshot_scans_never_see_later_writes_under_concurrent_writers(store_dir):
    store = open_small(store_dir, durability="sync")
    store.create_keyspace("data")
    store.create_keyspace("meta")
    commits: list[tuple[int, int, int]] = []  # (seqno, writer, n)
    observed: list[tuple[int, dict, dict, list]] = []
    errors: list[BaseException] = []
    writers_done = threading.Event()
    lock = threading.Lock()

    def writer(w: int) -> None:
        try:
            for n in range(BATCHES_PER_WRITER):
                batch = WriteBatch()
                batch.put("data", b"w%d-%05d" % (w, n), b"%d:%d:" % (w, n) + b"." * 60)
                batch.put("meta", b"count-%d" % w, b"%d" % (n + 1))  # overwritten: versions
                seqno = store.write(batch)
                with lock:
                    commits.append((seqno, w, n))
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while not writers_done.is_set():
                snap = store.snapshot()
                # Let later batches commit (and flushes run) before reading.
                for _ in range(200):
                    if writers_done.is_set() or store.last_seqno >= snap.seqno + 15:
                        break
                    time.sleep(0.001)
                data = dump(store, "data", snap)
                meta = dump(store, "meta", snap)
                reverse = list(store.scan("data", reverse=True, snapshot=snap))
                observed.append((snap.seqno, data, meta, reverse))
                snap.release()
        except BaseException as exc:
            errors.append(exc)

    def writers_then_signal() -> None:
        run_threads([lambda w=w: writer(w) for w in range(WRITERS)])
        writers_done.set()

    try:
        run_threads([writers_then_signal] + [reader] * READERS)
        assert errors == []
        assert len(commits) == WRITERS * BATCHES_PER_WRITER
        assert len({seqno for seqno, _, _ in commits}) == len(commits)
        assert len(observed) >= READERS
        for seqno, data, meta, reverse in observed:
            visible = [(w, n) for s, w, n in commits if s <= seqno]
            assert set(data) == {b"w%d-%05d" % (w, n) for w, n in visible}
            for w in range(WRITERS):
                count = sum(1 for vw, _ in visible if vw == w)
                assert meta.get(b"count-%d" % w) == (b"%d" % count if count else None)
            assert reverse == sorted(data.items(), reverse=True)
        stats = store.stats()
        assert stats["flushes"] > 0
        # Group commit: 8 sync writers shared WAL writes and fdatasyncs.
        assert stats["write_groups"] < stats["batches_written"]
        check_levels(store)
        final = dump(store, "data")
    finally:
        store.close()
    with open_small(store_dir, durability="sync") as store:
        assert dump(store, "data") == final
        assert len(final) == WRITERS * BATCHES_PER_WRITER


def test_readers_and_point_gets_during_flushes_and_compactions(store_dir):
    # Point reads race installs of new Versions and unlinks of obsolete files.
    with open_small(store_dir, durability="off") as store:
        store.create_keyspace("a")
        for i in range(200):
            store.put("a", b"k%04d" % i, b"0")
        errors: list[BaseException] = []
        done = threading.Event()

        def writer(w: int) -> None:
            try:
                for round_ in range(1, 15):
                    for i in range(w, 200, 4):
                        store.put("a", b"k%04d" % i, b"%d" % round_ + b"." * 50)
            except BaseException as exc:
                errors.append(exc)

        def reader() -> None:
            try:
                while not done.is_set():
                    for i in range(0, 200, 7):
                        value = store.get("a", b"k%04d" % i)
                        assert value is not None  # never deleted, so never missing
                    keys = [k for k, _ in store.scan("a", b"k0050", b"k0150")]
                    assert keys == [b"k%04d" % i for i in range(50, 150)]
            except BaseException as exc:
                errors.append(exc)

        def writers() -> None:
            run_threads([lambda w=w: writer(w) for w in range(4)])
            done.set()

        run_threads([writers, reader, reader])
        assert errors == []
        assert store.stats()["compactions"] > 0
        check_levels(store)


def test_writers_stalled_on_full_memtables_are_all_woken(store_dir):
    # Regression: a writer that committed inline after waiting in _make_room left the
    # writers that queued meanwhile asleep forever.
    with open_small(
        store_dir, durability="off", memtable_bytes=1 << 10, max_immutable_memtables=1
    ) as store:
        store.create_keyspace("a")

        def writer(w: int) -> None:
            for i in range(150):
                store.put("a", b"%d-%04d" % (w, i), b"v" * 100)

        run_threads([lambda w=w: writer(w) for w in range(4)])
        assert len(dump(store, "a")) == 600


def test_group_mode_writers_from_many_threads_survive_reopen(store_dir):
    with open_small(store_dir, durability="group") as store:
        store.create_keyspace("a")

        def writer(w: int) -> None:
            for i in range(100):
                store.put("a", b"%d-%04d" % (w, i), b"v%d" % i)

        run_threads([lambda w=w: writer(w) for w in range(WRITERS)])
    with Store.open(store_dir) as store:
        assert len(dump(store, "a")) == WRITERS * 100
