"""Group commit: concurrent sync writers share WAL writes and fsyncs, and every one of
them is acknowledged (regression: followers of a group whose queue emptied were never
woken)."""

import threading

from engine.storage import Store


def test_eight_sync_writers_all_finish_and_share_fsyncs(tmp_path):
    store = Store.open(str(tmp_path / "db"), durability="sync")
    store.create_keyspace("kv")
    per_thread = 150
    errors: list[BaseException] = []

    def writer(tid: int) -> None:
        try:
            for i in range(per_thread):
                store.put("kv", b"%02d-%05d" % (tid, i), b"v%d" % i)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer was never acknowledged"
    assert not errors
    stats = store.stats()
    assert stats["batches_written"] == 8 * per_thread
    assert stats["write_groups"] < stats["batches_written"]
    assert sum(1 for _ in store.scan("kv")) == 8 * per_thread
    store.close()
