"""BatchGetItem and BatchWriteItem: limits, duplicates, unprocessed keys, capacity."""

import pytest

from engine.errors import DynamoDBError
from tests.api.conftest import embedded_only, make_table, raises


def err(e):
    return e.value.response["Error"]["Message"]


def key(i):
    return {"pk": {"S": f"k{i}"}, "sk": {"N": str(i)}}


def test_batch_write_then_batch_get_across_tables(ddb, table, simple):
    r = ddb.batch_write_item(
        RequestItems={
            table: [{"PutRequest": {"Item": dict(key(i), v={"N": str(i)})}} for i in range(20)],
            simple: [{"PutRequest": {"Item": {"pk": {"S": "x"}}}}],
        },
        ReturnConsumedCapacity="TOTAL",
    )
    assert r["UnprocessedItems"] == {}
    assert {c["TableName"]: c["CapacityUnits"] for c in r["ConsumedCapacity"]} == {
        table: 20.0,
        simple: 1.0,
    }
    r = ddb.batch_get_item(
        RequestItems={
            table: {"Keys": [key(i) for i in (3, 1, 99)], "ProjectionExpression": "v"},
            simple: {"Keys": [{"pk": {"S": "x"}}], "ConsistentRead": True},
        }
    )
    assert sorted(i["v"]["N"] for i in r["Responses"][table]) == ["1", "3"]
    assert r["Responses"][simple] == [{"pk": {"S": "x"}}]
    assert r["UnprocessedKeys"] == {}
    ddb.batch_write_item(
        RequestItems={table: [{"DeleteRequest": {"Key": key(i)}} for i in range(10)]}
    )
    assert ddb.scan(TableName=table, Select="COUNT")["Count"] == 10


def test_batch_limits_use_dynamodb_wording(ddb, table):
    import re

    with raises("ValidationException") as e:
        ddb.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": key(i)}} for i in range(26)]}
        )
    assert re.fullmatch(
        r"1 validation error detected: Value '\{tbl=\[.+\]\}' at 'requestItems' failed to "
        r"satisfy constraint: Map value must satisfy constraint: \[Member must have length "
        r"less than or equal to 25, Member must have length greater than or equal to 1\]",
        err(e),
    )
    with raises("ValidationException") as e:
        ddb.batch_get_item(RequestItems={table: {"Keys": [key(i) for i in range(101)]}})
    assert err(e) == (
        "1 validation error detected: Value at 'RequestItems.tbl.member.Keys' failed to "
        "satisfy constraint: Member must have length less than or equal to 100"
    )
    with raises("ValidationException") as e:
        ddb.batch_get_item(
            RequestItems={
                table: {"Keys": [key(i) for i in range(60)]},
                "simple": {"Keys": [{"pk": {"S": str(i)}} for i in range(60)]},
            }
        )
    assert err(e) == "Too many items requested for the BatchGetItem call"


def test_batch_duplicates_are_refused(ddb, table):
    with raises("ValidationException") as e:
        ddb.batch_write_item(
            RequestItems={
                table: [{"PutRequest": {"Item": key(1)}}, {"DeleteRequest": {"Key": key(1)}}]
            }
        )
    assert err(e) == (
        "One or more parameter values were invalid: Provided list of item keys contains duplicates"
    )
    with raises("ValidationException"):
        ddb.batch_get_item(RequestItems={table: {"Keys": [key(1), key(1)]}})


def test_batch_missing_table(ddb, table):
    with raises("ResourceNotFoundException"):
        ddb.batch_get_item(RequestItems={"missing": {"Keys": [key(1)]}})


def test_batch_get_returns_unprocessed_keys_past_16_mib(ddb, simple):
    big = "x" * 400_000
    for i in range(45):
        ddb.put_item(TableName=simple, Item={"pk": {"S": f"k{i:02d}"}, "v": {"S": big}})
    keys = [{"pk": {"S": f"k{i:02d}"}} for i in range(45)]
    r = ddb.batch_get_item(RequestItems={simple: {"Keys": keys}})
    got = len(r["Responses"][simple])
    left = r["UnprocessedKeys"][simple]["Keys"]
    assert 40 <= got < 45 and got + len(left) == 45
    r2 = ddb.batch_get_item(RequestItems=r["UnprocessedKeys"])
    assert len(r2["Responses"][simple]) == len(left)


def test_batch_write_unprocessed_when_throttled(ddb):
    make_table(
        ddb,
        "slow",
        range_type=None,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    # 300 seconds of burst at 1 WCU: 12 batches of 25 one-unit writes use it up.
    unprocessed = 0
    for b in range(14):
        try:
            r = ddb.batch_write_item(
                RequestItems={
                    "slow": [{"PutRequest": {"Item": {"pk": {"S": f"{b}-{i}"}}}} for i in range(25)]
                }
            )
            unprocessed += len(r["UnprocessedItems"].get("slow", []))
        except ddb.exceptions.ProvisionedThroughputExceededException:
            unprocessed += 25
    assert 40 <= unprocessed <= 51


@embedded_only
def test_malformed_request_items_are_client_errors(ddb):
    # Regression (found by tests/server/test_fuzz.py): formatting the map-bounds message
    # iterated a value that was not a list and answered InternalServerError. botocore
    # refuses this request client-side, so it goes to the service directly.
    with pytest.raises(DynamoDBError) as e:
        ddb.service.handle("BatchWriteItem", {"RequestItems": {"pk": [], "TableName": False}})
    assert e.value.http_status == 400


@embedded_only
def test_a_requests_writes_share_one_wal_write_each_its_own_batch(ddb):
    """BatchWriteItem commits its items, over every table it names, as one write group:
    one WAL write (one fsync in sync durability), each item still its own storage batch."""
    make_table(ddb, "one")
    make_table(ddb, "two")
    ddb.put_item(TableName="one", Item={"pk": {"S": "gone"}, "sk": {"N": "0"}})
    ddb.put_item(TableName="one", Item={"pk": {"S": "same"}, "sk": {"N": "0"}})
    before = ddb.store.stats()
    r = ddb.batch_write_item(
        RequestItems={
            "one": [
                {"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"N": str(i)}}}} for i in range(20)
            ]
            + [
                {"DeleteRequest": {"Key": {"pk": {"S": "gone"}, "sk": {"N": "0"}}}},
                {"PutRequest": {"Item": {"pk": {"S": "same"}, "sk": {"N": "0"}}}},  # unchanged
            ],
            "two": [
                {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(3)
            ],
        },
        ReturnConsumedCapacity="TOTAL",
    )
    assert r["UnprocessedItems"] == {}
    assert {c["TableName"]: c["CapacityUnits"] for c in r["ConsumedCapacity"]} == {
        "one": 22.0,
        "two": 3.0,
    }
    after = ddb.store.stats()
    assert after["write_groups"] == before["write_groups"] + 1
    assert after["batches_written"] == before["batches_written"] + 24
    assert ddb.scan(TableName="one", Select="COUNT")["Count"] == 21
    assert ddb.describe_table(TableName="one")["Table"]["ItemCount"] == 21
    assert ddb.scan(TableName="two", Select="COUNT")["Count"] == 3
