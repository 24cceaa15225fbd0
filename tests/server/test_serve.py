"""`shale serve` as a process: startup, refusals, SigV4 with credentials, clean stops."""

import gzip
import json
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.server.conftest import ServerProcess

PREFIX = "com.amazonaws.dynamodb.v20120810#"
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}]
ATTRS = [{"AttributeName": "pk", "AttributeType": "S"}]


def create(client, name="tbl"):
    client.create_table(
        TableName=name,
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRS,
        BillingMode="PAY_PER_REQUEST",
    )


def test_startup_line_names_address_data_and_auth(start_server, tmp_path):
    s = start_server(data=tmp_path / "fresh" / "dir")
    assert (tmp_path / "fresh" / "dir").is_dir()  # created on first run
    line = s.startup_line
    assert f"listening on http://127.0.0.1:{s.port}" in line
    assert str(tmp_path / "fresh" / "dir") in line
    assert "durability sync" in line and "auth open" in line


def test_sigterm_and_sigint_stop_cleanly_and_data_survives(start_server, tmp_path):
    data = tmp_path / "d"
    s = start_server(data=data)
    c = s.client()
    create(c)
    c.put_item(TableName="tbl", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    assert s.stop(signal.SIGTERM) == 0
    s = start_server(data=data)
    assert "1 tables" in s.startup_line
    c = s.client()
    assert c.get_item(TableName="tbl", Key={"pk": {"S": "a"}})["Item"]["v"] == {"N": "1"}
    c.put_item(TableName="tbl", Item={"pk": {"S": "b"}})
    assert s.stop(signal.SIGINT) == 0
    s = start_server(data=data)
    assert s.client().scan(TableName="tbl")["Count"] == 2


def test_requests_in_flight_finish_when_sigterm_arrives(start_server):
    s = start_server()
    c = s.client()
    create(c)
    errors: list[Exception] = []
    done = []
    started = threading.Event()

    def writer(n):
        w = s.client()
        try:
            for i in range(200):
                w.put_item(TableName="tbl", Item={"pk": {"S": f"{n}-{i}"}})
                done.append(1)
                started.set()
        except Exception as exc:  # refused once the server stops: fine, no acked loss
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    started.wait(10)
    assert s.stop(signal.SIGTERM) == 0
    for t in threads:
        t.join()
    acked = len(done)
    s2 = start_server(data=s.data)
    count = s2.client().scan(TableName="tbl", Select="COUNT")["Count"]
    assert count >= acked


def test_a_second_server_on_the_same_directory_is_refused(start_server):
    s = start_server()
    code, out = ServerProcess(s.data).run_to_exit()
    assert code == 1
    assert "in use by another process" in out
    assert s.client().list_tables()["TableNames"] == []


def test_an_open_server_refuses_a_non_loopback_address(tmp_path):
    code, out = ServerProcess(tmp_path / "d", "--host", "0.0.0.0").run_to_exit()
    assert code == 1
    assert "--credentials" in out and "--insecure-open" in out


def test_credentials_file_must_name_a_key_pair(tmp_path):
    path = tmp_path / "creds"
    path.write_text("[default]\nregion = x\n")
    code, out = ServerProcess(tmp_path / "d", "--credentials", str(path)).run_to_exit()
    assert code == 1 and "credentials" in out


@pytest.fixture
def secured(start_server, tmp_path):
    path = tmp_path / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKIDGOOD\naws_secret_access_key = s3cr3t/value\n"
        "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = another\n"
    )
    return start_server("--credentials", str(path))


def code_of(exc_info) -> str:
    return exc_info.value.response["Error"]["Code"]


def test_sigv4_with_credentials_accepts_the_right_secret(secured):
    for key, secret in (("AKIDGOOD", "s3cr3t/value"), ("AKIDOTHER", "another")):
        c = secured.client(key, secret)
        assert c.list_tables()["TableNames"] == []
    c = secured.client("AKIDGOOD", "s3cr3t/value")
    create(c)
    c.put_item(TableName="tbl", Item={"pk": {"S": "x" * 100}, "b": {"B": b"\x00" * 50}})
    assert c.scan(TableName="tbl")["Count"] == 1
    assert "s3cr3t" not in secured.output


