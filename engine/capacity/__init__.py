"""engine.capacity: DynamoDB's capacity units and provisioned-throughput throttling.

Units (DynamoDB's rules): a read of an item costs one unit per 4 KB of item size, rounded
up, at least one; half of that when eventually consistent, double when transactional. A
Query or Scan is charged on the total size it read (before the filter), rounded up to 4 KB.
A write costs one unit per 1 KB of the larger of the old and new item, at least one; double
when transactional.

Throttling: a PROVISIONED table has one token bucket for reads and one for writes, filled
at the provisioned rate and holding up to 300 seconds of it (DynamoDB's burst capacity); it
starts full. A request is refused with ProvisionedThroughputExceededException (retryable)
when its bucket is empty, and then charged what it actually consumed, so a bucket may go
negative and must refill before the next request. PAY_PER_REQUEST tables are metered, not
throttled.

Thread-safety: Meter is safe to call from any thread.
"""

from engine.capacity.meter import (
    BURST_SECONDS,
    Meter,
    TokenBucket,
    read_units,
    scan_read_units,
    write_units,
)

__all__ = [
    "BURST_SECONDS",
    "Meter",
    "TokenBucket",
    "read_units",
    "scan_read_units",
    "write_units",
]
