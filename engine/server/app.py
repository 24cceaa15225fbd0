"""The DynamoDB endpoint: JSON 1.0 over HTTP in front of engine.api.

One request is one ``POST /`` with ``X-Amz-Target: DynamoDB_20120810.<Operation>`` (or
``DynamoDBStreams_20120810.<Operation>``) and an ``application/x-amz-json-1.0`` body,
parsed by :mod:`engine.server.http` (which also enforces the body size limit). The app
routes it on the event loop, then verifies the signature, inflates, parses, handles and
encodes it, inline or in a worker pool, and answers with ``x-amzn-RequestId`` and
``x-amz-crc32`` (zlib.crc32 of the reply body) on every reply. ``GET /`` is a health check.

Inline or pooled. Python runs one thread at a time, so a hop to a thread buys nothing
for work that never waits and costs CPU (about 25 us a request here, measured with
PutItem in group durability: 85 us pooled against 60 us inline). What runs where:

- point reads and other bounded, lock-free reads (GetItem, BatchGetItem,
  TransactGetItems, Describe*, ListTables): inline, always;
- Query and Scan: pooled. A page may be a megabyte of items; inline it would hold every
  other connection for its whole length, in the pool the interpreter switches back to
  the loop every few milliseconds, for a hop that costs ~1% of such a request;
- item writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems): in
  sync durability pooled, where many writers in flight let the store's group commit
  share one fdatasync among them; in group and off durability inline, because they do
  not wait for a sync. They can still wait: a write stall while flushing falls behind,
  a lock held by a pooled request. So an inline write that takes longer than
  ``slow_write_s`` (10 ms) sends item writes to the pool for ``pool_writes_for_s`` (1 s,
  extended while they stay slow): one stalled write may hold the loop, the ones behind
  it queue in the pool while the loop keeps serving reads;
- everything else (CreateTable, backups, restores, ...): pooled, it may take long.

Errors: every refusal is a DynamoDB error body with its status (400 client errors, 413 an
oversized body, 500 an honest internal error, 503 when more requests are in the pool or
waiting for it than ``max_inflight``). Nothing a client sends can stop the app: any
unexpected exception in a request becomes a logged InternalServerError for that request.

Thread-safety: routing, answering and the counters run on the event loop thread;
:meth:`App.process` may run in any thread.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
import zlib

from engine.api import Service
from engine.errors import (
    DynamoDBError,
    InternalServerError,
    ServiceUnavailable,
    UnknownOperationException,
)
from engine.server.auth import Verifier
from engine.server.http import Connection, HTTPServer, Request
from engine.server.pool import WorkerPool
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
# Reads that never wait and do bounded work: run on the event loop itself, which saves
# the thread hop. Query and Scan are not here: a page may take long (module docstring).
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
        "TransactGetItems",
    )
)
# Item writes: they wait for their fsync only in sync durability.
WRITE_OPERATIONS = frozenset(
    ("BatchWriteItem", "DeleteItem", "PutItem", "TransactWriteItems", "UpdateItem")
)
CONTENT_TYPES = frozenset(("application/x-amz-json-1.0", "application/json"))
JSON_TYPE = b"application/x-amz-json-1.0"
TEXT_TYPE = b"text/plain"

_HEALTH = b"healthy: shaledb\n"
_monotonic = time.monotonic


class App:
    """The DynamoDB endpoint behind an :class:`~engine.server.http.HTTPServer`: called on
    the event loop with each parsed request and its connection, it answers inline or from
    the pool (see the module docstring).

    Args:
        service: the operations to serve.
        verifier: SigV4 checking; ``Verifier()`` accepts any well-formed signature.
        max_body_bytes: the largest request body, before and after inflating.
        workers: threads running Service.handle() for pooled operations.
        max_inflight: pooled requests (running or queued) beyond which new ones get 503.
        inline_operations: operations run on the event loop thread, not in the pool: those
            that never block for long (see :func:`inline_operations`).
        slow_write_s, pool_writes_for_s: an inline item write slower than this sends item
            writes to the pool for that long (see :meth:`note_write_s`).
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
        slow_write_s: float = 0.010,
        pool_writes_for_s: float = 1.0,
    ) -> None:
        self.service = service
        self.verifier = verifier or Verifier()
        self.max_body_bytes = max_body_bytes
        self.max_inflight = max_inflight
        self.inline_operations = frozenset(inline_operations)
        self.slow_write_s = slow_write_s
        self.pool_writes_for_s = pool_writes_for_s
        self.pool_writes_until = 0.0  # monotonic time until which item writes are pooled
        self.slow_writes = 0  # times item writes were sent to the pool for being slow
        self.pool = WorkerPool(workers, thread_name_prefix="shale-req")
        self.inflight = 0
        # DynamoDB's request ids are 52 upper-case letters and digits.
        self._id_prefix = os.urandom(16).hex().upper().encode()
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Wait for requests in the pool to finish and stop its threads."""
        self.pool.close()

    def server(self, **options: float) -> HTTPServer:
        """An HTTPServer serving this app; ``options`` go to HTTPServer (idle_timeout_s)."""
        return HTTPServer(
            self, max_body_bytes=self.max_body_bytes, error_reply=self.error_reply, **options
        )

    # ------------------------------------------------------------------ event loop thread

    def __call__(self, request: Request, conn: Connection) -> None:
        """Serve one request (the HTTPServer's handler). Never raises."""
        try:
            routed = self._route(request, conn)
            if routed is None:
                return  # pooled: answered from _finish
            status, body = routed
        except Exception:
            log.exception("internal error serving a request")
            status, body = _error(InternalServerError("Internal server error"))
        self._respond(conn, request, status, body)

    def _route(self, request: Request, conn: Connection) -> tuple[int, bytes] | None:
        """The answer to ``request`` when known on the loop; None once it is in the pool."""
        method = request.method
        headers = request.headers
        if method == "GET" and request.path == "/":
            return 200, _HEALTH
        target = headers.get("x-amz-target", "")
        operation = _target_operation(target)
        if method != "POST" or operation is None:
            return _error(UnknownOperationException(f"Unknown operation: {target or method}"))
        content_type = headers.get("content-type", "")
        if content_type not in CONTENT_TYPES:
            content_type = content_type.split(";", 1)[0].strip().lower()
            if content_type not in CONTENT_TYPES:
                return _error(
                    UnknownOperationException(f"Unsupported Content-Type: {content_type or 'none'}")
                )
        if operation in self.inline_operations:
            if operation not in WRITE_OPERATIONS:
                return self.process(operation, request)
            if self.pool_writes_until <= _monotonic():
                started = _monotonic()
                answer = self.process(operation, request)
                self.note_write_s(_monotonic() - started)
                return answer
        if self.inflight >= self.max_inflight:
            return _error(ServiceUnavailable("Service unavailable: too many requests in flight"))
        self.inflight += 1
        self.pool.submit(
            self._timed_process, (operation, request), self._finish, (operation, request, conn)
        )
        return None

    def _timed_process(self, operation: str, request: Request) -> tuple[int, bytes, float]:
        started = _monotonic()
        status, body = self.process(operation, request)
        return status, body, _monotonic() - started

    def _finish(
        self,
        answer: tuple[int, bytes, float],
        operation: str,
        request: Request,
        conn: Connection,
    ) -> None:
        self.inflight -= 1
        status, body, elapsed_s = answer
        if self.pool_writes_until and operation in WRITE_OPERATIONS:
            self.note_write_s(elapsed_s)
        self._respond(conn, request, status, body)

    def note_write_s(self, elapsed_s: float) -> None:
        """Record how long an item write took, inline or (in the fallback) pooled. A
        write slower than ``slow_write_s`` waited for something (a write stall while
        flushing falls behind, a lock held by a pooled request): item writes then go to
        the pool for ``pool_writes_for_s``, extended while they stay slow, so the loop
        keeps serving everything else while the store catches up."""
        if elapsed_s <= self.slow_write_s:
            return
        now = _monotonic()
        if self.pool_writes_until <= now:
            self.slow_writes += 1
            log.warning(
                "an item write took %.0f ms; item writes run in the pool for %.1f s",
                elapsed_s * 1e3,
                self.pool_writes_for_s,
            )
        self.pool_writes_until = now + self.pool_writes_for_s

    def _respond(self, conn: Connection, request: Request, status: int, body: bytes) -> None:
        extra = b"x-amzn-RequestId: %s%020d\r\nx-amz-crc32: %d\r\n" % (
            self._id_prefix,
            next(self._ids),
            zlib.crc32(body),
        )
        conn.respond(request, status, body, JSON_TYPE if body is not _HEALTH else TEXT_TYPE, extra)

    def error_reply(self, status: int) -> tuple[bytes, bytes, bytes]:
        """The answer to a refusal made while reading the request (400, 413)."""
        if status == 413:
            body = _too_large(self.max_body_bytes)[1]
        else:
            body = encode_error_body("SerializationException", MESSAGES["bad_http"])
        extra = b"x-amzn-RequestId: %s%020d\r\nx-amz-crc32: %d\r\n" % (
            self._id_prefix,
            next(self._ids),
            zlib.crc32(body),
        )
        return body, JSON_TYPE, extra

    # ------------------------------------------------------------------ any thread

    def process(self, operation: str, request: Request) -> tuple[int, bytes]:
        """Verify, decode, run and encode one request: (status, body). Never raises."""
        headers = request.headers
        try:
            self.verifier.check(request.method, request.path, request.query, headers, request.body)
            encoding = headers.get("content-encoding")
            params = decode_body(
                request.body,
                operation,
                encoding.strip().lower() if encoding else "",
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
    """The operations worth running on the event loop for a store in ``durability``:
    bounded reads always; item writes unless each waits for its own fsync (``sync``),
    where running them in the pool at once is what lets group commit share one fsync
    among them."""
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


def _target_operation(target: str) -> str | None:
    """:func:`_operation`, remembered for the first :data:`MAX_TARGETS` targets that name
    one (a client sends the same few): one lookup a request, not two prefix tests and a
    slice. Loop thread only."""
    op = _TARGETS.get(target)
    if op is None:
        op = _operation(target)
        if op is not None and len(_TARGETS) < MAX_TARGETS:
            _TARGETS[target] = op
    return op


MAX_TARGETS = 256
_TARGETS: dict[str, str] = {}


def _error(err: DynamoDBError) -> tuple[int, bytes]:
    return err.http_status, encode_error(err)


def _too_large(limit: int) -> tuple[int, bytes]:
    return 413, encode_error_body(
        "RequestEntityTooLarge", MESSAGES["too_large"].format(limit=limit)
    )
