"""boto3, one thread: shale against the canned-``{}`` floor, interleaved.

Run: `python -m bench.serve_ratio`.

A boto3 call costs about a millisecond of client CPU here, so a single-thread rate
measures mostly the client, and on a shared two-core machine it drifts by tens of
percent between minutes (bench/serve.py measures each server in its own minutes). Here
both servers run at once and the client alternates short blocks of calls between them,
so drift hits both alike; the ratio reported per operation is the median over rounds of
(shale calls/s) / (floor calls/s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from bench.serve import boto3_calls, boto3_client, make_servers, prepare


def measure(client, op: str, calls: int, offset: int) -> float:
    t0 = time.perf_counter()
    for i in range(calls):
        boto3_calls(client, op, offset + i, 0)
    return calls / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_ratio", description=__doc__)
    parser.add_argument("--ops", default="PutItem,GetItem,Query,BatchWriteItem")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=150, help="calls per block")
    parser.add_argument("--durability", default="group", choices=("sync", "group", "off"))
    args = parser.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ratio-") as data:
        servers = make_servers(["floor", "shale"], args.durability, data, None)
        try:
            for s in servers:
                s.start()
                prepare(s)
            floor, shale = servers
            clients = {s.name: boto3_client(s.port) for s in servers}
            lines = [
                f"# boto3, one thread: shale / floor, interleaved ({os.cpu_count()} CPUs, "
                f"durability {args.durability}, {args.rounds} rounds of {args.calls} calls)",
                "",
                "| op | floor calls/s (median) | shale calls/s (median) | shale / floor "
                "(median of rounds) | min..max |",
                "|---|---|---|---|---|",
            ]
            for op in args.ops.split(","):
                for c in clients.values():
                    boto3_calls(c, op, 0, 0)  # warm
                f_rates, s_rates, ratios = [], [], []
                for r in range(args.rounds):
                    first, second = (floor, shale) if r % 2 == 0 else (shale, floor)
                    a = measure(clients[first.name], op, args.calls, r * args.calls)
                    b = measure(clients[second.name], op, args.calls, r * args.calls)
                    f, s = (a, b) if first is floor else (b, a)
                    f_rates.append(f)
                    s_rates.append(s)
                    ratios.append(s / f)
                print(f"{op}: rounds {', '.join(f'{x:.0%}' for x in ratios)}", file=sys.stderr)
                lines.append(
                    f"| {op} | {statistics.median(f_rates):,.0f} | "
                    f"{statistics.median(s_rates):,.0f} | {statistics.median(ratios):.0%} | "
                    f"{min(ratios):.0%}..{max(ratios):.0%} |"
                )
        finally:
            for s in servers:
                s.stop()
    lines += ["", f"Load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
