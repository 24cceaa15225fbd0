"""Capacity units and token buckets; see the package docstring for DynamoDB's rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine.errors import ProvisionedThroughputExceededException

__all__ = [
    "BURST_SECONDS",
    "Meter",
    "TokenBucket",
    "read_units",
    "scan_read_units",
    "write_units",
]

BURST_SECONDS = 300.0
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
MSG_THROTTLED = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    """Units for a point read of an item of ``size`` bytes (0 for a missing item)."""
    units = max(1, -(-size // READ_UNIT_BYTES))
    if transactional:
        return float(units * 2)
    return float(units) if consistent else units / 2


def scan_read_units(size: int, *, consistent: bool) -> float:
    """Units for a Query or Scan page that read ``size`` bytes in total."""
    units = max(1, -(-size // READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def write_units(old_size: int, new_size: int, *, transactional: bool = False) -> float:
    """Units for a write replacing an item of ``old_size`` bytes by one of ``new_size``."""
    size = old_size if old_size > new_size else new_size  # (no max(): every write runs this)
    units = -(-size // WRITE_UNIT_BYTES) or 1
    return float(units * 2 if transactional else units)


class TokenBucket:
    """``rate`` tokens per second, holding at most ``rate * BURST_SECONDS``; starts full."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = rate * BURST_SECONDS
        self.tokens = self.capacity
        self._clock = clock
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now

    def set_rate(self, rate: float) -> None:
        self._refill()
        self.rate = rate
        self.capacity = rate * BURST_SECONDS
        self.tokens = min(self.tokens, self.capacity)

    def has_tokens(self) -> bool:
        self._refill()
        return self.tokens > 0

    def take(self, units: float) -> None:
        self._refill()
        self.tokens -= units


class Meter:
    """Per-table buckets (PROVISIONED tables) and consumed-unit totals (every table)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._mutex = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.consumed: dict[tuple[str, str], float] = {}

    def configure(self, table_id: str, read_rate: float | None, write_rate: float | None) -> None:
        """Set a table's provisioned rates (None: on demand, not throttled)."""
        with self._mutex:
            for kind, rate in (("read", read_rate), ("write", write_rate)):
                key = (table_id, kind)
                if rate is None:
                    self._buckets.pop(key, None)
                elif key in self._buckets:
                    self._buckets[key].set_rate(rate)
                else:
                    self._buckets[key] = TokenBucket(rate, self._clock)

    def forget(self, table_id: str) -> None:
        with self._mutex:
            for kind in ("read", "write"):
                self._buckets.pop((table_id, kind), None)
                self.consumed.pop((table_id, kind), None)

    def admit(self, table_id: str, kind: str) -> None:
        """Raise ProvisionedThroughputExceededException if the table's bucket is empty."""
        bucket = self._buckets.get((table_id, kind))
        if bucket is None:
            return
        with self._mutex:
            if not bucket.has_tokens():
                raise ProvisionedThroughputExceededException(MSG_THROTTLED)

    def charge(self, table_id: str, kind: str, units: float) -> None:
        """Record ``units`` consumed by a request that was admitted."""
        with self._mutex:
            key = (table_id, kind)
            self.consumed[key] = self.consumed.get(key, 0.0) + units
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.take(units)
