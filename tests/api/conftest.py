"""The ``ddb`` fixture: a boto3-shaped DynamoDB client, one per test.

Parametrised over front-ends so every test body runs against each: "embedded" is
engine.connect() in-process; "endpoint" is boto3 against the live endpoint named by
SHALE_TEST_ENDPOINT (a `shale serve` once engine/server exists, or any DynamoDB-compatible
endpoint), present only when the variable is set. The bodies use only boto3's client surface:
snake_case methods, ``ddb.exceptions.X``, ``exc.response["Error"]``; the few that need the
embedded service reach it through ``ddb.service`` and skip elsewhere.
"""

import os

import pytest

import engine

ENDPOINT = os.environ.get("SHALE_TEST_ENDPOINT")


def _endpoint_client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="shale",
        aws_secret_access_key="shale",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(params=["embedded"] + (["endpoint"] if ENDPOINT else []))
def ddb(request, tmp_path):
    if request.param == "embedded":
        client = engine.connect(str(tmp_path / "db"), durability="off")
        yield client
        client.close()
        return
    client = _endpoint_client()
    yield client
    for name in client.list_tables()["TableNames"]:  # each test starts from no tables
        client.update_table(TableName=name, DeletionProtectionEnabled=False)
        client.delete_table(TableName=name)


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
