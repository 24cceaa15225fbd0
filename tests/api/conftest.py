"""The ``ddb`` fixture: a boto3-shaped DynamoDB client, one per test.

Parametrised over front-ends so every test body runs against each: "embedded" is
engine.connect() in-process; "server" is boto3 against a live `shale serve` subprocess
(one per session, every table deleted after each test); "endpoint" is boto3 against the
endpoint named by SHALE_TEST_ENDPOINT (any DynamoDB-compatible endpoint), present only when
the variable is set. The bodies use only boto3's client surface: snake_case methods,
``ddb.exceptions.X``, ``exc.response["Error"]``; the few that need the embedded service
(``ddb.service``) or its Pythonic table handle (``ddb.Table``) skip elsewhere.
"""

import os
import select
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import engine

ROOT = Path(__file__).resolve().parents[2]

ENDPOINT = os.environ.get("SHALE_TEST_ENDPOINT")


def _boto3_client(url):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="shale",
        aws_secret_access_key="shale",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="session")
def shale_server(tmp_path_factory):
    """The URL of a `shale serve` subprocess (durability off) for the session."""
    data = tmp_path_factory.mktemp("serve")
    cmd = [sys.executable, "-m", "engine.server.cli", "serve", "--port", "0"]
    cmd += ["--data", str(data), "--durability", "off", "--log-level", "warning"]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url, output, deadline = None, "", time.monotonic() + 30
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.1)[0]:
            line = proc.stdout.readline()
            output += line
            if "listening on http://" in line:
                url = "http://" + line.split("http://", 1)[1].split()[0]
    if url is None:
        proc.kill()
        pytest.fail(f"shale serve did not start:\n{output}")
    yield url
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


FRONT_ENDS = ["embedded", "server"] + (["endpoint"] if ENDPOINT else [])


@pytest.fixture(params=FRONT_ENDS)
def ddb(request, tmp_path):
    if request.param == "embedded":
        client = engine.connect(str(tmp_path / "db"), durability="off")
        yield client
        client.close()
        return
    if request.param == "server":
        client = _boto3_client(request.getfixturevalue("shale_server"))
    else:
        client = _boto3_client(ENDPOINT)
    yield client
    for name in client.list_tables()["TableNames"]:  # each test starts from no tables
        client.update_table(TableName=name, DeletionProtectionEnabled=False)
        client.delete_table(TableName=name)


# For a test that reaches below the DynamoDB API (the embedded client's Table handle, its
# service's meter and locks, requests botocore would refuse client-side): ``ddb`` is then
# the embedded client only, and the test is not generated for the other front ends.
embedded_only = pytest.mark.parametrize("ddb", ["embedded"], indirect=True)


def make_table(ddb, name="tbl", *, range_type="N", hash_type="S", **extra):
    """Create a table with key pk (HASH) [and sk (RANGE) unless range_type is None]."""
    ks = [{"AttributeName": "pk", "KeyType": "HASH"}]
    ad = [{"AttributeName": "pk", "AttributeType": hash_type}]
    if range_type is not None:
        ks.append({"AttributeName": "sk", "KeyType": "RANGE"})
        ad.append({"AttributeName": "sk", "AttributeType": range_type})
    params = {"BillingMode": "PAY_PER_REQUEST", **extra}
    ddb.create_table(TableName=name, KeySchema=ks, AttributeDefinitions=ad, **params)
    return name


@pytest.fixture
def table(ddb):
    return make_table(ddb)


@pytest.fixture
def simple(ddb):
    return make_table(ddb, "simple", range_type=None)


@contextmanager
def raises(code):
    """Like ``pytest.raises(client.exceptions.<code>)`` on every front-end: boto3's client
    has classes only for the codes its model lists (not ValidationException), so the
    tests match ClientError and its code, as boto3 users do."""
    with pytest.raises(ClientError) as info:
        yield info
    assert info.value.response["Error"]["Code"] == code, info.value.response["Error"]