def test_sigv4_refuses_a_wrong_secret_and_an_unknown_key(secured):
    with pytest.raises(Exception) as exc:
        secured.client("AKIDGOOD", "wrong").list_tables()
    assert code_of(exc) == "InvalidSignatureException"
    with pytest.raises(Exception) as exc:
        secured.client("AKIDNOBODY", "s3cr3t/value").list_tables()
    assert code_of(exc) == "UnrecognizedClientException"


def signed_request(port, key, secret, body, when, **headers):
    req = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            **headers,
        },
    )
    signer = botocore.auth.SigV4Auth(Credentials(key, secret), "dynamodb", "us-west-2")
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(req)
    canonical = signer.canonical_request(req)
    signature = signer.signature(signer.string_to_sign(req, canonical), req)
    signer._inject_signature_to_request(req, signature)
    return dict(req.headers.items())


def post(server, body, headers):
    conn = server.connection()
    conn.request("POST", "/", body, headers)
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def test_sigv4_checks_the_body_and_the_clock(secured):
    now = datetime.now(UTC)
    body = b'{"Limit": 3}'
    headers = signed_request(secured.port, "AKIDGOOD", "s3cr3t/value", body, now)
    assert post(secured, body, headers)[0] == 200
    # the same signature over a different body
    status, reply = post(secured, b'{"Limit": 4}', headers)
    assert (status, reply["__type"]) == (400, PREFIX + "InvalidSignatureException")
    old = now - timedelta(minutes=20)
    headers = signed_request(secured.port, "AKIDGOOD", "s3cr3t/value", body, old)
    status, reply = post(secured, body, headers)
    assert (status, reply["__type"]) == (400, PREFIX + "InvalidSignatureException")
    assert reply["message"].startswith("Signature expired")
    packed = gzip.compress(body)  # the signature covers the body as sent
    headers = signed_request(
        secured.port, "AKIDGOOD", "s3cr3t/value", packed, now, **{"Content-Encoding": "gzip"}
    )
    assert post(secured, packed, headers)[0] == 200
    del headers["Authorization"]
    status, reply = post(secured, body, headers)
    assert reply["__type"] == PREFIX + "MissingAuthenticationTokenException"


def test_a_taken_port_is_refused_before_the_data_directory_is_touched(start_server, tmp_path):
    s = start_server()
    other = tmp_path / "other"
    code, out = ServerProcess(other, "--port", str(s.port)).run_to_exit()
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{s.port}" in out
    assert "Traceback" not in out
    assert not other.exists()


def test_sigkill_loses_no_acknowledged_batch_write(start_server, tmp_path):
    """Default (sync) durability: BatchWriteItem items are acknowledged after one shared
    fsync; writers of batches and of single items run until the server is SIGKILLed,
    and every item any of them saw acknowledged is there after a restart."""
    data = tmp_path / "d"
    s = start_server(data=data)
    create(s.client())
    acked: list[str] = []
    unexpected: list[Exception] = []
    killed = threading.Event()

    def batches(n):
        c = s.client()
        for i in range(10_000):
            keys = [f"b{n}-{i}-{j}" for j in range(25)]
            try:
                r = c.batch_write_item(
                    RequestItems={"tbl": [{"PutRequest": {"Item": {"pk": {"S": k}}}} for k in keys]}
                )
            except Exception as exc:
                if not killed.is_set():  # refused only once the server is gone
                    unexpected.append(exc)
                return
            if r["UnprocessedItems"]:
                unexpected.append(AssertionError(r["UnprocessedItems"]))
            acked.extend(keys)

    def singles(n):
        c = s.client()
        for i in range(10_000):
            try:
                c.put_item(TableName="tbl", Item={"pk": {"S": f"s{n}-{i}"}})
            except Exception as exc:
                if not killed.is_set():
                    unexpected.append(exc)
                return
            acked.append(f"s{n}-{i}")

    threads = [threading.Thread(target=batches, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=singles, args=(0,)))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 1_500 and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.set()
    assert s.stop(signal.SIGKILL) == -signal.SIGKILL
    for t in threads:
        t.join(30)
    assert unexpected == []
    assert len(acked) >= 1_500
    c = start_server(data=data).client()
    found = set()
    for page in c.get_paginator("scan").paginate(TableName="tbl"):
        found.update(item["pk"]["S"] for item in page["Items"])
    assert set(acked) <= found
