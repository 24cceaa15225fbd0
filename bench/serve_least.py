"""The least a correct GetItem and PutItem can cost on shale's HTTP stack: a lower bound.

bench/serve.py compares shale with dynalite by server CPU per request. The floor
(bench/serve_floor.py) shows what the HTTP stack costs answering ``{}``; this server
shows what it costs to do the least real work on top of it, on the same storage engine
shale uses:

- GetItem: parse the body, encode the table's key, read the store, decode the item,
  answer ``{"Item": ...}`` with its CRC32;
- PutItem: parse the body, encode the key and the item, write the store (the durability
  given, default group), answer ``{}``;
- anything else: ``{}`` (CreateTable and friends, so that bench/serve.py can prepare it).

Nothing else: no validation of any kind, no capacity accounting, no signature check, no
conditions, no index or stream hooks. It is not a server anyone should use; it answers
"how far could shale's own request handling shrink before the stack is all that is
left". Every request is served on the table ``bench`` with key ``pk`` (S) and ``sk`` (N),
as bench/serve.py and bench/serve_load.py use it.

Run: ``python -m bench.serve_least --port N [--durability group]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import socket
import tempfile
import zlib

import orjson

from engine.api import Service
from engine.codec import table_key
from engine.model import decode_sized_item, encode_sized_item, item_size
from engine.server.http import Connection, HTTPServer, Request
from engine.storage import Store

JSON_TYPE = b"application/x-amz-json-1.0"
EMPTY = b"{}"
TABLE = {
    "TableName": "bench",
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def least_handler(store: Store, service: Service):
    """The handler: GetItem and PutItem on table ``bench`` as cheaply as they can be."""
    table = service.ctx.table("bench")
    d = table.defn
    keyspace = table.keyspace
    attrs, hash_key, range_key = d.attributes, d.hash_key, d.range_key
    ids = itertools.count()
    loads, dumps, crc32 = orjson.loads, orjson.dumps, zlib.crc32

    def handle(request: Request, conn: Connection) -> None:
        op = request.headers.get("x-amz-target", "").rpartition(".")[2]
        body = EMPTY
        if op == "GetItem":
            skey = table_key(attrs, hash_key, range_key, loads(request.body)["Key"])
            data = store.get(keyspace, skey)
            if data is not None:
                body = dumps({"Item": decode_sized_item(data)[0]})
        elif op == "PutItem":
            item = loads(request.body)["Item"]
            skey = table_key(attrs, hash_key, range_key, item)
            store.put(keyspace, skey, encode_sized_item(item, item_size(item)))
        extra = b"x-amzn-RequestId: %052d\r\nx-amz-crc32: %d\r\n" % (next(ids), crc32(body))
        conn.respond(request, 200, body, JSON_TYPE, extra)

    return handle


async def _serve(port: int, durability: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with tempfile.TemporaryDirectory(prefix="bench-least-") as data:
        store = Store.open(data, durability=durability)
        service = Service(store)
        try:
            service.handle("CreateTable", TABLE)
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            server = HTTPServer(
                least_handler(store, service),
                max_body_bytes=16 << 20,
                error_reply=lambda status: (EMPTY, JSON_TYPE, b""),
            )
            await server.start([sock])
            await stop.wait()
            await server.drain(5)
        finally:
            service.close()
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_least", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--durability", default="group", choices=("sync", "group", "off"))
    args = parser.parse_args(argv)
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve(args.port, args.durability))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
