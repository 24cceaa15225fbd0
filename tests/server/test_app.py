"""engine.server's App on its HTTPServer, run in-process on a real socket: the paths a
`shale serve` subprocess rarely reaches on demand (overload, pipelining, chunked and
oversized bodies, malformed HTTP, Expect: 100-continue, draining) and inline versus
pooled dispatch."""

import asyncio
import http.client
import json
import socket
import threading
import time
import zlib
from email.utils import parsedate_to_datetime

import pytest

from engine.api import Service
from engine.server import App
from engine.server.app import (
    PAGE_OPERATIONS,
    READ_OPERATIONS,
    WRITE_OPERATIONS,
    inline_operations,
)
from engine.server.http import MAX_HEAD_BYTES
from engine.storage import Store
from tests.server.conftest import raw_headers

PREFIX = "com.amazonaws.dynamodb.v20120810#"


@pytest.fixture
def service(tmp_path):
    store = Store.open(str(tmp_path / "db"), durability="off")
    yield Service(store)
    store.close()


class Running:
    """An App served on 127.0.0.1 by an event loop in a thread."""

    def __init__(self, app: App, **server_options: float) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.server = app.server(**server_options)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start([sock]))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def drain(self) -> bool:
        return asyncio.run_coroutine_threadsafe(self.server.drain(10), self.loop).result(20)

    def stop(self) -> None:
        if not self.server.stopping:
            self.drain()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.app.close()

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def raw(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=30)


@pytest.fixture
def serve(service):
    running: list[Running] = []

    def start(**options) -> Running:
        r = Running(App(service, **options))
        running.append(r)
        return r

    yield start
    for r in running:
        r.stop()


def post(conn, body: bytes | str, headers: dict | None = None, **kw):
    conn.request("POST", "/", body, headers or raw_headers(), **kw)
    resp = conn.getresponse()
    return resp, resp.read()


def request_bytes(operation: str, body: bytes, **extra: str) -> bytes:
    headers = {**raw_headers(operation), "Host": "x", "Content-Length": str(len(body)), **extra}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST / HTTP/1.1\r\n{head}\r\n".encode() + body


def read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict, bytes]]:
    """``count`` responses from ``sock``: (status, lower-case headers, body)."""
    buf = b""
    out = []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        length = int(headers["content-length"])
        while len(buf) < length:
            chunk = sock.recv(65536)
            assert chunk
            buf += chunk
        out.append((int(lines[0].split()[1]), headers, buf[:length]))
        buf = buf[length:]
    return out


def test_every_answer_carries_request_id_crc32_length_and_date(serve):
    s = serve()
    conn = s.connection()
    for body, status in ((b"{}", 200), (b"{bad", 400)):
        resp, data = post(conn, body)
        assert resp.status == status
        assert int(resp.getheader("x-amz-crc32")) == zlib.crc32(data)
        assert len(resp.getheader("x-amzn-RequestId")) == 52
        assert int(resp.getheader("content-length")) == len(data)
        assert parsedate_to_datetime(resp.getheader("date")).tzinfo is not None


def test_a_chunked_body_is_joined(serve):
    s = serve()
    parts = [b'{"Limit": 3}'] + [b" " * 50] * 20
    resp, data = post(s.connection(), iter(parts), encode_chunked=True)
    assert resp.status == 200 and json.loads(data) == {"TableNames": []}


def test_a_chunked_body_over_the_limit_is_refused(serve):
    s = serve(max_body_bytes=100)
    parts = [b"{"] + [b" " * 30] * 10 + [b"}"]
    resp, data = post(s.connection(), iter(parts), encode_chunked=True)
    assert resp.status == 413
    assert json.loads(data)["__type"] == PREFIX + "RequestEntityTooLarge"
    assert int(resp.getheader("x-amz-crc32")) == zlib.crc32(data)


def test_pooled_requests_beyond_max_inflight_get_503(serve):
    s = serve(max_inflight=0)
    resp, data = post(s.connection(), b"{}", raw_headers("ListTables"))
    assert resp.status == 503
    assert json.loads(data)["__type"] == PREFIX + "ServiceUnavailable"
    s = serve(max_inflight=0, inline_operations=inline_operations("off"))
    resp, _ = post(s.connection(), b"{}", raw_headers("ListTables"))  # inline: no pool
    assert resp.status == 200


