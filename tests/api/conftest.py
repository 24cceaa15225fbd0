"""The ``ddb`` fixture: a boto3-shaped DynamoDB client, one per test.

Parametrised over front-ends so every test body runs against each: "embedded" is
engine.connect() in-process; a "server" param driving boto3 against a live `shale serve`
is added here when engine/server exists (the bodies use only boto3's client surface:
snake_case methods, ``ddb.exceptions.X``, ``exc.response["Error"]``).
"""

import pytest

import engine


@pytest.fixture(params=["embedded"])
def ddb(request, tmp_path):
    client = engine.connect(str(tmp_path / "db"), durability="off")
    yield client
    client.close()


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
