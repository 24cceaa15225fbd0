"""The ASGI application: DynamoDB's JSON 1.0 protocol over HTTP in front of engine.api.

One request is one ``POST /`` with ``X-Amz-Target: DynamoDB_20120810.<Operation>`` (or
``DynamoDBStreams_20120810.<Operation>``) and an ``application/x-amz-json-1.0`` body. The
app reads the body (refusing more than ``max_body_bytes``), checks the signature, then hands
the rest (inflate, parse, handle, encode) to a thread pool and answers with
``x-amzn-RequestId`` and ``x-amz-crc32`` (zlib.crc32 of the reply body) on every reply.
``GET /`` is a health check.

Why a thread pool: Service.handle() blocks on the store (a sync-durability write waits for
its fdatasync); running many at once lets the store's group commit batch concurrent writers
into one sync. Operations that never wait for a sync (reads; item writes in group or off
durability) run on the event loop thread instead: under the GIL the hop to a thread costs
more CPU than they do.

Errors: every refusal is a DynamoDB error body with its status (400 client errors, 413 an
oversized body, 500 an honest internal error, 503 when more requests are in flight than
``max_inflight``). Nothing a client sends can stop the app: any unexpected exception in a
request becomes a logged InternalServerError for that request only.

Thread-safety: the app runs on one event loop; its request counter is touched only there.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import zlib
from concurrent.futures import ThreadPoolExecutor

from engine.api import Service
from engine.errors import (
    DynamoDBError,
    InternalServerError,
    ServiceUnavailable,
    UnknownOperationException,
)
from engine.server.auth import Verifier
from engine.server.wire import (
    MAX_BODY_BYTES,
    MESSAGES,
    RequestTooLarge,
    decode_body,
    encode_error,
    encode_error_body,
    encode_reply,
)

__all__ = ["READ_OPERATIONS", "STREAMS_OPERATIONS", "WRITE_OPERATIONS", "App", "inline_operations"]

log = logging.getLogger(__name__)

DYNAMODB_PREFIX = "DynamoDB_20120810."
STREAMS_PREFIX = "DynamoDBStreams_20120810."
STREAMS_OPERATIONS = frozenset(("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"))
# Operations that never wait for an fsync: cheap enough to run on the event loop itself,
# which saves the thread hop (about 100 us of CPU a request, measured).
READ_OPERATIONS = frozenset(
    (
        "BatchGetItem",
        "DescribeEndpoints",
        "DescribeLimits",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "ListTagsOfResource",
        "Query",
        "Scan",
        "TransactGetItems",
    )
)
# Item writes: they wait for their fsync only in sync durability.
WRITE_OPERATIONS = frozenset(
    ("BatchWriteItem", "DeleteItem", "PutItem", "TransactWriteItems", "UpdateItem")
)
CONTENT_TYPES = frozenset(("application/x-amz-json-1.0", "application/json"))
JSON_TYPE = b"application/x-amz-json-1.0"

_HEALTH = b"healthy: shaledb\n"
_PROTOCOL_HEADERS = frozenset(
    (b"authorization", b"content-encoding", b"content-length", b"content-type", b"x-amz-target")
)


class App:
    """An ASGI app serving ``service``.

    Args:
        service: the operations to serve.
        verifier: SigV4 checking; ``Verifier()`` accepts any well-formed signature.
        max_body_bytes: the largest request body, before and after inflating.
        workers: threads running Service.handle().
        max_inflight: requests in the pool or waiting for it beyond which new ones get 503.
        inline_operations: operations run on the event loop thread, not in the pool: those
            that never block for long (see :func:`inline_operations`).
    """

    def __init__(
        self,
        service: Service,
        *,
        verifier: Verifier | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        workers: int = 32,
        max_inflight: int = 4096,
        inline_operations: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self.service = service
        self.verifier = verifier or Verifier()
        self.max_body_bytes = max_body_bytes
        self.max_inflight = max_inflight
        self.inline_operations = frozenset(inline_operations)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shale-req")
        self.inflight = 0
        # DynamoDB's request ids are 52 upper-case letters and digits.
        self._id_prefix = os.urandom(16).hex().upper()
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Wait for requests in the pool to finish and stop its threads."""
        self.pool.shutdown(wait=True)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict, receive, send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        request_id = f"{self._id_prefix}{next(self._ids):020d}"
        try:
            status, body = await self._serve(scope, receive)
        except Exception:
            log.exception("internal error serving a request")
            err = InternalServerError("Internal server error")
            status, body = err.http_status, encode_error(err)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", JSON_TYPE if body is not _HEALTH else b"text/plain"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                    (b"x-amz-crc32", str(zlib.crc32(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve(self, scope: dict, receive) -> tuple[int, bytes]:
        method = scope["method"]
        headers: dict[str, str] = {}
        # An open endpoint reads a handful of headers; a verifying one needs every signed one.
        wanted = _PROTOCOL_HEADERS if self.verifier.is_open else None
        for name, value in scope["headers"]:
            if wanted is not None and name not in wanted:
                continue
            key = name.decode("latin-1")
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]},{text}" if key in headers else text
        if method == "GET" and scope["path"] == "/":
            return 200, _HEALTH
        target = headers.get("x-amz-target", "")
        operation = _operation(target)
        if method != "POST" or operation is None:
            return _error(UnknownOperationException(f"Unknown operation: {target or method}"))
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type not in CONTENT_TYPES:
            return _error(
                UnknownOperationException(f"Unsupported Content-Type: {content_type or 'none'}")
            )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return _too_large(self.max_body_bytes)
        chunks = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return 400, b""  # the client went away; nobody reads this reply
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return _too_large(self.max_body_bytes)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if operation in self.inline_operations:
            return self._process(operation, method, scope, headers, body)
        if self.inflight >= self.max_inflight:
            return _error(ServiceUnavailable("Service unavailable: too many requests in flight"))
        self.inflight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.pool,
                self._process,
                operation,
                method,
                scope,
                headers,
                body,
            )
        finally:
            self.inflight -= 1

    # ------------------------------------------------------------------ worker threads

    def _process(
        self, operation: str, method: str, scope: dict, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        try:
            self.verifier.verify(
                method,
                scope.get("raw_path", b"/").decode("latin-1").split("?", 1)[0] or "/",
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                body,
            )
            params = decode_body(
                body,
                operation,
                headers.get("content-encoding", "").strip().lower(),
                self.max_body_bytes,
            )
            reply = self.service.handle(operation, params)
            return 200, encode_reply(reply)
        except DynamoDBError as err:
            return _error(err)
        except RequestTooLarge:
            return _too_large(self.max_body_bytes)
        except Exception:
            log.exception("internal error in %s", operation)
            return _error(InternalServerError("Internal server error"))


def inline_operations(durability: str) -> frozenset[str]:
    """The operations worth running on the event loop for a store in ``durability``: reads
    always; item writes unless each waits for its own fsync (``sync``), where running them
    in the pool at once is what lets group commit share one fsync among them."""
    if durability == "sync":
        return READ_OPERATIONS
    return READ_OPERATIONS | WRITE_OPERATIONS


def _operation(target: str) -> str | None:
    """The operation an X-Amz-Target names, None if it names no known protocol."""
    if target.startswith(DYNAMODB_PREFIX):
        op = target[len(DYNAMODB_PREFIX) :]
        return op if op and op not in STREAMS_OPERATIONS else None
    if target.startswith(STREAMS_PREFIX):
        op = target[len(STREAMS_PREFIX) :]
        return op if op in STREAMS_OPERATIONS else None
    return None


def _error(err: DynamoDBError) -> tuple[int, bytes]:
    return err.http_status, encode_error(err)


def _too_large(limit: int) -> tuple[int, bytes]:
    return 413, encode_error_body(
        "RequestEntityTooLarge", MESSAGES["too_large"].format(limit=limit)
    )
