"""Servers speaking DynamoDB's wire protocol, side by side: `python -m bench.serve`.

Each server runs as its own process on 127.0.0.1:
- shale: `shale serve` (durability --durability, default group);
- shale-sigv4: the same with --credentials, so every request's SigV4 signature is checked
  (the raw requests are then signed by botocore as an SDK signs them);
- moto: moto's server (`python -m moto.server`), when moto is installed;
- dynalite: `node <dynalite>/cli.js`, when Node and dynalite are found (--dynalite DIR, or
  node_modules/dynalite under the current directory or /tmp/dyn);
- floor: bench/serve_floor.py, a canned `{}` on the same HTTP stack as shale
  (engine.server.http): the fastest any DynamoDB-compatible server can look through boto3;
- floor-uvicorn: the same canned `{}` as a bare ASGI app under uvicorn, when uvicorn is
  installed: the stack shale ran on before, for reference;
- least: bench/serve_least.py, the least a correct GetItem and PutItem can do on shale's
  stack and storage engine (no validation, capacity, auth or hooks): a lower bound for
  shale's CPU per request, not a server (`--servers floor,least,shale,dynalite`).

Two measurements:
1. boto3 (one client per thread, 1 and 8 threads): PutItem, GetItem, Query returning 100
   items, BatchWriteItem of 25 items; calls per second.
2. raw HTTP: pre-signed PutItem and GetItem requests sent with keep-alive by
   bench/serve_load.py from --procs processes of --conns connections each for --seconds,
   not through boto3 (whose ~600 us of client CPU a call would hide the server): server
   requests per second and the server process's CPU per request (user + system of all
   its threads and of its child processes, from /proc: shale flushes and compacts in a
   worker process), counted until the server is idle again, so the work the requests
   left behind (a memtable flush) is theirs.

On a machine with few cores the clients compete with the server for CPU: read the CPU per
request as the server's cost, and requests per second as what this machine sustained.

Output: the markdown table on stdout (and --markdown FILE), the numbers as JSON (--json).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.report import save_outputs
from bench.serve_load import run_load

ROOT = Path(__file__).resolve().parent.parent
AUTH = (
    "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=" + "0" * 64
)
KEY_SCHEMA = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
ATTRS = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "N"},
]
VALUE = "v" * 100
CREDENTIALS = ("bench", "bench")  # what the boto3 clients sign with; shale-sigv4 checks it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def find_dynalite(given: str | None) -> Path | None:
    if shutil.which("node") is None:
        return None
    for base in [given, os.getcwd(), "/tmp/dyn"]:
        if base:
            cli = Path(base) / "node_modules" / "dynalite" / "cli.js"
            if cli.exists():
                return cli
            if (Path(base) / "cli.js").exists():
                return Path(base) / "cli.js"
    return None


def _family(pid: int) -> list[int]:
    """``pid`` and its living descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:  # gone meanwhile
            continue
    return out


def _process_cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0
    return int(fields[11]) + int(fields[12])


class Server:
    def __init__(self, name: str, cmd: list[str], port: int) -> None:
        self.name, self.cmd, self.port = name, cmd, port
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_http(self.port)
        return self

    def cpu_s(self) -> float:
        """CPU seconds (user + system) of the server process and of its living child
        processes (shale's flush and compaction worker): all the work it does."""
        assert self.proc is not None
        return sum(_process_cpu_ticks(pid) for pid in _family(self.proc.pid)) / os.sysconf(
            "SC_CLK_TCK"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_servers(names: list[str], durability: str, data: str, dynalite: Path | None):
    out = []
    for name in names:
        port = free_port()
        if name in ("shale", "shale-sigv4"):
            cmd = [sys.executable, "-m", "engine.server.cli", "serve", "--port", str(port)]
            cmd += ["--data", os.path.join(data, name), "--durability", durability]
            cmd += ["--log-level", "warning"]
            if name == "shale-sigv4":
                path = os.path.join(data, "credentials")
                Path(path).write_text(
                    f"[bench]\naws_access_key_id = {CREDENTIALS[0]}\n"
                    f"aws_secret_access_key = {CREDENTIALS[1]}\n"
                )
                cmd += ["--credentials", path]
        elif name == "moto":
            if (
                importlib.util.find_spec("moto") is None
                or importlib.util.find_spec("flask") is None
            ):
                print("moto: moto[server] is not installed, skipped", file=sys.stderr)
                continue
            cmd = [sys.executable, "-m", "moto.server", "-p", str(port)]
        elif name == "dynalite":
            if dynalite is None:
                print(
                    "dynalite: not found (Node or node_modules/dynalite), skipped", file=sys.stderr
                )
                continue
            cmd = ["node", str(dynalite), "--port", str(port)]
        elif name == "floor":
            cmd = [sys.executable, "-m", "bench.serve_floor", "--port", str(port)]
        elif name == "floor-uvicorn":
            if importlib.util.find_spec("uvicorn") is None:
                print("floor-uvicorn: uvicorn is not installed, skipped", file=sys.stderr)
                continue
            cmd = [sys.executable, "-m", "bench.serve_floor", "--uvicorn", "--port", str(port)]
        elif name == "least":
            cmd = [sys.executable, "-m", "bench.serve_least", "--port", str(port)]
            cmd += ["--durability", durability]
        else:
            raise SystemExit(f"unknown server {name}")
        out.append(Server(name, cmd, port))
    return out


# ------------------------------------------------------------------------------ boto3


def boto3_client(port: int):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS[0],
        aws_secret_access_key=CREDENTIALS[1],
        config=Config(retries={"max_attempts": 0}, max_pool_connections=16),
    )


