"""What an idle gap between requests costs the server's next request, in process.

Run: `python -m bench.idle_gap`.

A server driven by one boto3 thread sits idle for about a millisecond between requests
while the client works. On some machines (virtual ones especially) the next request
then runs much slower than back-to-back: the halted CPU comes back with cold caches.
This times the server's own work for one request (App.process: signature check, JSON,
validation, the operation, the reply) for PutItem and a 25-item BatchWriteItem, with
sleeps of 0 to 3 ms between calls, and reports the median per call. A large ratio
between the gap rows and the no-gap row explains why single-client ratios against a
near-idle floor server swing from round to round (bench/serve_ratio.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import orjson

from bench.serve import ATTRS, KEY_SCHEMA, request_params
from bench.serve_load import AUTH
from engine.api import Service
from engine.server.app import App, inline_operations
from engine.server.http import Request
from engine.storage import Store

GAPS_MS = (0.0, 0.3, 1.0, 3.0)


def _headers(op: str) -> dict[str, str]:
    return {
        "host": "127.0.0.1:8000",
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": f"DynamoDB_20120810.{op}",
        "x-amz-date": "20250101T000000Z",
        "authorization": AUTH,
    }


def _bodies(op: str, count: int) -> list[bytes]:
    return [orjson.dumps(request_params(op, i, 0)) for i in range(count)]


def measure(app: App, op: str, bodies: list[bytes], gap_s: float) -> float:
    """Median microseconds of App.process over ``bodies``, sleeping ``gap_s`` between."""
    headers = _headers(op)
    times = []
    for body in bodies:
        request = Request("POST", "/", "", headers, body)
        started = time.perf_counter()
        status, reply = app.process(op, request)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{op} answered {status}: {reply[:200]!r}")
        if gap_s:
            time.sleep(gap_s)
    return statistics.median(times) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_gap", description=__doc__)
    parser.add_argument("--calls", type=int, default=500, help="calls per op and gap")
    parser.add_argument("--durability", default="group", choices=("sync", "group", "off"))
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as data:
        store = Store.open(os.path.join(data, "db"), durability=args.durability)
        service = Service(store)
        app = App(service, inline_operations=inline_operations(args.durability))
        try:
            service.handle(
                "CreateTable",
                {
                    "TableName": "bench",
                    "KeySchema": KEY_SCHEMA,
                    "AttributeDefinitions": ATTRS,
                    "BillingMode": "PAY_PER_REQUEST",
                },
            )
            n = args.calls
            ops = {op: _bodies(op, n * (len(GAPS_MS) + 1)) for op in ("PutItem", "BatchWriteItem")}
            for op, bodies in ops.items():
                measure(app, op, bodies[:n], 0.0)  # warm: the items exist from here on
            for k, gap_ms in enumerate(GAPS_MS, start=1):
                got = {
                    op: measure(app, op, bodies[k * n : (k + 1) * n], gap_ms / 1e3)
                    for op, bodies in ops.items()
                }
                rows.append((gap_ms, got))
                print(f"gap {gap_ms} ms: {got}", file=sys.stderr)
        finally:
            app.close()
            service.close()
            store.close()
    base = rows[0][1]
    lines = [
        f"# Server work per request after an idle gap ({os.cpu_count()} CPUs, in process, "
        f"durability {args.durability}, median of {args.calls} calls)",
        "",
        "| idle gap before each call | PutItem | BatchWriteItem (25 items) |",
        "|---|---|---|",
    ]
    for gap_ms, got in rows:
        cells = [f"{got[op]:,.0f} us ({got[op] / base[op]:.1f}x)" for op in got]
        lines.append(f"| {gap_ms:g} ms | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
