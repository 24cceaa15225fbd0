"""PutItem, GetItem, UpdateItem, DeleteItem: conditions, ReturnValues, legacy parameters,
exact errors."""

import threading

import pytest

from tests.api.conftest import embedded_only, raises

K = {"pk": {"S": "a"}, "sk": {"N": "1"}}


def err(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def put(ddb, table, **attrs):
    item = dict(K, **attrs)
    ddb.put_item(TableName=table, Item=item)
    return item


def test_put_then_get_round_trips_every_type(ddb, table):
    item = dict(
        K,
        s={"S": ""},
        n={"N": "01000.50"},
        b={"B": b"\x00\x01"},
        t={"BOOL": True},
        z={"NULL": True},
        m={"M": {"x": {"L": [{"N": "1"}, {"SS": ["a", "b"]}]}}},
        ns={"NS": ["1", "1e3"]},
        bs={"BS": [b"x"]},
    )
    ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key=K, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "1000.5"}
    assert sorted(got["ns"]["NS"]) == ["1", "1000"]
    assert got["b"] == {"B": b"\x00\x01"} and got["m"] == item["m"]
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "2"}}).keys() == {
        "ResponseMetadata"
    }


def test_number_keys_are_equal_however_written(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": "1e3"}, "v": {"N": "1"}})
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1000.0"}})
    assert got["Item"]["sk"] == {"N": "1000"}


def test_get_projection(ddb, table):
    put(ddb, table, a={"M": {"b": {"N": "1"}, "c": {"N": "2"}}}, d={"S": "x"})
    got = ddb.get_item(
        TableName=table, Key=K, ProjectionExpression="#a.b, d", ExpressionAttributeNames={"#a": "a"}
    )
    assert got["Item"] == {"a": {"M": {"b": {"N": "1"}}}, "d": {"S": "x"}}
    got = ddb.get_item(TableName=table, Key=K, AttributesToGet=["d", "pk"])
    assert got["Item"] == {"d": {"S": "x"}, "pk": {"S": "a"}}


def test_put_condition_attribute_not_exists(ddb, table):
    ddb.put_item(TableName=table, Item=K, ConditionExpression="attribute_not_exists(pk)")
    with raises("ConditionalCheckFailedException") as e:
        ddb.put_item(TableName=table, Item=K, ConditionExpression="attribute_not_exists(pk)")
    assert err(e) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert "Item" not in e.value.response


def test_condition_failure_returns_old_item_when_asked(ddb, table):
    old = put(ddb, table, v={"N": "1"})
    with raises("ConditionalCheckFailedException") as e:
        ddb.update_item(
            TableName=table,
            Key=K,
            UpdateExpression="SET v = :n",
            ConditionExpression="v = :o",
            ExpressionAttributeValues={":n": {"N": "3"}, ":o": {"N": "2"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert e.value.response["Item"] == old
    with raises("ConditionalCheckFailedException") as e:
        ddb.delete_item(
            TableName=table,
            Key=K,
            ConditionExpression="attribute_not_exists(v)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert e.value.response["Item"] == old


def test_put_return_values(ddb, table):
    assert "Attributes" not in ddb.put_item(TableName=table, Item=K, ReturnValues="ALL_OLD")
    old = put(ddb, table, v={"S": "1"})
    r = ddb.put_item(TableName=table, Item=dict(K, v={"S": "2"}), ReturnValues="ALL_OLD")
    assert r["Attributes"] == old
    with raises("ValidationException") as e:
        ddb.put_item(TableName=table, Item=K, ReturnValues="ALL_NEW")
    assert err(e)[1] == "Return values set to invalid value"


def test_delete_return_values_and_condition(ddb, table):
    old = put(ddb, table, v={"N": "5"})
    with raises("ConditionalCheckFailedException"):
        ddb.delete_item(
            TableName=table,
            Key=K,
            ConditionExpression="v > :x",
            ExpressionAttributeValues={":x": {"N": "5"}},
        )
    r = ddb.delete_item(
        TableName=table,
        Key=K,
        ConditionExpression="v >= :x",
        ExpressionAttributeValues={":x": {"N": "5"}},
        ReturnValues="ALL_OLD",
    )
    assert r["Attributes"] == old
    assert "Attributes" not in ddb.delete_item(TableName=table, Key=K, ReturnValues="ALL_OLD")


@pytest.mark.parametrize(
    "rv, expected",
    [
        ("NONE", None),
        ("ALL_OLD", dict(K, a={"N": "1"}, b={"S": "x"})),
        ("ALL_NEW", dict(K, a={"N": "2"}, b={"S": "x"}, c={"S": "new"})),
        ("UPDATED_OLD", {"a": {"N": "1"}}),
        ("UPDATED_NEW", {"a": {"N": "2"}, "c": {"S": "new"}}),
    ],
)
def test_update_return_values(ddb, table, rv, expected):
    put(ddb, table, a={"N": "1"}, b={"S": "x"})
    r = ddb.update_item(
        TableName=table,
        Key=K,
        UpdateExpression="SET a = a + :one, c = :c",
        ExpressionAttributeValues={":one": {"N": "1"}, ":c": {"S": "new"}},
        ReturnValues=rv,
    )
    assert r.get("Attributes") == expected


def test_update_creates_item_and_updated_old_of_new_item_is_absent(ddb, table):
    r = ddb.update_item(
        TableName=table,
        Key=K,
        UpdateExpression="ADD c :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_OLD",
    )
    assert "Attributes" not in r
    assert ddb.get_item(TableName=table, Key=K)["Item"] == dict(K, c={"N": "1"})
    ddb.update_item(TableName=table, Key={"pk": {"S": "b"}, "sk": {"N": "1"}})
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "b"}, "sk": {"N": "1"}})
    assert got["Item"] == {"pk": {"S": "b"}, "sk": {"N": "1"}}


def test_update_cannot_touch_key(ddb, table):
    with raises("ValidationException") as e:
        ddb.update_item(
            TableName=table,
            Key=K,
            UpdateExpression="SET sk = :v",
            ExpressionAttributeValues={":v": {"N": "2"}},
        )
    assert err(e)[1] == (
        "One or more parameter values were invalid: Cannot update attribute sk. "
        "This attribute is part of the key"
    )


def test_legacy_expected_and_attribute_updates(ddb, table):
    put(ddb, table, v={"N": "1"})
    ddb.update_item(
        TableName=table,
        Key=K,
        AttributeUpdates={"v": {"Action": "ADD", "Value": {"N": "4"}}},
        Expected={"v": {"Value": {"N": "1"}}},
    )
    assert ddb.get_item(TableName=table, Key=K)["Item"]["v"] == {"N": "5"}
    with raises("ConditionalCheckFailedException"):
        ddb.put_item(TableName=table, Item=K, Expected={"v": {"Exists": False}})
    with raises("ValidationException") as e:
        ddb.put_item(
            TableName=table,
            Item=K,
            Expected={"v": {"Exists": False}},
            ConditionExpression="attribute_exists(v)",
        )
    assert err(e)[1].startswith("Can not use both expression and non-expression parameters")


@pytest.mark.parametrize(
    "item, message",
    [
        (
            {"sk": {"N": "1"}},
            "One or more parameter values were invalid: Missing the key pk in the item",
        ),
        (
            {"pk": {"N": "1"}, "sk": {"N": "1"}},
            "One or more parameter values were invalid: Type mismatch for key pk expected: S "
            "actual: N",
        ),
        (
            {"pk": {"S": ""}, "sk": {"N": "1"}},
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            "cannot contain an empty string value. Key: pk",
        ),
    ],
)
def test_put_key_errors(ddb, table, item, message):
    with raises("ValidationException") as e:
        ddb.put_item(TableName=table, Item=item)
    assert err(e)[1] == message


@pytest.mark.parametrize(
    "key",
    [{"pk": {"S": "a"}}, dict(K, x={"S": "y"}), {"pk": {"S": "a"}, "sk": {"S": "1"}}],
)
def test_key_not_matching_schema(ddb, table, key):
    with raises("ValidationException") as e:
        ddb.get_item(TableName=table, Key=key)
    assert err(e)[1] == "The provided key element does not match the schema"


def test_item_size_limit(ddb, table):
    # 400 KB = 409,600 bytes counted on names and values.
    room = 409600 - len("pk") - 1 - len("sk") - 2 - len("v")
    ddb.put_item(TableName=table, Item=dict(K, v={"S": "x" * room}))
    with raises("ValidationException") as e:
        ddb.put_item(TableName=table, Item=dict(K, v={"S": "x" * (room + 1)}))
    assert err(e)[1] == "Item size has exceeded the maximum allowed size"


def test_update_past_the_item_size_limit(ddb, table):
    put(ddb, table, v={"S": "x" * 300_000})
    with raises("ValidationException") as e:
        ddb.update_item(
            TableName=table,
            Key=K,
            UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": {"S": "y" * 200_000}},
        )
    assert err(e)[1] == "Item size to update has exceeded the maximum allowed size"


def test_missing_table_and_validation_order(ddb):
    with raises("ResourceNotFoundException") as e:
        ddb.put_item(TableName="missing", Item=K)
    assert err(e)[1] == "Requested resource not found"
    # A malformed request for a missing table is a ValidationException.
    with raises("ValidationException"):
        ddb.put_item(TableName="missing", Item=K, ConditionExpression="a = ")


def test_expression_errors_come_from_the_expression_layer(ddb, table):
    with raises("ValidationException") as e:
        ddb.put_item(
            TableName=table,
            Item=K,
            ConditionExpression="a = :a",
            ExpressionAttributeValues={":a": {"S": "x"}, ":b": {"S": "y"}},
        )
    assert err(e)[1] == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}"
    )


