"""HTTP/1.1 for the server: an asyncio Protocol over httptools' parser, on uvloop.

Why not uvicorn: behind uvicorn's ASGI interface every request costs message dicts, two
awaited ``send`` calls and a task, which on this workload was most of the server's CPU
(a canned-``{}`` ASGI app topped out near 4k requests/s a core). Here a request is parsed
by httptools (llhttp, the parser uvicorn uses too) straight into a :class:`Request` and
answered with one ``transport.write``; nothing is hand-parsed but the response head we
write ourselves.

What a connection does:

- HTTP/1.1 keep-alive (HTTP/1.0 and ``Connection: close`` are honoured); requests are
  answered in order, one at a time per connection, so pipelined requests are safe: they
  queue (reading pauses past :data:`MAX_PIPELINED`) and start when the previous answer
  is written.
- Bodies by Content-Length or chunked (httptools decodes the chunks); ``Expect:
  100-continue`` is answered. A body over ``max_body_bytes`` (announced or received) gets
  413 at once and the connection closes after it; the rest of the body is read and
  dropped so the client sees the answer rather than a reset.
- Malformed HTTP, or a request line and headers over :data:`MAX_HEAD_BYTES`, gets 400
  and the connection closes.
- A connection that sent nothing for ``idle_timeout_s`` (75 s) and is owed no answer is
  closed: idle keep-alive connections and requests whose rest never comes do not pile up.
- Answers are held until the loop has handled every event of its current round, then
  written with one write per connection (a closing or large answer goes at once, after
  those held). On a machine where clients share the cores, each answer written at once
  woke its client while the server still had requests to handle; a quarter of the
  server's CPU went to those context switches. Holding them raised raw requests/s by
  about a quarter (PutItem 13-16k/s to 17.5-18.6k/s, GetItem 13-17k/s to 20.5-21k/s, same
  run, alternating the two builds).
- Every answer carries a ``Date`` header (formatted once a second, not per answer).
- Reading pauses while the transport's write buffer is full (a client not reading its
  answers), so a slow reader cannot make the server buffer without bound.

Handlers: the server calls ``handler(request, connection)`` on the event loop for every
complete request. The handler answers, then or later (from the loop thread), with
``connection.respond(request, status, body, content_type)``, exactly once per request.

Stopping: :meth:`HTTPServer.drain` stops accepting, closes idle connections, lets every
connection finish the request it is on (answered with ``Connection: close``), and waits
for them to close, up to a timeout.

Thread-safety: everything here runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate

import httptools

__all__ = ["MAX_PIPELINED", "Connection", "HTTPServer", "Request"]

log = logging.getLogger(__name__)
_monotonic = time.monotonic

MAX_PIPELINED = 64  # requests queued on one connection before reading pauses
MAX_HEAD_BYTES = 64 << 10  # request line and headers; llhttp itself sets no limit
IDLE_TIMEOUT_S = 75.0  # a connection with no request in progress for this long is closed
DRAIN_DISCARD_BYTES = 64 << 20  # body bytes dropped after a 413 before giving up on a client

_METHODS = {b"POST": "POST", b"GET": "GET"}  # decoded once, not per request

_REASONS = {
    100: b"Continue",
    200: b"OK",
    400: b"Bad Request",
    413: b"Payload Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}


class Request:
    """One parsed request. ``headers`` maps lower-case names to values (a repeated header's
    values joined with ","); ``body`` is the body as received (chunks joined, Content-
    Encoding not undone); ``keep_alive`` is False when the connection closes after it."""

    __slots__ = ("body", "headers", "keep_alive", "method", "path", "query")

    def __init__(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.keep_alive = True


Handler = Callable[[Request, "Connection"], None]
ErrorReply = Callable[[int], tuple[bytes, bytes, bytes]]


class Connection(asyncio.Protocol):
    """One client connection (see the module docstring)."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.handler = server.handler
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[Request] = deque()
        self.busy = False  # a request has been handed to the handler and not answered
        self.running = False  # inside _run (answers given synchronously loop, not recurse)
        self.closing = False  # close once the answers owed are written
        self.read_paused = False
        self.write_paused = False
        self.in_message = False  # between the first byte of a request and its end
        self.discarding = False  # a 413 was sent: drop the rest of the body, then close
        self.discarded = 0
        self.owed_error = 0  # status of a protocol error to answer once the owed answer is out
        self._url = b""
        self._headers: dict[str, str] = {}
        self._chunks: list[bytes] = []
        self._size = 0
        self._head_bytes = 0
        self.out: list[bytes] = []  # answers written at the end of the loop's round
        self.last_seen = 0.0  # monotonic time of the last bytes received

    # ------------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.last_seen = _monotonic()  # idle from now, not from the epoch
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.closing = True
        self.pending.clear()
        self.transport = None
        self.server._connection_closed()

    def data_received(self, data: bytes) -> None:
        self.last_seen = _monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrade (h2c, websocket) is not spoken here: answer what was parsed and close.
            self.closing = True
            self._run()
        except httptools.HttpParserError:
            if self.discarding:
                self._close()
                return
            self.pending.clear()
            self.closing = True
            self.owed_error = 400
            if not self.busy:
                self._answer_error()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._resume_reading()
        self._run()

    # ------------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        self.in_message = True
        self._url = b""
        self._headers = {}
        self._chunks = []
        self._size = 0
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        # Called for every header of every request: _count_head is inlined here.
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._count_head(0)
        key = name.decode("latin-1").lower()
        headers = self._headers
        if key in headers:
            headers[key] = f"{headers[key]},{value.decode('latin-1')}"
        else:
            headers[key] = value.decode("latin-1")

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            # Raised inside a parser callback, it reaches data_received as an
            # HttpParserError: 400 and close.
            raise ValueError("request head too large")

    def on_headers_complete(self) -> None:
        if self.discarding:
            return
        length = self._headers.get("content-length")
        limit = self.server.max_body_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            self._refuse_too_large()
            return
        if (
            self._headers.get("expect", "").lower() == "100-continue"
            and self.transport is not None
            and not self.busy
            and not self.pending
        ):
            # Only with no answer owed: an interim answer must not overtake the final
            # answer to an earlier pipelined request (the client then sends the body
            # after its own timeout, as RFC 9110 allows).
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self.discarding:
            self.discarded += len(body)
            if self.discarded > DRAIN_DISCARD_BYTES:
                self._close()
            return
        self._size += len(body)
        if self._size > self.server.max_body_bytes:
            self._chunks = []
            self._refuse_too_large()
            return
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        if self.discarding:
            if not self.busy and not self.owed_error:
                self._close()
            return
        if self.closing:
            return  # stopping: a request that arrived after the last answer is not served
        url = self._url
        if url == b"/":  # (every DynamoDB request)
            path, query = "/", ""
        else:
            raw_path, _, raw_query = url.partition(b"?")
            path, query = raw_path.decode("latin-1") or "/", raw_query.decode("latin-1")
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        method = self.parser.get_method()
        request = Request(
            _METHODS.get(method) or method.decode("latin-1"), path, query, self._headers, body
        )
        if not self.parser.should_keep_alive():
            request.keep_alive = False
        self.pending.append(request)
        if len(self.pending) > MAX_PIPELINED:
            self._pause_reading()
        self._run()

    # ------------------------------------------------------------------ answering

    def _run(self) -> None:
        """Hand the next queued request to the handler while nothing is in progress. A
        handler answering synchronously returns here, so pipelined requests loop rather
        than recurse."""
        if self.running:
            return
        self.running = True
        try:
            while self.pending and not self.busy and not self.write_paused:
                request = self.pending.popleft()
                if self.server.stopping:
                    request.keep_alive = False
                self.busy = True
                self.handler(request, self)
            if self.busy or self.pending:
                if len(self.pending) <= MAX_PIPELINED // 2:
                    self._resume_reading()
            elif self.closing and not self.discarding:
                self._close()  # (a 413's connection closes when the dropped body ends)
            elif self.server.stopping and not self.in_message:
                self._close()
            else:
                self._resume_reading()
        finally:
            self.running = False

    def respond(
        self,
        request: Request,
        status: int,
        body: bytes,
        content_type: bytes,
        extra_headers: bytes = b"",
    ) -> None:
        """Answer ``request`` (the one in progress): one write of head and body. Call on
        the loop thread, once per request handed to the handler. ``extra_headers`` are
        complete header lines (``b"Name: value\\r\\n"``)."""
        self.busy = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client went away; nobody reads this answer
        close = not request.keep_alive or self.closing
        head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s%s%s\r\n" % (
            status,
            _REASONS.get(status, b"Unknown"),
            content_type,
            len(body),
            self.server.date_header,
            extra_headers,
            b"Connection: close\r\n" if close else b"",
        )
        if close or len(body) >= 65536:
            self.flush()
            transport.writelines((head, body))  # (no copy of a large body)
        else:
            # Held until the loop has handled every request its last poll found: then
            # one write per connection wakes each client once per round, not once per
            # answer while the server is still busy with the others.
            self.out.append(head + body)
            if len(self.out) == 1:
                self.server.schedule_flush(self)
        if not close:
            self._run()
        elif self.owed_error:
            self._answer_error()
        elif not (self.discarding and self.in_message):
            self._close()  # else on_message_complete closes once the dropped body is read

    def flush(self) -> None:
        """Write the answers held for this connection."""
        out = self.out
        if out:
            self.out = []
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _refuse_too_large(self) -> None:
        """A body over the limit: answer 413 (after any answer still owed) and close once
        the body has been read and dropped, so the client reads the answer, not a reset."""
        self.discarding = True
        self.closing = True
        self.pending.clear()
        self.owed_error = 413
        if not self.busy:
            self._answer_error()

    def _answer_error(self) -> None:
        status, self.owed_error = self.owed_error, 0
        body, content_type, extra = self.server.error_reply(status)
        request = Request("", "/", "", {}, b"")
        request.keep_alive = False
        self.busy = True
        self.respond(request, status, body, content_type, extra)

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.write_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.flush()  # answers held for the end of the round go first
            self.transport.close()

    def close_if_idle(self) -> None:
        """Stopping: close now if no request is in progress or half received."""
        if not self.busy and not self.pending and not self.in_message:
            self._close()

    def close_if_stale(self, idle_before: float) -> None:
        """Close when nothing arrived since ``idle_before`` and no answer is owed: an idle
        keep-alive connection, or a request whose rest never came."""
        if self.last_seen < idle_before and not self.busy and not self.pending:
            self._close()


