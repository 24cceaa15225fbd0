"""Group commit: concurrent sync writers share WAL writes and fsyncs, and every one of
them is acknowledged (regression: followers of a group whose queue emptied were never
woken)."""

from storage_helpers import run_threads

from engine.storage import Store


def test_eight_sync_writers_all_finish_and_share_fsyncs(tmp_path):
    store = Store.open(str(tmp_path / "db"), durability="sync")
    store.create_keyspace("kv")
    per_thread = 150

    def writer(tid: int) -> None:
        for i in range(per_thread):
            store.put("kv", b"%02d-%05d" % (tid, i), b"v%d" % i)

    run_threads([lambda t=t: writer(t) for t in range(8)])
    stats = store.stats()
    assert stats["batches_written"] == 8 * per_thread
    assert stats["write_groups"] < stats["batches_written"]
    assert sum(1 for _ in store.scan("kv")) == 8 * per_thread
    store.close()
