"""The floor of bench/serve.py: a server that answers every request with a canned ``{}``.

It reads each request whole, then answers 200 with ``{}`` and the headers shale sends
(content type, length, request id, CRC32): the fastest any DynamoDB-compatible server can
look through boto3 from Python, since what is left is the client's and the HTTP stack's
cost.

With ``--replies FILE`` (a JSON object: operation name -> reply body) it answers those
operations with the given body instead: a replay floor. A ``{}`` answer to a Query that
should return 100 items spares boto3 the parsing of those items, which costs it more
than the whole round trip of an empty answer; replaying a correct reply measures the
fastest a server that answers correctly can look. Two stacks:

- default: engine.server.http (httptools on uvloop), the stack ``shale serve`` runs on;
- ``--uvicorn``: the same answer from a bare ASGI app under uvicorn (httptools, uvloop),
  the stack shale ran on before, kept as a reference point when uvicorn is installed.

Run: ``python -m bench.serve_floor --port N [--uvicorn]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import zlib

from engine.server.http import Connection, HTTPServer, Request

BODY = b"{}"
JSON_TYPE = b"application/x-amz-json-1.0"
REQUEST_ID = b"FLOOR0000000000000000000000000000000000000000000000000"
EXTRA = b"x-amzn-RequestId: %s\r\nx-amz-crc32: %d\r\n" % (REQUEST_ID, zlib.crc32(BODY))
HEADERS = [
    (b"content-type", JSON_TYPE),
    (b"content-length", str(len(BODY)).encode()),
    (b"x-amzn-requestid", REQUEST_ID),
    (b"x-amz-crc32", str(zlib.crc32(BODY)).encode()),
]


def handler(request: Request, conn: Connection) -> None:
    conn.respond(request, 200, BODY, JSON_TYPE, EXTRA)


def replay_handler(replies: dict[str, str]):
    """A handler answering each operation in ``replies`` with its body, others ``{}``."""
    answers = {}
    for op, text in replies.items():
        body = text.encode()
        extra = b"x-amzn-RequestId: %s\r\nx-amz-crc32: %d\r\n" % (REQUEST_ID, zlib.crc32(body))
        answers[op] = (body, extra)

    def replay(request: Request, conn: Connection) -> None:
        op = request.headers.get("x-amz-target", "").rpartition(".")[2]
        body, extra = answers.get(op, (BODY, EXTRA))
        conn.respond(request, 200, body, JSON_TYPE, extra)

    return replay


async def app(scope, receive, send):
    """The same floor as an ASGI app, for uvicorn."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def _serve(port: int, answer=handler) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = HTTPServer(
        answer, max_body_bytes=16 << 20, error_reply=lambda status: (BODY, JSON_TYPE, EXTRA)
    )
    await server.start([sock])
    await stop.wait()
    await server.drain(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_floor", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvicorn", action="store_true", help="serve the ASGI floor on uvicorn")
    parser.add_argument(
        "--replies",
        help="a JSON file mapping operation names to reply bodies: replay those, not {}",
    )
    args = parser.parse_args(argv)
    if args.uvicorn:
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
        return 0
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        if args.replies:
            with open(args.replies) as f:
                runner.run(_serve(args.port, replay_handler(json.load(f))))
        else:
            runner.run(_serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