def test_conditional_increments_are_atomic_across_threads(ddb, table):
    put(ddb, table, n={"N": "0"})
    failures = []

    def worker():
        done = 0
        while done < 50:
            cur = ddb.get_item(TableName=table, Key=K, ConsistentRead=True)["Item"]["n"]["N"]
            try:
                ddb.update_item(
                    TableName=table,
                    Key=K,
                    UpdateExpression="SET n = :new",
                    ConditionExpression="n = :cur",
                    ExpressionAttributeValues={
                        ":new": {"N": str(int(cur) + 1)},
                        ":cur": {"N": cur},
                    },
                )
                done += 1
            except ddb.exceptions.ConditionalCheckFailedException:
                failures.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ddb.get_item(TableName=table, Key=K)["Item"]["n"] == {"N": "200"}


def test_consumed_capacity(ddb, table):
    r = ddb.put_item(
        TableName=table, Item=dict(K, v={"S": "x" * 2000}), ReturnConsumedCapacity="TOTAL"
    )
    assert r["ConsumedCapacity"] == {
        "TableName": table,
        "CapacityUnits": 2.0,
        "WriteCapacityUnits": 2.0,
    }
    r = ddb.get_item(TableName=table, Key=K, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 0.5
    assert r["ConsumedCapacity"]["ReadCapacityUnits"] == 0.5
    r = ddb.get_item(TableName=table, Key=K, ConsistentRead=True, ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"] == {
        "TableName": table,
        "CapacityUnits": 1.0,
        "ReadCapacityUnits": 1.0,
        "Table": {"CapacityUnits": 1.0, "ReadCapacityUnits": 1.0},
    }
    r = ddb.delete_item(TableName=table, Key=K, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 2.0
    r = ddb.delete_item(TableName=table, Key=K, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0
    assert "ConsumedCapacity" not in ddb.put_item(TableName=table, Item=K)


@embedded_only
def test_table_handle_takes_native_values(ddb, table):
    from decimal import Decimal

    t = ddb.Table(table)
    t.put_item(Item={"pk": "a", "sk": 1, "tags": {"x", "y"}, "doc": {"l": [1, "two", None]}})
    item = t.get_item(Key={"pk": "a", "sk": 1})["Item"]
    assert item == {
        "pk": "a",
        "sk": Decimal(1),
        "tags": {"x", "y"},
        "doc": {"l": [Decimal(1), "two", None]},
    }
    r = t.update_item(
        Key={"pk": "a", "sk": 1},
        UpdateExpression="ADD tags :t",
        ExpressionAttributeValues={":t": {"z"}},
        ReturnValues="UPDATED_NEW",
    )
    assert r["Attributes"] == {"tags": {"x", "y", "z"}}