def _value(i: int) -> str:
    """VALUE made unique to call ``i`` at the same size: every PutItem and BatchWriteItem
    then changes its item (a server may skip writing an item equal to the one stored:
    shale does)."""
    tag = str(i)
    return tag + VALUE[len(tag) :]


def request_params(op: str, i: int, worker: int) -> dict:
    """The parameters of call ``i`` of ``worker`` for ``op`` (PutItem, GetItem, Query or
    BatchWriteItem): boto3's keyword arguments, and the request's JSON body as well."""
    if op == "PutItem":
        return {
            "TableName": "bench",
            "Item": {"pk": {"S": f"w{worker}-{i % 1000}"}, "sk": {"N": "0"}, "v": {"S": _value(i)}},
        }
    if op == "GetItem":
        return {
            "TableName": "bench",
            "Key": {"pk": {"S": f"w{worker}-{i % 1000}"}, "sk": {"N": "0"}},
        }
    if op == "Query":
        return {
            "TableName": "bench",
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "query"}},
        }
    if op == "BatchWriteItem":
        return {
            "RequestItems": {
                "bench": [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": f"b{worker}-{i % 40}"},
                                "sk": {"N": str(j)},
                                "v": {"S": _value(i)},
                            }
                        }
                    }
                    for j in range(25)
                ]
            }
        }
    raise ValueError(f"no requests for {op}")


_METHODS = {
    "PutItem": "put_item",
    "GetItem": "get_item",
    "Query": "query",
    "BatchWriteItem": "batch_write_item",
}


def boto3_calls(client, op: str, i: int, worker: int) -> None:
    getattr(client, _METHODS[op])(**request_params(op, i, worker))


def prepare(server: Server) -> None:
    c = boto3_client(server.port)
    try:
        c.create_table(
            TableName="bench",
            KeySchema=KEY_SCHEMA,
            AttributeDefinitions=ATTRS,
            BillingMode="PAY_PER_REQUEST",
        )
    except c.exceptions.ResourceInUseException:
        pass
    if not server.name.startswith("floor") and server.name != "least":  # no TableStatus there
        c.get_waiter("table_exists").wait(TableName="bench", WaiterConfig={"Delay": 0.1})
    for j in range(100):
        c.put_item(
            TableName="bench", Item={"pk": {"S": "query"}, "sk": {"N": str(j)}, "v": {"S": VALUE}}
        )
    for w in range(8):
        for i in range(200):  # GetItem keys cycle over 1000: absent ones are reads too
            c.put_item(
                TableName="bench",
                Item={"pk": {"S": f"w{w}-{i}"}, "sk": {"N": "0"}, "v": {"S": VALUE}},
            )


