"""Capacity units and token buckets, with a clock the test advances."""

import pytest

from engine.capacity import Meter, TokenBucket, read_units, scan_read_units, write_units
from engine.errors import ProvisionedThroughputExceededException


@pytest.mark.parametrize(
    "size, consistent, transactional, units",
    [
        (0, False, False, 0.5),
        (1, True, False, 1.0),
        (4096, True, False, 1.0),
        (4097, True, False, 2.0),
        (4097, False, False, 1.0),
        (8192, False, True, 4.0),
    ],
)
def test_read_units(size, consistent, transactional, units):
    assert read_units(size, consistent=consistent, transactional=transactional) == units


def test_scan_units_are_on_the_total_not_per_item():
    assert scan_read_units(10 * 100, consistent=True) == 1.0
    assert scan_read_units(3 * 4096 + 1, consistent=False) == 2.0


@pytest.mark.parametrize(
    "old, new, transactional, units",
    [(0, 0, False, 1.0), (0, 1025, False, 2.0), (3000, 10, False, 3.0), (1024, 0, True, 2.0)],
)
def test_write_units(old, new, transactional, units):
    assert write_units(old, new, transactional=transactional) == units


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_bucket_holds_300_seconds_and_refills_at_rate():
    clock = Clock()
    b = TokenBucket(5, clock)
    assert b.tokens == 1500
    b.take(1500)
    assert not b.has_tokens()
    clock.now = 1.0
    assert b.has_tokens() and b.tokens == 5
    clock.now = 10_000.0
    b.has_tokens()
    assert b.tokens == 1500


def test_meter_admits_until_empty_and_allows_debt():
    clock = Clock()
    m = Meter(clock)
    m.configure("t", 1, 1)
    m.admit("t", "write")
    m.charge("t", "write", 400)  # one big write may overdraw the bucket
    with pytest.raises(ProvisionedThroughputExceededException):
        m.admit("t", "write")
    clock.now = 99.0
    with pytest.raises(ProvisionedThroughputExceededException):
        m.admit("t", "write")
    clock.now = 101.0
    m.admit("t", "write")
    m.admit("t", "read")
    m.configure("t", None, None)  # on demand: metered only
    m.charge("t", "write", 10_000)
    m.admit("t", "write")
    assert m.consumed[("t", "write")] == 10_400
