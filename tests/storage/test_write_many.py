"""Store.write_many: several batches, each atomic with its own seqno and WAL record,
committed as one group (one WAL write; one fsync in sync durability)."""

import errno

import pytest
from storage_helpers import batch_of, dump, open_small, run_threads

from engine.storage import FaultInjectingFS, KeyspaceError, Store, WriteBatch


@pytest.mark.parametrize("durability", ["sync", "group", "off"])
def test_batches_get_consecutive_seqnos_one_group_and_survive_reopen(store_dir, durability):
    with Store.open(store_dir, durability=durability) as store:
        store.create_keyspace("a")
        store.create_keyspace("b")
        store.put("a", b"before", b"0")
        groups = store.stats()["write_groups"]
        batches = [
            batch_of([("a", b"k1", b"one"), ("b", b"x", b"in b")]),
            batch_of([("a", b"k1", b"two"), ("a", b"before", None)]),
            batch_of([("a", b"k2", b"three")]),
        ]
        seqnos = store.write_many(batches)
        assert seqnos == [seqnos[0], seqnos[0] + 1, seqnos[0] + 2]
        with store.snapshot() as last:
            assert last.seqno == seqnos[-1]
        stats = store.stats()
        assert stats["write_groups"] == groups + 1
        assert stats["batches_written"] == 4
        # A later batch of the group overwrites an earlier one's key.
        assert dump(store, "a") == {b"k1": b"two", b"k2": b"three"}
        assert dump(store, "b") == {b"x": b"in b"}
    with Store.open(store_dir, durability=durability) as store:
        assert store.recovery_report.records == 4  # each batch its own WAL record
        assert dump(store, "a") == {b"k1": b"two", b"k2": b"three"}
        assert dump(store, "b") == {b"x": b"in b"}
        assert store.write_many([batch_of([("a", b"k3", b"after")])]) == [seqnos[-1] + 1]


def test_empty_batches_take_the_seqno_before_them(store_dir):
    with Store.open(store_dir, durability="off") as store:
        store.create_keyspace("a")
        current = store.put("a", b"k", b"v")
        assert store.write_many([]) == []
        assert store.write_many([WriteBatch(), WriteBatch()]) == [current, current]
        seqnos = store.write_many(
            [
                WriteBatch(),
                batch_of([("a", b"k", b"w")]),
                WriteBatch(),
                batch_of([("a", b"j", b"x")]),
            ]
        )
        assert seqnos == [current, current + 1, current + 1, current + 2]
        assert store.stats()["batches_written"] == 3


def test_an_unknown_keyspace_writes_none_of_the_batches(store_dir):
    with Store.open(store_dir, durability="sync") as store:
        store.create_keyspace("a")
        before = store.stats()["batches_written"]
        with pytest.raises(KeyspaceError):
            store.write_many([batch_of([("a", b"k1", b"v")]), batch_of([("missing", b"k2", b"v")])])
        assert dump(store, "a") == {}
        assert store.stats()["batches_written"] == before


def test_a_failed_wal_write_applies_none_of_the_batches(store_dir):
    fs = FaultInjectingFS()
    with open_small(store_dir, durability="sync", fs=fs, memtable_bytes=1 << 20) as store:
        store.create_keyspace("a")
        store.put("a", b"kept", b"v")
        fs.arm("fdatasync", errno.EIO, count=1)
        with pytest.raises(OSError) as info:
            store.write_many([batch_of([("a", b"n1", b"never")]), batch_of([("a", b"kept", None)])])
        assert info.value.errno == errno.EIO
        fs.clear()
        assert dump(store, "a") == {b"kept": b"v"}
        store.write_many([batch_of([("a", b"n2", b"later")])])
        assert dump(store, "a") == {b"kept": b"v", b"n2": b"later"}
    with open_small(store_dir, durability="sync") as store:
        assert dump(store, "a") == {b"kept": b"v", b"n2": b"later"}


def test_groups_from_many_threads_interleave_with_single_writes(store_dir):
    """Sync writers of groups and of single batches share fsyncs; every batch lands once
    and each group's batches keep their order (the last of a key's writes wins)."""
    with open_small(store_dir, durability="sync", memtable_bytes=64 << 10) as store:
        store.create_keyspace("a")

        def grouped(tid: int) -> None:
            for g in range(40):
                # three batches on one key and one on another: the last value must win
                key = b"g%d-%03d" % (tid, g)
                store.write_many(
                    [batch_of([("a", key, b"%d" % n)]) for n in range(3)]
                    + [batch_of([("a", key + b"-other", b"x" * 100)])]
                )

        def single(tid: int) -> None:
            for i in range(100):
                store.put("a", b"s%d-%03d" % (tid, i), b"y" * 100)

        run_threads(
            [lambda t=t: grouped(t) for t in range(4)] + [lambda t=t: single(t) for t in range(4)]
        )
        expected = {b"g%d-%03d" % (t, g): b"2" for t in range(4) for g in range(40)}
        expected |= {b"g%d-%03d-other" % (t, g): b"x" * 100 for t in range(4) for g in range(40)}
        expected |= {b"s%d-%03d" % (t, i): b"y" * 100 for t in range(4) for i in range(100)}
        assert dump(store, "a") == expected
        stats = store.stats()
        assert stats["batches_written"] == 4 * 40 * 4 + 4 * 100
        assert stats["write_groups"] <= 4 * 40 + 4 * 100
    with open_small(store_dir, durability="sync") as store:
        assert dump(store, "a") == expected
