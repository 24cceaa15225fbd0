"""The wire protocol with raw HTTP: targets, content types, bodies, limits, headers."""

import gzip
import json
import socket
import zlib

import pytest

from tests.server.conftest import raw_headers

PREFIX = "com.amazonaws.dynamodb.v20120810#"


def call(conn, body, headers=None, method="POST", path="/"):
    if isinstance(body, str):
        body = body.encode()
    conn.request(method, path, body, headers if headers is not None else raw_headers())
    resp = conn.getresponse()
    data = resp.read()
    return resp, data


def error_code(data: bytes) -> str:
    body = json.loads(data)
    assert body["__type"].startswith(PREFIX), body
    assert isinstance(body["message"], str)
    return body["__type"][len(PREFIX) :]


def test_health_check_answers_get(server):
    conn = server.connection()
    resp, data = call(conn, b"", {}, method="GET")
    assert resp.status == 200
    assert data.startswith(b"healthy")


def test_reply_carries_request_id_and_correct_crc32(server):
    conn = server.connection()
    ids = set()
    for body, status in ((b"{}", 200), (b"{bad", 400)):
        resp, data = call(conn, body)
        assert resp.status == status
        assert int(resp.getheader("x-amz-crc32")) == zlib.crc32(data)
        assert resp.getheader("content-type") == "application/x-amz-json-1.0"
        rid = resp.getheader("x-amzn-RequestId")
        assert len(rid) == 52 and rid.isalnum() and rid.upper() == rid
        ids.add(rid)
    assert len(ids) == 2


@pytest.mark.parametrize(
    "body",
    [b"{bad json", b"[]", b"null", b'"s"', b"\xff\xfe{}", b"[" * 3000 + b"]" * 3000],
    ids=["malformed", "array", "null", "string", "invalid-utf8", "3000-deep"],
)
def test_a_body_that_is_not_a_json_object_is_a_serialization_exception(server, body):
    resp, data = call(server.connection(), body)
    assert resp.status == 400
    assert error_code(data) == "SerializationException"


def test_nested_maps_3000_deep_are_refused_cleanly(server):
    value = {"S": "x"}
    body = '{"TableName": "tbl", "Item": {"pk": ' + '{"M": {"a": ' * 3000
    body += json.dumps(value) + "}}" * 3000 + "}}"
    resp, data = call(server.connection(), body, raw_headers("PutItem"))
    assert resp.status == 400
    assert error_code(data) in ("SerializationException", "ValidationException")


def test_null_where_an_object_is_expected_is_a_client_error(server):
    conn = server.connection()
    for body in ('{"TableName": "tbl", "Item": null}', '{"TableName": null, "Key": {"k": null}}'):
        resp, data = call(conn, body, raw_headers("PutItem"))
        assert resp.status == 400
        assert error_code(data) in ("ValidationException", "SerializationException")


def test_unknown_or_missing_target_is_unknown_operation(server):
    conn = server.connection()
    for headers in (
        raw_headers("NoSuchOperation"),
        raw_headers(None),
        raw_headers(**{"X-Amz-Target": "Other_20120810.ListTables"}),
        raw_headers(**{"X-Amz-Target": "DynamoDBStreams_20120810.PutItem"}),
        raw_headers(**{"X-Amz-Target": "DynamoDB_20120810.GetRecords"}),
    ):
        resp, data = call(conn, b"{}", headers)
        assert resp.status == 400
        assert error_code(data) == "UnknownOperationException"


def test_wrong_content_type_is_refused(server):
    conn = server.connection()
    for ctype in ("text/plain", "application/xml"):
        resp, data = call(conn, b"{}", raw_headers(**{"Content-Type": ctype}))
        assert resp.status == 400
        assert error_code(data) == "UnknownOperationException"
    headers = raw_headers()
    headers["Content-Type"] = "application/json; charset=utf-8"
    resp, _ = call(conn, b"{}", headers)
    assert resp.status == 200


def test_missing_or_malformed_authorization_is_refused(server):
    conn = server.connection()
    headers = raw_headers()
    del headers["Authorization"]
    resp, data = call(conn, b"{}", headers)
    assert (resp.status, error_code(data)) == (400, "MissingAuthenticationTokenException")
    for bad in ("Basic abc", "AWS4-HMAC-SHA256 Credential=x", "AWS4-HMAC-SHA256 junk"):
        resp, data = call(conn, b"{}", raw_headers(Authorization=bad))
        assert (resp.status, error_code(data)) == (400, "IncompleteSignatureException")