def run_boto3(server: Server, op: str, threads: int, calls: int) -> float:
    clients = [boto3_client(server.port) for _ in range(threads)]
    for c in clients:
        boto3_calls(c, op, 0, 0)  # warm the connection and botocore's caches
    per = max(1, calls // threads)
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for i in range(per):
                boto3_calls(clients[w], op, i, w)
        except BaseException as exc:
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return per * threads / elapsed


# ------------------------------------------------------------------------------ raw HTTP


def settle(server: Server, max_s: float = 30.0, window_s: float = 0.2) -> None:
    """Wait until ``server`` is idle: less than a tenth of a core for ``window_s``. Work
    a burst of requests leaves behind (an LSM store's flush and compaction after many
    writes) then counts toward that burst, not toward the next operation measured."""
    deadline = time.monotonic() + max_s
    last = server.cpu_s()
    while time.monotonic() < deadline:
        time.sleep(window_s)
        now = server.cpu_s()
        if now - last < 0.1 * window_s:
            return
        last = now


def run_raw(
    server: Server, op: str, procs: int, conns: int, seconds: float
) -> tuple[float, float, int]:
    """Requests per second, server CPU microseconds per request and errors for raw ``op``
    (signed for real when the server verifies signatures)."""
    credentials = CREDENTIALS if server.name == "shale-sigv4" else None
    settle(server)
    cpu0 = server.cpu_s()
    total, errors, elapsed = run_load(server.port, op, procs, conns, seconds, credentials)
    settle(server)  # background work the requests left (a memtable flush) is theirs
    cpu = server.cpu_s() - cpu0
    if errors:
        print(
            f"{server.name} {op}: {errors} answers not 200 or never sent, of {total}",
            file=sys.stderr,
        )
    return total / elapsed, 1e6 * cpu / max(1, total), errors


def sync_sweep(
    data: str, conns: list[int], procs: int, seconds: float, batch_calls: int = 0
) -> tuple[list[dict], list[dict]]:
    """Raw PutItem at a fresh sync-durability shale for each connection count: with one
    fsync per group, requests/s should grow with the writers in flight. Then, with
    ``batch_calls``, boto3 BatchWriteItem (25 items) from 1 and 8 threads: a batch's
    items share one fsync. Returns (PutItem rows, BatchWriteItem rows)."""
    (server,) = make_servers(["shale"], "sync", os.path.join(data, "sync"), None)
    server.name = "shale-sync"
    print("shale-sync: starting", file=sys.stderr)
    server.start()
    out = []
    try:
        prepare(server)
        for c in conns:
            rate, cpu_us, _ = run_raw(server, "PutItem", procs, c, seconds)
            out.append({"conns": procs * c, "requests_per_s": rate, "server_cpu_us": cpu_us})
            print(
                f"shale-sync: raw PutItem, {procs * c} in flight: {rate:,.0f}/s, "
                f"{cpu_us:,.0f} us CPU/request",
                file=sys.stderr,
            )
        batches = []
        for threads in (1, 8) if batch_calls else ():
            rate = run_boto3(server, "BatchWriteItem", threads, batch_calls)
            batches.append({"threads": threads, "calls_per_s": rate})
            print(
                f"shale-sync: boto3 BatchWriteItem, {threads} threads: {rate:,.0f} calls/s",
                file=sys.stderr,
            )
    finally:
        server.stop()
    return out, batches


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serve", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--servers", default="floor,floor-uvicorn,shale,shale-sigv4,moto,dynalite")
    parser.add_argument(
        "--calls", type=int, default=2000, help="boto3 calls per op and thread count"
    )
    parser.add_argument(
        "--moto-calls",
        type=int,
        default=300,
        help="boto3 calls against moto (its Query scans the table: 2000 take minutes)",
    )
    parser.add_argument("--threads", default="1,8")
    parser.add_argument("--ops", default="PutItem,GetItem,Query,BatchWriteItem")
    parser.add_argument(
        "--procs", type=int, default=max(2, os.cpu_count() or 2), help="raw HTTP processes"
    )
    parser.add_argument("--conns", type=int, default=8, help="raw HTTP connections per process")
    parser.add_argument("--seconds", type=float, default=3.0, help="raw HTTP seconds per op")
    parser.add_argument("--durability", default="group", choices=("sync", "group", "off"))
    parser.add_argument(
        "--sync-conns",
        default="1,4,16",
        help="also drive raw PutItem at a sync-durability shale with these connections per "
        "process, to show group commit sharing fsyncs ('' to skip)",
    )
    parser.add_argument("--dynalite", help="dynalite's directory (holding node_modules/dynalite)")
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument("--markdown", help="write the report here too")
    args = parser.parse_args(argv)

    names = [n for n in args.servers.split(",") if n]
    threads = [int(t) for t in args.threads.split(",")]
    ops = args.ops.split(",")
    results: dict = {
        "meta": {
            "cpus": os.cpu_count(),
            "durability": args.durability,
            "calls": args.calls,
            "procs": args.procs,
            "conns": args.conns,
            "load": os.getloadavg(),
        }
    }
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as data:
        for server in make_servers(names, args.durability, data, find_dynalite(args.dynalite)):
            print(f"{server.name}: starting", file=sys.stderr)
            server.start()
            try:
                prepare(server)
                r: dict = {"boto3": {}, "raw": {}}
                for op in ops:
                    for t in threads:
                        calls = args.moto_calls if server.name == "moto" else args.calls
                        rate = run_boto3(server, op, t, calls)
                        r["boto3"][f"{op}/{t}"] = rate
                        print(f"{server.name}: boto3 {op} x{t}: {rate:,.0f}/s", file=sys.stderr)
                for op in ("PutItem", "GetItem"):
                    rate, cpu_us, errors = run_raw(server, op, args.procs, args.conns, args.seconds)
                    r["raw"][op] = {
                        "requests_per_s": rate,
                        "server_cpu_us": cpu_us,
                        "errors": errors,
                    }
                    print(
                        f"{server.name}: raw {op}: {rate:,.0f}/s, {cpu_us:,.0f} us CPU/request",
                        file=sys.stderr,
                    )
                results[server.name] = r
            finally:
                server.stop()
        if args.sync_conns:
            sweep, batches = sync_sweep(
                data,
                [int(c) for c in args.sync_conns.split(",")],
                args.procs,
                args.seconds,
                args.calls // 4 if "BatchWriteItem" in ops else 0,
            )
            results["meta"]["sync_sweep"] = sweep
            results["meta"]["sync_batch_write"] = batches
    report = render(results, ops, threads)
    print(report)
    save_outputs(results, report, json_path=args.json, markdown_path=args.markdown)
    return 0


