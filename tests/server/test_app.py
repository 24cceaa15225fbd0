"""engine.server.App driven in-process through the ASGI interface (no sockets): the paths a
live server rarely reaches on demand, such as overload and inline versus pooled dispatch."""

import asyncio
import json
import zlib

import pytest

from engine.api import Service
from engine.server import App
from engine.server.app import READ_OPERATIONS, WRITE_OPERATIONS, inline_operations
from engine.storage import Store
from tests.server.conftest import raw_headers

PREFIX = "com.amazonaws.dynamodb.v20120810#"


@pytest.fixture
def service(tmp_path):
    store = Store.open(str(tmp_path / "db"), durability="off")
    yield Service(store)
    store.close()


def request(app, body: bytes, headers: dict, method: str = "POST", chunks: int = 1):
    """One request through the app: (status, headers dict, body)."""
    scope = {
        "type": "http",
        "method": method,
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    step = max(1, len(body) // chunks)
    parts = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
        for i, p in enumerate(parts)
    ]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, body_msg = sent
    return start["status"], dict(start["headers"]), body_msg["body"]


def test_every_request_gets_request_id_and_crc32(service):
    app = App(service)
    try:
        for body in (b"{}", b"{bad"):
            _, headers, data = request(app, body, raw_headers())
            assert int(headers[b"x-amz-crc32"]) == zlib.crc32(data)
            assert len(headers[b"x-amzn-requestid"]) == 52
            assert int(headers[b"content-length"]) == len(data)
    finally:
        app.close()


def test_a_body_in_many_chunks_is_joined(service):
    app = App(service)
    try:
        status, _, data = request(app, b'{"Limit": 3}' + b" " * 1000, raw_headers(), chunks=20)
        assert status == 200 and json.loads(data) == {"TableNames": []}
    finally:
        app.close()


def test_a_body_over_the_limit_in_chunks_is_refused(service):
    app = App(service, max_body_bytes=100)
    try:
        status, _, data = request(app, b"{" + b" " * 200 + b"}", raw_headers(), chunks=10)
        assert status == 413
        assert json.loads(data)["__type"] == PREFIX + "RequestEntityTooLarge"
    finally:
        app.close()


def test_pooled_requests_beyond_max_inflight_get_503(service):
    app = App(service, max_inflight=0)
    try:
        status, _, data = request(app, b"{}", raw_headers("ListTables"))
        assert status == 503
        assert json.loads(data)["__type"] == PREFIX + "ServiceUnavailable"
    finally:
        app.close()
    app = App(service, max_inflight=0, inline_operations=inline_operations("off"))
    try:
        status, _, _ = request(app, b"{}", raw_headers("ListTables"))  # inline: no pool
        assert status == 200
    finally:
        app.close()


def test_sync_durability_keeps_item_writes_in_the_pool():
    assert inline_operations("sync") == READ_OPERATIONS
    assert inline_operations("group") >= WRITE_OPERATIONS
    assert "CreateTable" not in inline_operations("off")