def test_pipelined_requests_are_answered_in_order(serve):
    """Inline and pooled requests sent back to back on one connection come back in the
    order sent, each with its own answer."""
    s = serve(inline_operations=inline_operations("off"))
    table = {
        "TableName": "tbl",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    sent = [
        request_bytes("ListTables", b"{}"),
        request_bytes("CreateTable", json.dumps(table).encode()),  # pooled
        request_bytes("PutItem", b'{"TableName": "tbl", "Item": {"pk": {"S": "a"}}}'),
        request_bytes("GetItem", b'{"TableName": "tbl", "Key": {"pk": {"S": "a"}}}'),
        request_bytes("ListTables", b"{bad"),
        request_bytes("ListTables", b"{}"),
    ]
    with s.raw() as sock:
        sock.sendall(b"".join(sent))
        answers = read_responses(sock, len(sent))
    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 400, 200]
    assert json.loads(answers[0][2]) == {"TableNames": []}
    assert json.loads(answers[1][2])["TableDescription"]["TableName"] == "tbl"
    assert json.loads(answers[3][2]) == {"Item": {"pk": {"S": "a"}}}
    assert json.loads(answers[5][2]) == {"TableNames": ["tbl"]}
    assert len({h["x-amzn-requestid"] for _, h, _ in answers}) == len(sent)


def test_answers_held_for_the_round_are_written_before_a_close(serve):
    """Answers wait for the end of the loop's round; a closing answer behind them on the
    same connection must not overtake or drop them."""
    s = serve()
    sent = [request_bytes("ListTables", b"{}") for _ in range(5)]
    sent.append(request_bytes("ListTables", b"{}", Connection="close"))
    with s.raw() as sock:
        sock.sendall(b"".join(sent))
        answers = read_responses(sock, len(sent))
        assert sock.recv(10) == b""
    assert [status for status, _, _ in answers] == [200] * len(sent)
    assert answers[-1][1]["connection"] == "close"


def test_expect_100_continue_is_answered(serve):
    s = serve()
    body = b'{"Limit": 2}'
    head = request_bytes("ListTables", b"", Expect="100-continue").replace(
        b"Content-Length: 0", b"Content-Length: %d" % len(body)
    )
    with s.raw() as sock:
        sock.sendall(head)
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):  # nothing else comes before the body
            chunk = sock.recv(1)
            assert chunk
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        [(status, _, data)] = read_responses(sock, 1)
    assert status == 200 and json.loads(data) == {"TableNames": []}


def test_malformed_http_gets_400_and_the_connection_closes(serve):
    s = serve()
    with s.raw() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n{}")
        [(status, headers, data)] = read_responses(sock, 1)
        assert status == 400 and headers["connection"] == "close"
        assert json.loads(data)["__type"].startswith(PREFIX)
        assert sock.recv(10) == b""


def test_a_request_head_over_the_limit_gets_400_and_the_connection_closes(serve):
    s = serve()
    with s.raw() as sock:
        sock.sendall(request_bytes("ListTables", b"{}", **{"X-Big": "x" * (MAX_HEAD_BYTES + 1)}))
        [(status, headers, _)] = read_responses(sock, 1)
        assert (status, headers["connection"]) == (400, "close")
        assert sock.recv(10) == b""


def test_an_idle_connection_is_closed_after_the_idle_timeout(service):
    s = Running(App(service), idle_timeout_s=0.2)
    try:
        with s.raw() as sock:
            sock.sendall(request_bytes("ListTables", b"{}"))
            read_responses(sock, 1)
            assert sock.recv(10) == b""  # closed by the server once idle
    finally:
        s.stop()


def test_a_new_connection_is_not_idle_before_its_first_request(serve):
    """Regression: the once-a-second sweep took a connection that had sent nothing yet
    for one idle since the epoch and closed it, so a client's first request could meet a
    closed connection."""
    s = serve()
    with s.raw() as sock:
        time.sleep(1.5)  # at least one sweep passes before the first request
        sock.sendall(request_bytes("ListTables", b"{}"))
        [(status, _, _)] = read_responses(sock, 1)
        assert status == 200


