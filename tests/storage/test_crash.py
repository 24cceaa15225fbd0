"""Crash recovery: a writer process is SIGKILLed at random moments, again and again.

The child (crash_writer.py) commits batches in `sync` mode (or `group` or `off`, which
must lose nothing to a process crash either) to one store directory and prints each
batch id once `write` returned. Batch n is a pure function of n and every
value carries the id of the batch that wrote it. After each kill the parent reopens the
store and requires its whole content to equal the state after batch A (the last one
acknowledged) or after batch A+1 (the one in flight, which may or may not have reached
the disk): so every acknowledged write is there, batches are atomic, and no value
appears that was never written. The next child continues after what survived.

A grouped child commits several batches at once (`Store.write_many`); then any prefix
of the group in flight may survive (each batch is its own WAL record), and nothing
else.

Small memtables and level targets make the child flush and compact while it writes,
so kills land in flushes, compactions, installs and WAL rotations as well as in WAL
appends. Some kills come right after the child starts, during recovery itself.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from crash_writer import KEYSPACES, apply_batch, group_size, make_batch, store_options
from storage_helpers import check_levels, dump

from engine.storage import Store

WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crash_writer.py")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Child:
    """A running crash_writer with a thread collecting its acknowledgements."""

    def __init__(
        self,
        path: str,
        first: int,
        memtable_bytes: int,
        background: str,
        durability: str,
        grouped: bool,
    ) -> None:
        self.acked: list[int] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                WRITER,
                path,
                str(first),
                str(memtable_bytes),
                background,
                durability,
                "grouped" if grouped else "single",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            first, count = map(int, line.split())
            with self._lock:
                self.acked.extend(range(first, first + count))
                self._lock.notify_all()
        with self._lock:
            self._lock.notify_all()

    def wait_for_acks(self, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(self.acked) < count and self.proc.poll() is None:
                if not self._lock.wait(max(0.0, deadline - time.monotonic())):
                    break

    def kill(self) -> list[int]:
        """SIGKILL the child; return the ids it acknowledged."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join()
        stderr = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        self.proc.stdout.close()
        assert self.proc.returncode == -signal.SIGKILL, (
            f"the writer exited by itself ({self.proc.returncode}):\n{stderr}"
        )
        return self.acked


def check_store(path: str, model: dict, next_id: int, memtable_bytes: int, in_flight: int) -> int:
    """Reopen and compare with the model after batch next_id-1 plus a prefix of the
    ``in_flight`` batches from next_id on. Returns how many of those survived."""
    with Store.open(path, **store_options(memtable_bytes)) as store:
        got = {ks: dump(store, ks) if store.has_keyspace(ks) else {} for ks in KEYSPACES}
        check_levels(store)
        assert store.verify() == []
        expected = {ks: dict(m) for ks, m in model.items()}
        survived = 0
        while got != expected and survived < in_flight:
            apply_batch(expected, next_id + survived)
            survived += 1
        if got != expected:
            describe_difference(got, model, next_id, in_flight)
            raise AssertionError("unreachable")
        # Reverse scans and point reads agree with the forward scan.
        for ks in KEYSPACES:
            if store.has_keyspace(ks):
                assert list(store.scan(ks, reverse=True)) == sorted(
                    expected[ks].items(), reverse=True
                )
                for key, value in list(expected[ks].items())[:20]:
                    assert store.get(ks, key) == value
        return survived


def describe_difference(got: dict, model: dict, next_id: int, in_flight: int) -> None:
    written = {(ks, key) for i in range(in_flight) for ks, key, _ in make_batch(next_id + i)}
    for ks in KEYSPACES:
        for key in sorted(set(got[ks]) | set(model[ks])):
            have, want = got[ks].get(key), model[ks].get(key)
            if have != want and (ks, key) not in written:
                origin = int(have.split(b"|")[0]) if have else None
                raise AssertionError(
                    f"{ks}/{key!r}: found {have[:20] if have else None!r} (batch {origin}),"
                    f" expected {want[:20] if want else None!r}; last acknowledged batch"
                    f" {next_id - 1}"
                )
    raise AssertionError(
        f"batches {next_id}..{next_id + in_flight - 1} survived only in part "
        "(a batch not atomic, or not a prefix of a group)"
    )


def run_crash_cycles(
    path: str,
    cycles: int,
    seed: int,
    background: str,
    durability: str = "sync",
    grouped: bool = False,
) -> dict[str, int]:
    rng = random.Random(seed)
    model: dict[str, dict[bytes, bytes]] = {ks: {} for ks in KEYSPACES}
    next_id = 1
    tally = {"survived_in_flight": 0, "killed_before_first_ack": 0}
    for cycle in range(cycles):
        # Every third cycle runs with a memtable big enough to stay in the WAL.
        memtable_bytes = 64 << 10 if cycle % 3 == 2 else 6 << 10
        child = Child(path, next_id, memtable_bytes, background, durability, grouped)
        if cycle % 4 == 0:
            time.sleep(rng.uniform(0.0, 0.5))  # anywhere, including during open
        else:
            child.wait_for_acks(rng.randint(1, 250))
            time.sleep(rng.uniform(0.0, 0.02))
        acked = child.kill()
        assert acked == list(range(next_id, next_id + len(acked)))
        if not acked:
            tally["killed_before_first_ack"] += 1
        for batch_id in acked:
            apply_batch(model, batch_id)
        next_id += len(acked)
        survived = check_store(
            path, model, next_id, memtable_bytes, group_size(next_id) if grouped else 1
        )
        for _ in range(survived):
            apply_batch(model, next_id)
            next_id += 1
        tally["survived_in_flight"] += survived > 0
    tally["batches"] = next_id - 1
    return tally


@pytest.mark.parametrize(("background", "cycles"), [("thread", 30), ("process", 12)])
def test_sigkilled_sync_writer_loses_no_acknowledged_batch(tmp_path, background, cycles):
    # With background="process" the kill orphans the flush/compaction worker too.
    tally = run_crash_cycles(str(tmp_path / "store"), cycles=cycles, seed=2, background=background)
    # The run really wrote enough to flush and compact many times over.
    assert tally["batches"] > 30 * cycles, tally
    with Store.open(str(tmp_path / "store")) as store:
        stats = store.stats()
        assert stats["flushes"] > 10 and stats["compactions"] > 0, stats


@pytest.mark.parametrize("durability", ["off", "group"])
def test_sigkilled_unsynced_writer_loses_no_acknowledged_batch(tmp_path, durability):
    # durability "off" and "group" write the WAL through a memory map: a killed process
    # must still lose nothing (the pages are the kernel's); only a power loss may, and in
    # "group" only what the syncer had not yet fdatasynced.
    tally = run_crash_cycles(
        str(tmp_path / "store"), cycles=15, seed=5, background="process", durability=durability
    )
    assert tally["batches"] > 30 * 15, tally


@pytest.mark.parametrize("durability", ["sync", "group"])
def test_sigkilled_grouped_writer_loses_no_acknowledged_batch(tmp_path, durability):
    # Store.write_many: a group's batches share one WAL write; a kill keeps a prefix of
    # the group in flight (whole records), never a part of a batch or a gap.
    tally = run_crash_cycles(
        str(tmp_path / "store"),
        cycles=12,
        seed=7,
        background="process",
        durability=durability,
        grouped=True,
    )
    assert tally["batches"] > 30 * 12, tally


@pytest.mark.soak
@pytest.mark.parametrize("background", ["thread", "process"])
def test_sigkilled_sync_writer_soak(tmp_path, background):
    run_crash_cycles(str(tmp_path / "store"), cycles=300, seed=11, background=background)
