"""Child process of test_inspect.py: commits batches in sync mode until SIGKILLed.

Usage: python inspect_writer.py STORE_DIR FLUSH_AFTER

Batch `i` is a pure function of `i` (`make_batch`). After batch FLUSH_AFTER the child
flushes, so the directory it leaves holds SSTables and WAL records not yet in them.
After `write` returns (fsynced) it prints `i seqno` and flushes stdout: a printed line
is an acknowledged batch.
"""

import os
import sys

KEYSPACES = ("alpha", "beta")


def make_batch(i: int) -> list[tuple[str, bytes, bytes | None]]:
    """(keyspace, key, value or None for a delete) of batch `i`."""
    ops: list[tuple[str, bytes, bytes | None]] = [("alpha", b"a%05d" % i, b"%d|" % i + b"x" * 40)]
    if i % 3 == 0:
        ops.append(("beta", b"b%05d" % i, b"%d|beta" % i))
    if i % 5 == 0:
        ops.append(("alpha", b"a%05d" % (i - 1), None))
    return ops


def main() -> None:
    sys.path.insert(0, os.getcwd())
    from engine.storage import Store, WriteBatch

    path, flush_after = sys.argv[1], int(sys.argv[2])
    store = Store.open(path, durability="sync", background="thread", block_size_bytes=512)
    for name in KEYSPACES:
        if not store.has_keyspace(name):
            store.create_keyspace(name)
    i = 1
    while True:
        batch = WriteBatch()
        for keyspace, key, value in make_batch(i):
            if value is None:
                batch.delete(keyspace, key)
            else:
                batch.put(keyspace, key, value)
        seqno = store.write(batch)
        sys.stdout.write(f"{i} {seqno}\n")
        sys.stdout.flush()
        if i == flush_after:
            store.flush()
        i += 1


if __name__ == "__main__":
    main()
