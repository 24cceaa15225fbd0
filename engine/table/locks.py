"""Per-key locks for conditional writes and transactions.

A write that reads before it writes (a condition, ReturnValues, the item counters) holds the
lock of its key from the read to the commit, so two writers of one item serialize and a
condition is checked against the value the write replaces. Locks are striped: a key maps to
one of ``STRIPES`` mutexes by hash, so memory is bounded and unrelated keys rarely contend.
A writer of several keys (a transaction) takes its stripes in ascending order, which rules
out deadlock between any two writers.

Transactions also *claim* their keys for their duration; a plain write or another
transaction that meets a claimed key fails with a conflict instead of waiting, which is how
DynamoDB reports that another transaction holds the item.

Thread-safety: every method may be called from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["KeyLocks"]

STRIPES = 1024


class KeyLocks:
    """Striped mutexes over (keyspace, key) plus transaction claims."""

    def __init__(self, stripes: int = STRIPES) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]
        self._mask = stripes - 1
        assert stripes & self._mask == 0, "stripes must be a power of two"
        self._claims: dict[tuple[str, bytes], object] = {}
        self._claims_mutex = threading.Lock()

    def hold(self, keys: Iterable[tuple[str, bytes]]) -> Held:
        """Hold the stripes of every (keyspace, key), taken in ascending order, for a
        ``with`` block."""
        mask = self._mask
        return Held([self._locks[s] for s in sorted({hash(k) & mask for k in keys})])

    def barrier(self) -> None:
        """Wait until every writer holding a stripe now has released it (take and release
        every stripe in order): a writer that starts later sees what was changed before."""
        for lock in self._locks:
            with lock:
                pass

    def lock_one(self, keyspace: str, key: bytes) -> threading.Lock:
        """The mutex of one key (use as a context manager)."""
        return self._locks[hash((keyspace, key)) & self._mask]

    def is_claimed(self, keyspace: str, key: bytes, owner: object = None) -> bool:
        """Whether a transaction other than ``owner`` claims the key."""
        holder = self._claims.get((keyspace, key))
        return holder is not None and holder is not owner

    def claim(self, keys: list[tuple[str, bytes]], owner: object) -> list[int]:
        """Claim every key for ``owner``; on any conflict claim none and return the indexes
        (into ``keys``) already claimed by another owner."""
        with self._claims_mutex:
            claims = self._claims
            busy = [i for i, k in enumerate(keys) if claims.get(k, owner) is not owner]
            if not busy:
                for k in keys:
                    claims[k] = owner
            return busy

    def release_claims(self, keys: list[tuple[str, bytes]], owner: object) -> None:
        with self._claims_mutex:
            claims = self._claims
            for k in keys:
                if claims.get(k) is owner:
                    del claims[k]

    def _check(self) -> None:
        assert all(not lock.locked() for lock in self._locks), "a stripe is still held"


class Held:
    """Stripe locks to take in the given order on ``with`` and release on leaving it
    (KeyLocks.hold). If taking one fails, the ones taken are released."""

    __slots__ = ("_locks", "_taken")

    def __init__(self, locks: list[threading.Lock]) -> None:
        self._locks = locks
        self._taken = 0

    def __enter__(self) -> None:
        try:
            for lock in self._locks:
                lock.acquire()
                self._taken += 1
        except BaseException:  # (an interrupt): ``with`` will not call __exit__
            self.__exit__()
            raise

    def __exit__(self, *exc_info: object) -> None:
        locks = self._locks
        while self._taken:
            self._taken -= 1
            locks[self._taken].release()