def test_connection_close_and_http_1_0_close_after_the_answer(serve):
    s = serve()
    with s.raw() as sock:
        sock.sendall(request_bytes("ListTables", b"{}", Connection="close"))
        [(status, headers, _)] = read_responses(sock, 1)
        assert (status, headers["connection"]) == (200, "close")
        assert sock.recv(10) == b""
    with s.raw() as sock:
        sock.sendall(request_bytes("ListTables", b"{}").replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        [(status, _, _)] = read_responses(sock, 1)
        assert status == 200
        assert sock.recv(10) == b""


def test_drain_closes_idle_connections_and_stops_accepting(serve):
    s = serve()
    idle = s.raw()
    idle.sendall(request_bytes("ListTables", b"{}"))
    read_responses(idle, 1)
    assert s.drain()
    assert idle.recv(10) == b""  # closed by the server
    idle.close()
    with pytest.raises(OSError):
        s.raw().sendall(request_bytes("ListTables", b"{}"))


def make_table(service) -> None:
    service.handle(
        "CreateTable",
        {
            "TableName": "tbl",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


PUT = b'{"TableName": "tbl", "Item": {"pk": {"S": "a"}}}'
GET = b'{"TableName": "tbl", "Key": {"pk": {"S": "a"}}}'
SCAN = b'{"TableName": "tbl"}'
QUERY = (
    b'{"TableName": "tbl", "KeyConditionExpression": "pk = :p", '
    b'"ExpressionAttributeValues": {":p": {"S": "a"}}}'
)


def test_reads_and_writes_run_inline_in_group_durability(serve, service):
    """max_inflight=0 refuses whatever would go to the pool: that shows where each runs."""
    make_table(service)
    s = serve(max_inflight=0, inline_operations=inline_operations("group"))
    conn = s.connection()
    assert post(conn, GET, raw_headers("GetItem"))[0].status == 200
    assert post(conn, PUT, raw_headers("PutItem"))[0].status == 200
    for op, body in (("Query", QUERY), ("Scan", SCAN)):
        resp, data = post(conn, body, raw_headers(op))
        assert resp.status == 200, data
        assert json.loads(data)["Count"] == 1
    resp, _ = post(conn, b"{}", raw_headers("CreateTable"))
    assert resp.status == 503  # control operations stay in the pool


@pytest.mark.parametrize(
    "kind,limit,pooled,inline",
    [
        ("write", "slow_write_s", [("PutItem", PUT)], [("GetItem", GET), ("Scan", SCAN)]),
        (
            "page",
            "slow_page_s",
            [("Query", QUERY), ("Scan", SCAN)],
            [("GetItem", GET), ("PutItem", PUT)],
        ),
    ],
)
def test_a_slow_inline_operation_sends_its_kind_to_the_pool(
    serve, service, kind, limit, pooled, inline
):
    """With its limit at 0 every operation of a kind counts as slow: the first runs
    inline, the ones after it go to the pool (refused here by max_inflight=0); the other
    kinds stay inline."""
    make_table(service)
    s = serve(
        max_inflight=0,
        inline_operations=inline_operations("group"),
        pool_for_s=3600,
        **{limit: 0.0},
    )
    conn = s.connection()
    op, body = pooled[0]
    assert post(conn, body, raw_headers(op))[0].status == 200  # inline
    assert s.app.slowdowns == {"write": 0, "page": 0, kind: 1}
    for op, body in pooled:
        assert post(conn, body, raw_headers(op))[0].status == 503  # pooled now
    for op, body in inline:
        assert post(conn, body, raw_headers(op))[0].status == 200


def test_a_pooled_page_that_is_fast_again_ends_the_fallback(serve, service):
    """Pooled pages keep being timed: while they stay slow the fallback is extended, and
    once it runs out a fast page runs inline again."""
    make_table(service)
    s = serve(inline_operations=inline_operations("group"), slow_page_s=0.0, pool_for_s=0.2)
    conn = s.connection()
    assert post(conn, QUERY, raw_headers("Query"))[0].status == 200  # inline, slow
    first = s.app.pooled_until["page"]
    assert post(conn, QUERY, raw_headers("Query"))[0].status == 200  # pooled, slow
    assert s.app.pooled_until["page"] > first  # extended
    assert s.app.slowdowns["page"] == 1  # one fallback, extended, not a second one
    s.app.slow_s["page"] = 10.0
    time.sleep(0.25)
    assert post(conn, QUERY, raw_headers("Query"))[0].status == 200  # inline again
    assert s.app.pooled_until["page"] <= time.monotonic()


def test_sync_durability_keeps_item_writes_in_the_pool():
    assert inline_operations("sync") == READ_OPERATIONS | PAGE_OPERATIONS
    assert inline_operations("group") >= WRITE_OPERATIONS
    assert "CreateTable" not in inline_operations("off")
