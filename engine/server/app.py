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
- Query and Scan: inline, timed. A page reads at most 1 MB, about 10 ms of CPU here.
  In the pool such a page would hold the loop off for the interpreter's switch interval
  (5 ms) at a time anyway, and every small page paid a hop and two thread wake-ups:
  about 70 us of a 100-item Query's latency through one boto3 client, for nothing. A
  page can still wait on the disk (blocks not cached), so an inline page slower than
  ``slow_page_s`` (25 ms) sends Query and Scan to the pool for ``pool_for_s``;
- item writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems): in
  sync durability pooled, where many writers in flight let the store's group commit
  share one fdatasync among them; in group and off durability inline, because they do
  not wait for a sync. They can still wait: a write stall while flushing falls behind,
  a lock held by a pooled request. So an inline write that takes longer than
  ``slow_write_s`` (10 ms) sends item writes to the pool for ``pool_for_s`` (1 s,
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

__all__ = [
    "PAGE_OPERATIONS",
    "READ_OPERATIONS",
    "STREAMS_OPERATIONS",
    "WRITE_OPERATIONS",
    "App",
    "inline_operations",
]

log = logging.getLogger(__name__)

DYNAMODB_PREFIX = "DynamoDB_20120810."
STREAMS_PREFIX = "DynamoDBStreams_20120810."
STREAMS_OPERATIONS = frozenset(("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"))
# Reads that never wait and do bounded work: run on the event loop itself, which saves
# the thread hop.
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
# Reads of a page (up to 1 MB): inline, timed (module docstring).
PAGE_OPERATIONS = frozenset(("Query", "Scan"))
# Inline operations that can wait or run long, by class: one slower than its class's
# limit sends the whole class to the pool for a while (App.note_elapsed).
TIMED_CLASSES = {
    **dict.fromkeys(WRITE_OPERATIONS, "write"),
    **dict.fromkeys(PAGE_OPERATIONS, "page"),
}
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
        slow_write_s, slow_page_s, pool_for_s: an inline item write slower than
            ``slow_write_s``, or an inline Query or Scan page slower than ``slow_page_s``,
            sends its kind to the pool for ``pool_for_s`` (see :meth:`note_elapsed`).
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
        slow_page_s: float = 0.025,
        pool_for_s: float = 1.0,
    ) -> None:
        self.service = service
        self.verifier = verifier or Verifier()
        self.max_body_bytes = max_body_bytes
        self.max_inflight = max_inflight
        self.inline_operations = frozenset(inline_operations)
        self.slow_s = {"write": slow_write_s, "page": slow_page_s}
        self.pool_for_s = pool_for_s
        # monotonic time until which a kind of timed operation runs in the pool
        self.pooled_until = {"write": 0.0, "page": 0.0}
        self.slowdowns = {"write": 0, "page": 0}  # times a kind was pooled for being slow
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
            kind = TIMED_CLASSES.get(operation)
            if kind is None:
                return self.process(operation, request)
            if self.pooled_until[kind] <= _monotonic():
                started = _monotonic()
                answer = self.process(operation, request)
                self.note_elapsed(kind, _monotonic() - started)
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
        kind = TIMED_CLASSES.get(operation)
        if kind is not None and self.pooled_until[kind]:
            self.note_elapsed(kind, elapsed_s)
        self._respond(conn, request, status, body)

    def note_elapsed(self, kind: str, elapsed_s: float) -> None:
        """Record how long a timed operation of ``kind`` ("write": an item write; "page":
        a Query or Scan page) took, inline or (in the fallback) pooled. One slower than
        its limit waited for something (a write stall while flushing falls behind, a lock
        held by a pooled request, blocks read from the disk): its kind then goes to the
        pool for ``pool_for_s``, extended while they stay slow, so the loop keeps serving
        everything else meanwhile."""
        if elapsed_s <= self.slow_s[kind]:
            return
        now = _monotonic()
        if self.pooled_until[kind] <= now:
            self.slowdowns[kind] += 1
            log.warning(
                "%s took %.0f ms; %s run in the pool for %.1f s",
                "an item write" if kind == "write" else "a Query or Scan page",
                elapsed_s * 1e3,
                "item writes" if kind == "write" else "Query and Scan",
                self.pool_for_s,
            )
        self.pooled_until[kind] = now + self.pool_for_s

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
    reads always; item writes unless each waits for its own fsync (``sync``), where
    running them in the pool at once is what lets group commit share one fsync among
    them."""
    if durability == "sync":
        return READ_OPERATIONS | PAGE_OPERATIONS
    return READ_OPERATIONS | PAGE_OPERATIONS | WRITE_OPERATIONS


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
