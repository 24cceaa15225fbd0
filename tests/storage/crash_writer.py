"""Child process of test_crash.py: writes batches until killed.

Usage: python crash_writer.py STORE_DIR FIRST_BATCH_ID MEMTABLE_BYTES BACKGROUND [DURABILITY
[GROUPED]]

DURABILITY is `sync` (the default), `group` or `off`; a process crash loses nothing in
any. GROUPED `grouped` commits the batches in groups with `Store.write_many`: the group
starting at batch n holds `group_size(n)` batches.

Batch `n` is a pure function of `n` (`make_batch`), so the parent can recompute what
every batch wrote. Each value starts with the id of the batch that wrote it. After
`Store.write` (or `write_many`) returns (the batches are fsynced) the child prints
"FIRST COUNT" on one line (one write, so a kill never leaves half of it) and flushes
stdout: the printed ids are acknowledged batches.
"""

import os
import random
import sys

KEYSPACES = ("ks0", "ks1", "ks2")
KEYS_PER_KEYSPACE = 300


def make_batch(batch_id: int) -> list[tuple[str, bytes, bytes | None]]:
    """The ops of batch `batch_id`: (keyspace, key, value or None for a delete)."""
    rng = random.Random(batch_id)
    ops: dict[tuple[str, bytes], bytes | None] = {}
    for _ in range(rng.randint(1, 5)):
        keyspace = rng.choice(KEYSPACES)
        key = b"k%04d" % rng.randrange(KEYS_PER_KEYSPACE)
        if rng.random() < 0.15:
            ops[(keyspace, key)] = None
        else:
            ops[(keyspace, key)] = b"%d|%s|" % (batch_id, key) + rng.randbytes(rng.randint(20, 160))
    return [(ks, key, value) for (ks, key), value in ops.items()]


def group_size(first_id: int) -> int:
    """How many batches the grouped writer commits at once from batch ``first_id`` on."""
    return random.Random(-first_id).choice((1, 2, 3, 8, 25))


def apply_batch(model: dict[str, dict[bytes, bytes]], batch_id: int) -> None:
    for keyspace, key, value in make_batch(batch_id):
        if value is None:
            model[keyspace].pop(key, None)
        else:
            model[keyspace][key] = value


def store_options(
    memtable_bytes: int, background: str = "thread", durability: str = "sync"
) -> dict:
    return {
        "durability": durability,
        "background": background,
        "memtable_bytes": memtable_bytes,
        "block_size_bytes": 512,
        "l0_compaction_trigger": 2,
        "level_base_bytes": 16 << 10,
        "level_size_ratio": 4,
        "target_file_size_bytes": 8 << 10,
    }


def main() -> None:
    sys.path.insert(0, os.getcwd())
    from storage_helpers import batch_of  # (this script's folder is on sys.path)

    from engine.storage import Store

    path, first, memtable_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    durability = sys.argv[5] if len(sys.argv) > 5 else "sync"
    grouped = len(sys.argv) > 6 and sys.argv[6] == "grouped"
    store = Store.open(path, **store_options(memtable_bytes, sys.argv[4], durability))
    for keyspace in KEYSPACES:
        if not store.has_keyspace(keyspace):
            store.create_keyspace(keyspace)
    out = sys.stdout
    batch_id = first
    while batch_id < first + 1_000_000:
        if grouped:
            count = group_size(batch_id)
            store.write_many([batch_of(make_batch(batch_id + i)) for i in range(count)])
        else:
            count = 1
            store.write(batch_of(make_batch(batch_id)))
        out.write(f"{batch_id} {count}\n")
        out.flush()
        batch_id += count


if __name__ == "__main__":
    main()
