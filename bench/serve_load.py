"""A raw-HTTP load generator for bench/serve.py: pre-built requests, keep-alive, no boto3.

Each process runs an event loop (uvloop when installed) with ``conns`` connections; each
connection sends one request, waits for its whole answer, then sends the next (no
pipelining, as SDKs do). Requests are bytes built once up front, and an answer is read
only as far as its status line and Content-Length, so the client spends a few
microseconds of CPU per request: on a machine with few cores, whatever CPU the client
does not use is left to the server under test.

Used by bench/serve.py (``run_load``); also runnable alone against any endpoint:

    python -m bench.serve_load --port 8000 --op GetItem --procs 2 --conns 8 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import time

__all__ = ["build_requests", "run_load"]

AUTH = (
    "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=" + "0" * 64
)
VALUE = "v" * 100
STALL_GRACE_S = 15.0  # past the run's end, a connection still waiting for an answer is given up


def build_requests(
    port: int, op: str, worker: int, count: int = 1000, credentials: tuple[str, str] | None = None
) -> list[bytes]:
    """Complete HTTP/1.1 requests for ``op`` (PutItem or GetItem) on table ``bench``,
    keys ``w<worker % 8>-<i>`` for i below ``count``, with sort key 0, as bench/serve.py
    fills them: ``count`` GetItems, or 2 x ``count`` PutItems, two passes over the keys
    with two different values, so that sent round and round every PutItem changes its
    item (a server may skip writing an item equal to the one stored: shale does).

    With ``credentials`` (key id, secret) each request is signed by botocore now, as an
    SDK signs it (valid for the 15 minutes a server allows); without, every request
    carries the same well-formed signature, which only an open server accepts."""
    out = []
    for i in range(2 * count if op == "PutItem" else count):
        key = {"pk": {"S": f"w{worker % 8}-{i % count}"}, "sk": {"N": "0"}}
        if op == "PutItem":
            value = ("a" if i < count else "b") + VALUE[1:]  # the same size either way
            body = {"TableName": "bench", "Item": {**key, "v": {"S": value}}}
        elif op == "GetItem":
            body = {"TableName": "bench", "Key": key}
        else:
            raise ValueError(f"no raw requests for {op}")
        data = json.dumps(body).encode()
        if credentials is not None:
            out.append(_signed(port, op, data, credentials))
            continue
        head = (
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            f"X-Amz-Target: DynamoDB_20120810.{op}\r\n"
            "X-Amz-Date: 20250101T000000Z\r\n"
            f"Authorization: {AUTH}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        out.append(head.encode() + data)
    return out


def _signed(port: int, op: str, data: bytes, credentials: tuple[str, str]) -> bytes:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/",
        data=data,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{op}",
        },
    )
    SigV4Auth(Credentials(*credentials), "dynamodb", "us-east-1").add_auth(request)
    headers = {"Host": f"127.0.0.1:{port}", **dict(request.headers.items())}
    headers["Content-Length"] = str(len(data))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST / HTTP/1.1\r\n{head}\r\n".encode() + data


class _Client(asyncio.Protocol):
    def __init__(
        self, requests: list[bytes], deadline: float, done: asyncio.Future, port: int
    ) -> None:
        self.port = port
        self.reconnecting = False
        self.requests = requests
        self.deadline = deadline
        self.done = done
        self.buf = b""
        self.count = 0
        self.errors = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buf = b""
        self.send()

    def send(self) -> None:
        self.transport.write(self.requests[self.count % len(self.requests)])  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            at = buf.find(b"Content-Length: ", 0, end)
            if at < 0:
                at = buf.lower().find(b"content-length: ", 0, end)
            length = int(buf[at + 16 : buf.find(b"\r\n", at, end + 2)])
            if len(buf) < end + 4 + length:
                break
            if buf[9:12] != b"200":
                self.errors += 1
            closing = buf.lower().find(b"\r\nconnection: close", 0, end) >= 0
            buf = buf[end + 4 + length :]
            self.count += 1
            if time.perf_counter() >= self.deadline:
                self.transport.close()  # type: ignore[union-attr]
                if not self.done.done():
                    self.done.set_result(None)
                return
            if closing:  # a server that closes after each answer (moto): dial again
                self.reconnecting = True
                self.transport.close()  # type: ignore[union-attr]
                return
            self.send()
        self.buf = buf

    def connection_lost(self, exc) -> None:
        if self.reconnecting and not self.done.done():
            self.reconnecting = False
            asyncio.get_running_loop().create_task(self._reconnect())
        elif not self.done.done():
            self.done.set_result(None)

    async def _reconnect(self) -> None:
        try:
            await asyncio.get_running_loop().create_connection(lambda: self, "127.0.0.1", self.port)
        except OSError:
            if not self.done.done():
                self.done.set_result(None)


async def _drive(
    port: int, requests: list[bytes], conns: int, seconds: float
) -> tuple[int, int, float]:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    deadline = started + seconds
    clients = []
    for c in range(conns):
        done = loop.create_future()
        _, proto = await loop.create_connection(
            lambda d=done, c=c: _Client(requests[c * 37 :] + requests[: c * 37], deadline, d, port),
            "127.0.0.1",
            port,
        )
        clients.append(proto)
    stalled = 0
    try:
        await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), seconds + STALL_GRACE_S)
    except TimeoutError:
        # A server that stopped answering: count each connection still waiting as an
        # error rather than wait for ever.
        for c in clients:
            if not c.done.done():
                stalled += 1
                c.transport.close()
    elapsed = time.perf_counter() - started
    return sum(c.count for c in clients), sum(c.errors for c in clients) + stalled, elapsed


def _process(port, op, worker, conns, seconds, credentials, barrier, out) -> None:
    requests = build_requests(port, op, worker, credentials=credentials)
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    barrier.wait()  # every process has built its requests: start together
    with asyncio.Runner(loop_factory=factory) as runner:
        out.put(runner.run(_drive(port, requests, conns, seconds)))


def run_load(
    port: int,
    op: str,
    procs: int,
    conns: int,
    seconds: float,
    credentials: tuple[str, str] | None = None,
) -> tuple[int, int, float]:
    """Drive ``op`` at 127.0.0.1:``port`` from ``procs`` processes of ``conns``
    connections for ``seconds``: (answers, non-200 answers, elapsed seconds of the
    longest process, counted once all have built their requests). With ``credentials``
    the requests are signed (see :func:`build_requests`)."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    barrier = ctx.Barrier(procs)
    ps = [
        ctx.Process(target=_process, args=(port, op, w, conns, seconds, credentials, barrier, out))
        for w in range(procs)
    ]
    for p in ps:
        p.start()
    results = [out.get() for _ in ps]
    for p in ps:
        p.join()
    return (
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        max(r[2] for r in results),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_load", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--op", default="GetItem", choices=("GetItem", "PutItem"))
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--conns", type=int, default=8, help="connections per process")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    n, errors, elapsed = run_load(args.port, args.op, args.procs, args.conns, args.seconds)
    print(f"{args.op}: {n / elapsed:,.0f}/s ({n} answers, {errors} not 200, {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
