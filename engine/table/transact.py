"""Transactions: all-or-nothing writes and consistent reads over any tables.

TransactWriteItems: the transaction first *claims* every key it touches (a claim held by
another transaction cancels this one with a TransactionConflict reason at that action), then
holds the keys' stripe locks in ascending order, reads every current item, lets each action
decide its new item (raising when its condition fails), and commits every change in one
storage batch, so a crash or a reader sees all of it or none. A failed action cancels the
whole transaction with one reason per action, in action order.

TransactGetItems reads every item at one storage snapshot; a batch is atomic, so the
snapshot sees each transaction whole. A key claimed by an in-flight transaction cancels the
read with TransactionConflict, as DynamoDB does.

ClientRequestToken idempotency: :class:`TokenCache` remembers, for 10 minutes, the request
fingerprint and the result of each token.

Thread-safety: every function may be called from any thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from engine.errors import ConditionalCheckFailedException, DynamoDBError
from engine.storage import WriteBatch
from engine.table.locks import KeyLocks
from engine.table.table import MSG_TXN_CONFLICT, Mutation, Table, mutation_of

__all__ = [
    "Cancelled",
    "Reason",
    "TokenCache",
    "TxnAction",
    "transact_get",
    "transact_write",
]

TOKEN_TTL_S = 600.0


@dataclass(slots=True)
class TxnAction:
    """One action: ``decide(old)`` returns the new item (or (item, size)), None to delete,
    or ``old`` itself (the same object) to write nothing (ConditionCheck)."""

    table: Table
    skey: bytes
    decide: Callable[[dict | None], dict | None]


@dataclass(slots=True)
class Reason:
    """Why one action cancelled a transaction; ``code`` is DynamoDB's reason code."""

    code: str
    message: str | None = None
    item: dict | None = None


class Cancelled(Exception):
    """A transaction was cancelled; ``reasons`` has one entry per action (None: no fault)."""

    def __init__(self, reasons: list[Reason | None]) -> None:
        super().__init__(reasons)
        self.reasons = reasons


def _changes(m: Mutation) -> bool:
    """Whether a decided action writes anything (a ConditionCheck returns the old item
    itself; an update may leave the item as it was; deleting a missing item is nothing)."""
    return m.new is not m.old and m.new != m.old


def _claim(locks: KeyLocks, keys: list[tuple[str, bytes]], owner: object) -> None:
    busy = locks.claim(keys, owner)
    if busy:
        reasons: list[Reason | None] = [None] * len(keys)
        for i in busy:
            reasons[i] = Reason("TransactionConflict", MSG_TXN_CONFLICT)
        raise Cancelled(reasons)


def transact_write(locks: KeyLocks, actions: list[TxnAction]) -> list[Mutation]:
    """Run the actions atomically. Raises Cancelled."""
    keys = [(a.table.keyspace, a.skey) for a in actions]
    owner = object()
    _claim(locks, keys, owner)
    try:
        with locks.hold(keys):
            store = actions[0].table.store
            muts: list[Mutation] = []
            reasons: list[Reason | None] = []
            failed = False
            for a in actions:
                old, old_size = a.table.get_sized(a.skey)
                try:
                    m = mutation_of(old, old_size, a.decide(old))
                    if _changes(m):
                        for hook in a.table.hooks:
                            hook.check(a.table, m)
                except ConditionalCheckFailedException as exc:
                    reasons.append(Reason("ConditionalCheckFailed", exc.message, exc.item))
                    failed = True
                    continue
                except DynamoDBError as exc:
                    reasons.append(Reason("ValidationError", exc.message))
                    failed = True
                    continue
                reasons.append(None)
                muts.append(m)
            if failed:
                raise Cancelled(reasons)
            batch = WriteBatch()
            changed = [(a, m) for a, m in zip(actions, muts, strict=True) if _changes(m)]
            for a, m in changed:
                a.table.stage(batch, a.skey, m)
            if changed:
                seqno = store.write(batch)
                for a, m in changed:
                    m.seqno = seqno
                    a.table.note_write(m)
            return muts
    finally:
        locks.release_claims(keys, owner)


def transact_get(
    locks: KeyLocks, reads: list[tuple[Table, bytes]]
) -> list[tuple[dict | None, int]]:
    """(item or None, size) of every (table, key), read at one snapshot. Raises Cancelled on
    a claimed key."""
    busy = [i for i, (t, k) in enumerate(reads) if locks.is_claimed(t.keyspace, k)]
    if busy:
        reasons: list[Reason | None] = [None] * len(reads)
        for i in busy:
            reasons[i] = Reason("TransactionConflict", MSG_TXN_CONFLICT)
        raise Cancelled(reasons)
    if not reads:
        return []
    with reads[0][0].store.snapshot() as snap:
        return [t.get_sized(k, snap) for t, k in reads]


class TokenCache:
    """ClientRequestToken -> (fingerprint, result) for ``ttl_s`` seconds.

    botocore gives every TransactWriteItems call a token of its own (the model marks it
    an idempotency token), so with boto3 clients every transaction leaves an entry for
    the whole window. Entries are kept in the order they were remembered, so expiry
    drops the oldest from the front: each call costs the same however many are held
    (a scan of them all per lookup grew to a millisecond a transaction at 40,000).
    """

    MISMATCH = object()  # lookup()'s result for a token reused with other parameters

    def __init__(self, ttl_s: float = TOKEN_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, bytes, object]] = OrderedDict()
        self._mutex = threading.Lock()
        # token -> [its mutex, requests holding or waiting for it], while any does
        self._inflight: dict[str, list] = {}

    @contextmanager
    def hold(self, token: str) -> Iterator[None]:
        """Serialize the requests that carry ``token``, for the ``with`` block. The
        token's mutex exists only while a request holds or waits for it."""
        with self._mutex:
            entry = self._inflight.get(token)
            if entry is None:
                entry = self._inflight[token] = [threading.Lock(), 0]
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._mutex:
                entry[1] -= 1
                if not entry[1]:
                    del self._inflight[token]

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            remembered_at = next(iter(entries.values()))[0]
            if now - remembered_at <= self.ttl_s:
                return
            entries.popitem(last=False)

    def lookup(self, token: str, fingerprint: bytes) -> tuple[bool, object]:
        """(found, result); found with a different fingerprint is (True, MISMATCH)."""
        with self._mutex:
            self._expire(time.monotonic())
            entry = self._entries.get(token)
        if entry is None:
            return False, None
        if entry[1] != fingerprint:
            return True, TokenCache.MISMATCH
        return True, entry[2]

    def remember(self, token: str, fingerprint: bytes, result: object) -> None:
        with self._mutex:
            self._entries[token] = (time.monotonic(), fingerprint, result)
            self._entries.move_to_end(token)  # (a token remembered again starts anew)
