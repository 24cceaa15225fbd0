"""boto3, one thread: shale against the canned-``{}`` floor and a replay floor, interleaved.

Run: `python -m bench.serve_ratio`.

A boto3 call costs about a millisecond of client CPU here, so a single-thread rate
measures mostly the client, and on a shared two-core machine it drifts by tens of
percent between minutes (bench/serve.py measures each server in its own minutes). Here
both servers run at once and the client alternates short blocks of calls between them,
so drift hits both alike; the ratio reported per operation is the median over rounds of
(shale calls/s) / (floor calls/s).

Two floors. The canned ``{}`` is the issue's floor. For a reply with content it flatters
itself: boto3 parses every attribute of a 100-item Query reply, which costs the client
more than the whole round trip of ``{}``, so no server answering the Query correctly can
come near it. The replay floor (bench/serve_floor.py ``--replies``) answers each
operation with the very bytes shale answered its first call with: the fastest a server
that returns the right items can look through boto3.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from bench.serve import Server, boto3_calls, boto3_client, free_port, make_servers, prepare


def measure(client, op: str, calls: int, offset: int) -> float:
    t0 = time.perf_counter()
    for i in range(calls):
        boto3_calls(client, op, offset + i, 0)
    return calls / (time.perf_counter() - t0)


def record_replies(client, ops: list[str]) -> dict[str, str]:
    """The reply body ``client``'s server gives to the first call of each of ``ops``."""
    replies: dict[str, str] = {}
    current: list[str] = []

    def keep(response_dict=None, **_kwargs) -> None:
        if response_dict is not None:
            replies[current[0]] = response_dict["body"].decode()

    client.meta.events.register("response-received.dynamodb.*", keep)
    try:
        for op in ops:
            current[:] = [op]
            boto3_calls(client, op, 0, 0)
    finally:
        client.meta.events.unregister("response-received.dynamodb.*", keep)
    return replies


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
            shale = servers[1]
            ops = args.ops.split(",")
            path = os.path.join(data, "replies.json")
            with open(path, "w") as f:
                json.dump(record_replies(boto3_client(shale.port), ops), f)
            port = free_port()
            replay = Server(
                "replay",
                [sys.executable, "-m", "bench.serve_floor", "--port", str(port), "--replies", path],
                port,
            )
            servers.append(replay.start())
            clients = {s.name: boto3_client(s.port) for s in servers}
            lines = [
                f"# boto3, one thread: shale / floor, interleaved ({os.cpu_count()} CPUs, "
                f"durability {args.durability}, {args.rounds} rounds of {args.calls} calls)",
                "",
                "Medians over rounds; each ratio is the median of the rounds' ratios, with "
                "their range.",
                "",
                "| op | {} floor calls/s | replay floor calls/s | shale calls/s | "
                "shale / {} floor | shale / replay floor |",
                "|---|---|---|---|---|---|",
            ]
            for op in ops:
                for c in clients.values():
                    boto3_calls(c, op, 0, 0)  # warm
                rates: dict[str, list[float]] = {name: [] for name in clients}
                ratios: dict[str, list[float]] = {"floor": [], "replay": []}
                for r in range(args.rounds):
                    order = servers if r % 2 == 0 else servers[::-1]
                    got = {
                        s.name: measure(clients[s.name], op, args.calls, r * args.calls)
                        for s in order
                    }
                    for name, rate in got.items():
                        rates[name].append(rate)
                    for name in ratios:
                        ratios[name].append(got["shale"] / got[name])
                print(
                    f"{op}: shale / floor rounds {_percents(ratios['floor'])}; "
                    f"shale / replay rounds {_percents(ratios['replay'])}",
                    file=sys.stderr,
                )
                med = statistics.median
                lines.append(
                    f"| {op} | {med(rates['floor']):,.0f} | {med(rates['replay']):,.0f} | "
                    f"{med(rates['shale']):,.0f} | {_ratio(ratios['floor'])} | "
                    f"{_ratio(ratios['replay'])} |"
                )
        finally:
            for s in servers:
                s.stop()
    lines += ["", f"Load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"]
    print("\n".join(lines))
    return 0


def _percents(xs: list[float]) -> str:
    return ", ".join(f"{x:.0%}" for x in xs)


def _ratio(xs: list[float]) -> str:
    return f"{statistics.median(xs):.0%} ({min(xs):.0%}..{max(xs):.0%})"


if __name__ == "__main__":
    sys.exit(main())