def test_gzip_and_deflate_bodies_are_inflated(server):
    conn = server.connection()
    body = json.dumps({"Limit": 5}).encode()
    for encoding, packed in (
        ("gzip", gzip.compress(body)),
        ("deflate", zlib.compress(body)),
        ("deflate", zlib.compress(body)[2:-4]),  # raw deflate, as some clients send
    ):
        resp, data = call(conn, packed, raw_headers(**{"Content-Encoding": encoding}))
        assert resp.status == 200, data
        assert "TableNames" in json.loads(data)
    resp, data = call(conn, b"not gzip", raw_headers(**{"Content-Encoding": "gzip"}))
    assert (resp.status, error_code(data)) == (400, "SerializationException")
    resp, data = call(conn, body, raw_headers(**{"Content-Encoding": "br"}))
    assert (resp.status, error_code(data)) == (400, "SerializationException")


def test_a_gzip_bomb_is_refused_as_too_large(server):
    bomb = gzip.compress(b'{"a": "' + b"x" * (17 << 20) + b'"}')
    assert len(bomb) < 100_000
    resp, data = call(server.connection(), bomb, raw_headers(**{"Content-Encoding": "gzip"}))
    assert resp.status == 413
    assert error_code(data) == "RequestEntityTooLarge"


def test_an_oversized_body_is_refused_from_its_content_length(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in raw_headers().items())
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {17 << 20}\r\n\r\n".encode()
            + b"{"
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    assert b" 413 " in status_line
    assert error_code(rest.partition(b"\r\n\r\n")[2]) == "RequestEntityTooLarge"


def test_an_oversized_body_sent_in_full_is_refused(server):
    body = b'{"x": "' + b"y" * (16 << 20) + b'"}'
    conn = server.connection()
    try:
        resp, data = call(conn, body)
    except (BrokenPipeError, ConnectionResetError):
        return  # refused before the whole body was read: also a refusal
    assert resp.status == 413
    assert error_code(data) == "RequestEntityTooLarge"


def test_keep_alive_reuses_one_connection(server):
    conn = server.connection()
    call(conn, b"{}")
    sock = conn.sock
    for _ in range(50):
        resp, _ = call(conn, b"{}")
        assert resp.status == 200
        assert not resp.will_close
    assert conn.sock is sock
    # an error reply keeps the connection too
    resp, _ = call(conn, b"{bad")
    assert resp.status == 400
    call(conn, b"{}")
    assert conn.sock is sock


def test_validation_errors_come_back_with_dynamodb_messages(server):
    resp, data = call(server.connection(), b'{"TableName": "ab"}', raw_headers("DescribeTable"))
    assert resp.status == 400
    assert error_code(data) == "ValidationException"
    assert "Member must have length greater than or equal to 3" in json.loads(data)["message"]


def test_invalid_base64_in_a_blob_is_a_serialization_exception(server):
    conn = server.connection()
    body = {
        "TableName": "tbl",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "B"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    resp, _ = call(conn, json.dumps(body), raw_headers("CreateTable"))
    assert resp.status == 200
    item = {"TableName": "tbl", "Item": {"pk": {"B": "not base64!"}}}
    resp, data = call(conn, json.dumps(item), raw_headers("PutItem"))
    assert (resp.status, error_code(data)) == (400, "SerializationException")
    item = {"TableName": "tbl", "Item": {"pk": {"B": "AAE="}, "bs": {"BS": ["eA==", 5]}}}
    resp, data = call(conn, json.dumps(item), raw_headers("PutItem"))
    assert (resp.status, error_code(data)) == (400, "SerializationException")
    item = {"TableName": "tbl", "Item": {"pk": {"B": "AAE="}, "bs": {"BS": ["eA==", "eQ=="]}}}
    resp, data = call(conn, json.dumps(item), raw_headers("PutItem"))
    assert resp.status == 200, data
    key = {"TableName": "tbl", "Key": {"pk": {"B": "AAE="}}}
    resp, data = call(conn, json.dumps(key), raw_headers("GetItem"))
    got = json.loads(data)["Item"]
    assert got["pk"] == {"B": "AAE="}
    assert sorted(got["bs"]["BS"]) == ["eA==", "eQ=="]
