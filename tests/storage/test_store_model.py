"""The store against a dict model: a hypothesis state machine.

Each step is a put, delete, cross-keyspace batch, get, bounded forward or reverse scan,
snapshot (take, read at, release), flush, full compaction, keyspace drop and re-create,
or close-and-reopen. After every step the Version invariants are checked. Tiny
memtables and level targets make background flushes and compactions happen within a
few steps, so reads cross memtables, L0 and deeper levels.
"""

import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)
from storage_helpers import batch_of, check_levels, open_small

from engine.storage import KeyspaceError

KEYSPACES = ("alpha", "beta", "gamma")

# A few hot keys (so overwrites, tombstones and versions pile up) plus arbitrary short
# ones, including the empty key.
keys = st.one_of(
    st.sampled_from([b"", b"a", b"b", b"k1", b"k2", b"k3", b"m", b"z", b"\xff"]),
    st.binary(max_size=4),
)
values = st.one_of(st.just(b""), st.binary(max_size=8), st.binary(min_size=100, max_size=400))
keyspaces = st.sampled_from(KEYSPACES)
bounds = st.one_of(st.none(), keys)


def expected_scan(model: dict[bytes, bytes], start, end, reverse: bool):
    items = sorted(
        (k, v)
        for k, v in model.items()
        if (start is None or k >= start) and (end is None or k < end)
    )
    return items[::-1] if reverse else items


class StoreMachine(RuleBasedStateMachine):
    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="shale-model-")
        self.store = open_small(self.dir, durability="off")
        for name in KEYSPACES:
            self.store.create_keyspace(name)
        self.model: dict[str, dict[bytes, bytes]] = {name: {} for name in KEYSPACES}
        self.open_snapshots: list = []

    def teardown(self) -> None:
        for snap, _ in self.open_snapshots:
            snap.release()
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ writes

    @rule(ks=keyspaces, key=keys, value=values)
    def put(self, ks, key, value):
        self.store.put(ks, key, value)
        self.model[ks][key] = value

    @rule(ks=keyspaces, key=keys)
    def delete(self, ks, key):
        self.store.delete(ks, key)
        self.model[ks].pop(key, None)

    @rule(
        ops=st.lists(
            st.tuples(keyspaces, keys, st.one_of(st.none(), values)), min_size=1, max_size=12
        )
    )
    def write_batch(self, ops):
        self.store.write(batch_of(ops))
        for ks, key, value in ops:
            if value is None:
                self.model[ks].pop(key, None)
            else:
                self.model[ks][key] = value

    @rule(ks=keyspaces, prefix=st.binary(max_size=2), count=st.integers(10, 60))
    def fill(self, ks, prefix, count):
        """Enough bytes in one go to rotate a memtable or two."""
        for i in range(count):
            key = prefix + b"%03d" % i
            value = bytes([i % 251]) * 120
            self.store.put(ks, key, value)
            self.model[ks][key] = value

    # ------------------------------------------------------------------- reads

    @rule(ks=keyspaces, key=keys)
    def get(self, ks, key):
        assert self.store.get(ks, key) == self.model[ks].get(key)

    @rule(ks=keyspaces, start=bounds, end=bounds, reverse=st.booleans())
    def scan(self, ks, start, end, reverse):
        got = list(self.store.scan(ks, start, end, reverse=reverse))
        assert got == expected_scan(self.model[ks], start, end, reverse)

    # --------------------------------------------------------------- snapshots

    @rule(target=snapshots)
    def take_snapshot(self):
        snap = self.store.snapshot()
        frozen = {ks: dict(m) for ks, m in self.model.items()}
        entry = (snap, frozen)
        self.open_snapshots.append(entry)
        return entry

    @rule(entry=snapshots, ks=keyspaces, key=keys)
    def get_at_snapshot(self, entry, ks, key):
        snap, frozen = entry
        if snap._store is None:
            return  # released (or lost to a reopen)
        assert self.store.get(ks, key, snap) == frozen[ks].get(key)

    @rule(entry=snapshots, ks=keyspaces, start=bounds, end=bounds, reverse=st.booleans())
    def scan_at_snapshot(self, entry, ks, start, end, reverse):
        snap, frozen = entry
        if snap._store is None:
            return
        got = list(self.store.scan(ks, start, end, reverse=reverse, snapshot=snap))
        assert got == expected_scan(frozen[ks], start, end, reverse)

    @rule(entry=consumes(snapshots))
    def release_snapshot(self, entry):
        snap, _ = entry
        snap.release()
        if entry in self.open_snapshots:
            self.open_snapshots.remove(entry)

    # -------------------------------------------------------------- structure

    @rule()
    def flush(self):
        self.store.flush()

    @rule()
    def compact(self):
        self.store.compact()
        for snap, frozen in self.open_snapshots:
            for ks in KEYSPACES:
                assert dict(self.store.scan(ks, snapshot=snap)) == frozen[ks]

    @rule()
    def wait_for_compactions(self):
        self.store.wait_for_compactions()

    @rule()
    def reopen(self):
        for snap, _ in self.open_snapshots:
            snap.release()
        self.open_snapshots.clear()
        self.store.close()
        self.store = open_small(self.dir, durability="off")
        assert sorted(self.store.list_keyspaces()) == sorted(KEYSPACES)
        for ks in KEYSPACES:
            assert list(self.store.scan(ks)) == expected_scan(self.model[ks], None, None, False)

    @precondition(lambda self: not self.open_snapshots)
    @rule(ks=keyspaces)
    def drop_and_recreate(self, ks):
        self.store.drop_keyspace(ks)
        try:
            self.store.get(ks, b"a")
        except KeyspaceError:
            pass
        else:
            raise AssertionError("a dropped keyspace still answers reads")
        self.store.create_keyspace(ks)
        self.model[ks] = {}
        assert list(self.store.scan(ks)) == []

    @invariant()
    def levels_are_consistent(self):
        check_levels(self.store)
        assert self.store.stats()["background_error"] is None


StoreMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestStoreModel = StoreMachine.TestCase