def render(results: dict, ops: list[str], threads: list[int]) -> str:
    servers = [k for k in results if k != "meta"]
    meta = results["meta"]
    lines = [
        f"# DynamoDB wire-protocol servers ({meta['cpus']} CPUs, shale durability "
        f"{meta['durability']}; raw HTTP {meta.get('procs')} processes x "
        f"{meta.get('conns')} connections)",
        "",
        "boto3 calls per second (one client per thread):",
        "",
        "| op | threads | " + " | ".join(servers) + " |",
        "|---|---|" + "---|" * len(servers),
    ]
    for op in ops:
        for t in threads:
            cells = [f"{results[s]['boto3'].get(f'{op}/{t}', 0):,.0f}" for s in servers]
            lines.append(f"| {op} | {t} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "raw HTTP (pre-signed, keep-alive, not boto3): server requests/s, server CPU/request:",
        "",
        "| op | " + " | ".join(servers) + " |",
        "|---|" + "---|" * len(servers),
    ]
    for op in ("PutItem", "GetItem"):
        cells = [
            f"{results[s]['raw'][op]['requests_per_s']:,.0f}/s, "
            f"{results[s]['raw'][op]['server_cpu_us']:,.0f} us"
            + (
                f" ({results[s]['raw'][op]['errors']} errors)"
                if results[s]["raw"][op].get("errors")
                else ""
            )
            for s in servers
        ]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios within this run:", ""]
    if "shale" in results and "floor" in results:
        for op in ops:
            for t in threads:
                floor = results["floor"]["boto3"].get(f"{op}/{t}")
                shale = results["shale"]["boto3"].get(f"{op}/{t}")
                if floor and shale:
                    lines.append(f"- boto3 {op} x{t}: shale / floor = {shale / floor:.0%}")
    for ours_name, peer in (("shale", "dynalite"), ("shale", "moto"), ("least", "dynalite")):
        if ours_name in results and peer in results:
            for op in ("PutItem", "GetItem"):
                ours = results[ours_name]["raw"][op]
                theirs = results[peer]["raw"][op]
                lines.append(
                    f"- raw {op}: {ours_name} / {peer} = "
                    f"{ours['requests_per_s'] / theirs['requests_per_s']:.1f}x requests/s, "
                    f"{theirs['server_cpu_us'] / ours['server_cpu_us']:.1f}x less CPU/request"
                )
    sweep = meta.get("sync_sweep")
    if sweep:
        lines += ["", "raw PutItem at shale in sync durability (fsync before each answer):", ""]
        lines += ["| requests in flight | requests/s | server CPU/request |", "|---|---|---|"]
        for row in sweep:
            lines.append(
                f"| {row['conns']} | {row['requests_per_s']:,.0f} | "
                f"{row['server_cpu_us']:,.0f} us |"
            )
    batches = meta.get("sync_batch_write")
    if batches:
        lines += [
            "",
            "boto3 BatchWriteItem (25 items) at shale in sync durability (one fsync per batch):",
            "",
            "| threads | calls/s | items/s |",
            "|---|---|---|",
        ]
        for row in batches:
            rate = row["calls_per_s"]
            lines.append(f"| {row['threads']} | {rate:,.0f} | {25 * rate:,.0f} |")
    load = meta.get("load")
    if load:
        lines += ["", f"Load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
