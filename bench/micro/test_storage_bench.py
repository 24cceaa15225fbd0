"""pytest-benchmark microbenchmarks of the storage hot paths (not run by default: pass
--benchmark-enable). `python -m bench kv` is the side-by-side benchmark; these isolate
one call each.

    python -m pytest bench/micro/test_storage_bench.py --benchmark-enable
"""

import itertools
import random

import pytest

from engine.storage import Store, WriteBatch

N = 50_000


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    store = Store.open(str(tmp_path_factory.mktemp("bench") / "db"), durability="off")
    store.create_keyspace("kv")
    rnd = random.Random(7)
    keys = [b"%016d" % i for i in range(N)]
    for i in range(0, N, 1000):
        batch = WriteBatch()
        for key in keys[i : i + 1000]:
            batch.put("kv", key, rnd.randbytes(50) + b"x" * 50)
        store.write(batch)
    store.compact()
    yield store, keys
    store.close()


def test_put_off(benchmark, tmp_path):
    store = Store.open(str(tmp_path / "db"), durability="off")
    store.create_keyspace("kv")
    counter = itertools.count()
    value = b"v" * 100
    benchmark(lambda: store.put("kv", b"%016d" % next(counter), value))
    store.close()


def test_put_to_one_hot_key(benchmark, tmp_path):
    """A counter's pattern: one key rewritten over and over within a memtable. Each put
    must cost the same however many versions the key has (keeping them once cost time
    proportional to their number: 2.2 ms a put after 60k)."""
    store = Store.open(str(tmp_path / "db"), durability="off")
    store.create_keyspace("kv")
    value = b"v" * 100
    for _ in range(50_000):
        store.put("kv", b"hot", value)
    benchmark(lambda: store.put("kv", b"hot", value))
    store.close()


def test_scan_past_one_hot_key(benchmark, tmp_path):
    """A Query's pattern over a partition holding a hot item: 100 keys in an SSTable, one
    of them rewritten 50,000 times since (in the memtable). The scan must see one version
    of it, not walk all of them (it did: 19 ms a scan)."""
    store = Store.open(str(tmp_path / "db"), durability="off")
    store.create_keyspace("kv")
    for i in range(100):
        store.put("kv", b"k%03d" % i, b"v" * 100)
    store.flush()
    for n in range(50_000):
        store.put("kv", b"k050", b"x%d" % n)
    assert len(benchmark(lambda: list(store.scan("kv", b"k000", b"k100")))) == 100
    store.close()


def test_get_compacted(benchmark, filled):
    store, keys = filled
    probes = itertools.cycle(random.Random(3).sample(keys, 10_000))
    benchmark(lambda: store.get("kv", next(probes)))


def test_seek_and_read_ten(benchmark, filled):
    store, keys = filled
    probes = itertools.cycle(random.Random(4).sample(keys, 10_000))
    benchmark(lambda: list(itertools.islice(store.scan("kv", next(probes)), 10)))


def test_write_batch_of_100(benchmark, tmp_path):
    store = Store.open(str(tmp_path / "db"), durability="off")
    store.create_keyspace("kv")
    counter = itertools.count()

    def write():
        batch = WriteBatch()
        for _ in range(100):
            batch.put("kv", b"%016d" % next(counter), b"v" * 100)
        store.write(batch)

    benchmark(write)
    store.close()