def _date_header() -> bytes:
    return b"Date: %s\r\n" % formatdate(usegmt=True).encode()


class HTTPServer:
    """Serves ``handler`` on listening sockets (see the module docstring).

    Args:
        handler: called on the loop thread with each complete request and its connection.
        max_body_bytes: the largest request body accepted, announced or received.
        error_reply: the answer to a protocol-level refusal (400 malformed HTTP, 413 body
            too large) as ``(body, content type, extra header lines)``.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        max_body_bytes: int,
        error_reply: ErrorReply,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        self.error_reply = error_reply
        self.idle_timeout_s = idle_timeout_s
        self._sweeper: asyncio.Task | None = None
        self._to_flush: list[Connection] = []
        self.date_header = _date_header()  # refreshed every second by _sweep
        self.connections: set[Connection] = set()
        self.stopping = False
        self._servers: list[asyncio.AbstractServer] = []
        self._all_closed: asyncio.Event | None = None

    async def start(self, sockets: list) -> None:
        loop = asyncio.get_running_loop()
        for sock in sockets:
            server = await loop.create_server(
                lambda: Connection(self), sock=sock, backlog=1024, start_serving=True
            )
            self._servers.append(server)
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    def schedule_flush(self, conn: Connection) -> None:
        """Have ``conn``'s held answers written once the loop finishes this round."""
        to_flush = self._to_flush
        to_flush.append(conn)
        if len(to_flush) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        to_flush, self._to_flush = self._to_flush, []
        for conn in to_flush:
            conn.flush()

    async def _sweep(self) -> None:
        """Once a second: refresh the Date header; close connections idle for longer than
        ``idle_timeout_s``."""
        while not self.stopping:
            await asyncio.sleep(1.0)
            self.date_header = _date_header()
            idle_before = _monotonic() - self.idle_timeout_s
            for conn in list(self.connections):
                conn.close_if_stale(idle_before)

    def addresses(self) -> list[tuple]:
        return [s.getsockname() for server in self._servers for s in server.sockets]

    def _connection_closed(self) -> None:
        if self.stopping and not self.connections and self._all_closed is not None:
            self._all_closed.set()

    async def drain(self, timeout_s: float = 30.0) -> bool:
        """Stop accepting, finish requests in progress, close every connection. True when
        all closed within ``timeout_s`` (the rest are then closed anyway)."""
        self.stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._all_closed = asyncio.Event()
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.close_if_idle()
        clean = True
        if self.connections:
            try:
                await asyncio.wait_for(self._all_closed.wait(), timeout_s)
            except TimeoutError:
                clean = False
                log.warning("%d connections still busy at shutdown", len(self.connections))
                for conn in list(self.connections):
                    conn._close()
        for server in self._servers:
            await server.wait_closed()
        return clean
