"""Query and Scan: key conditions, filters, projections, Select, order, Limit, pagination,
the 1 MiB page, parallel Scan."""

import pytest

from engine.codec import encode_key_value, partition_hash
from tests.api.conftest import embedded_only, raises

PAGE = 1 << 20


def err(e):
    return e.value.response["Error"]["Message"]


def fill(ddb, table, partitions=("a", "b"), n=10):
    for p in partitions:
        for i in range(n):
            ddb.put_item(
                TableName=table,
                Item={"pk": {"S": p}, "sk": {"N": str(i)}, "odd": {"BOOL": i % 2 == 1}},
            )


def q(ddb, table, cond, values, **kw):
    values = {k: v for k, v in values.items()}
    return ddb.query(
        TableName=table, KeyConditionExpression=cond, ExpressionAttributeValues=values, **kw
    )


def sks(reply):
    return [int(i["sk"]["N"]) for i in reply["Items"]]


P = {":p": {"S": "a"}}


@pytest.mark.parametrize(
    "cond, values, expected",
    [
        ("pk = :p", {}, list(range(10))),
        ("pk = :p AND sk = :v", {":v": {"N": "3"}}, [3]),
        ("pk = :p AND sk < :v", {":v": {"N": "3"}}, [0, 1, 2]),
        ("pk = :p AND sk <= :v", {":v": {"N": "3"}}, [0, 1, 2, 3]),
        ("pk = :p AND sk > :v", {":v": {"N": "7"}}, [8, 9]),
        ("pk = :p AND :v <= sk", {":v": {"N": "8"}}, [8, 9]),
        ("pk = :p AND sk BETWEEN :lo AND :hi", {":lo": {"N": "2"}, ":hi": {"N": "4"}}, [2, 3, 4]),
    ],
)
def test_key_conditions(ddb, table, cond, values, expected):
    fill(ddb, table)
    assert sks(q(ddb, table, cond, dict(P, **values))) == expected


def test_begins_with_on_string_sort_keys(ddb):
    from tests.api.conftest import make_table

    make_table(ddb, "str", range_type="S")
    for s in ["ab", "abc", "abd", "ac", "a", "b", "ab\x00x"]:
        ddb.put_item(TableName="str", Item={"pk": {"S": "p"}, "sk": {"S": s}})
    r = q(ddb, "str", "pk = :p AND begins_with(sk, :s)", {":p": {"S": "p"}, ":s": {"S": "ab"}})
    assert [i["sk"]["S"] for i in r["Items"]] == ["ab", "ab\x00x", "abc", "abd"]


def test_between_with_reversed_bounds_is_an_error(ddb, table):
    with raises("ValidationException") as e:
        q(
            ddb,
            table,
            "pk = :p AND sk BETWEEN :a AND :b",
            dict(P, **{":a": {"N": "5"}, ":b": {"N": "1"}}),
        )
    assert "BETWEEN operator requires upper bound" in err(e)


def test_scan_index_forward_false_reverses(ddb, table):
    fill(ddb, table)
    r = q(ddb, table, "pk = :p AND sk > :v", dict(P, **{":v": {"N": "5"}}), ScanIndexForward=False)
    assert sks(r) == [9, 8, 7, 6]


def test_limit_one_pages_through_everything(ddb, table):
    fill(ddb, table, n=4)
    seen, start, pages = [], None, 0
    while True:
        kw = {"Limit": 1}
        if start:
            kw["ExclusiveStartKey"] = start
        r = q(ddb, table, "pk = :p", P, **kw)
        pages += 1
        seen += sks(r)
        start = r.get("LastEvaluatedKey")
        if start is None:
            break
    # DynamoDB reports a LastEvaluatedKey whenever Limit stops the page, even on the last item.
    assert seen == [0, 1, 2, 3] and pages == 5


def test_reverse_pagination(ddb, table):
    fill(ddb, table, n=5)
    r = q(ddb, table, "pk = :p", P, Limit=2, ScanIndexForward=False)
    assert sks(r) == [4, 3]
    r = q(
        ddb,
        table,
        "pk = :p",
        P,
        Limit=2,
        ScanIndexForward=False,
        ExclusiveStartKey=r["LastEvaluatedKey"],
    )
    assert sks(r) == [2, 1]


def test_filter_counts_scanned_and_can_drop_everything(ddb, table):
    fill(ddb, table)
    r = q(ddb, table, "pk = :p", dict(P, **{":t": {"BOOL": True}}), FilterExpression="odd = :t")
    assert sks(r) == [1, 3, 5, 7, 9] and r["Count"] == 5 and r["ScannedCount"] == 10
    r = q(
        ddb, table, "pk = :p", dict(P, **{":x": {"S": "x"}}), FilterExpression="odd = :x", Limit=4
    )
    assert r["Items"] == [] and r["Count"] == 0 and r["ScannedCount"] == 4
    assert r["LastEvaluatedKey"] == {"pk": {"S": "a"}, "sk": {"N": "3"}}


def test_select_count_and_projection(ddb, table):
    fill(ddb, table)
    r = q(ddb, table, "pk = :p", P, Select="COUNT")
    assert "Items" not in r and r["Count"] == 10 and r["ScannedCount"] == 10
    r = q(ddb, table, "pk = :p", P, ProjectionExpression="sk")
    assert r["Items"][0] == {"sk": {"N": "0"}}
    with raises("ValidationException") as e:
        q(ddb, table, "pk = :p", P, Select="SPECIFIC_ATTRIBUTES")
    assert err(e) == (
        "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression "
        "when choosing to get SPECIFIC_ATTRIBUTES"
    )
    with raises("ValidationException") as e:
        ddb.scan(TableName=table, Select="SPECIFIC_ATTRIBUTES")
    assert err(e) == (
        "Must specify the AttributesToGet or ProjectionExpression when choosing to get "
        "SPECIFIC_ATTRIBUTES"
    )
    with raises("ValidationException") as e:
        q(ddb, table, "pk = :p", P, Select="COUNT", ProjectionExpression="sk")
    # Query words it as a validation error list, Scan does not (both checked against AWS
    # by another emulator's suite)
    assert err(e) == (
        "1 validation error detected: Cannot specify the ProjectionExpression when choosing "
        "to get only the Count"
    )
    with raises("ValidationException") as e:
        ddb.scan(TableName=table, Select="ALL_ATTRIBUTES", AttributesToGet=["sk"])
    assert err(e) == "Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES"


def test_legacy_key_conditions_and_query_filter(ddb, table):
    fill(ddb, table)
    r = ddb.query(
        TableName=table,
        KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "b"}]},
            "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "7"}]},
        },
        QueryFilter={"odd": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": True}]}},
    )
    assert sks(r) == [7, 9]


def test_query_key_condition_errors(ddb, table):
    with raises("ValidationException") as e:
        q(ddb, table, "sk = :p", {":p": {"N": "1"}})
    assert err(e) == "Query condition missed key schema element: pk"
    with raises("ValidationException") as e:
        q(ddb, table, "pk = :p", {":p": {"N": "1"}})
    assert "Condition parameter type does not match schema type" in err(e)
    with raises("ValidationException") as e:
        ddb.query(TableName=table)
    assert "KeyConditions or KeyConditionExpression" in err(e)


def test_page_is_cut_at_exactly_one_mib_before_the_filter(ddb, simple):
    # Four items of exactly 256 KiB each fill one MiB; the page ends after the fourth.
    for i in range(6):
        name = f"k{i}"
        overhead = len("pk") + len(name) + len("v")
        ddb.put_item(
            TableName=simple, Item={"pk": {"S": name}, "v": {"S": "x" * (PAGE // 4 - overhead)}}
        )
    r = ddb.scan(
        TableName=simple,
        FilterExpression="attribute_not_exists(v)",
        ReturnConsumedCapacity="TOTAL",
    )
    assert r["ScannedCount"] == 4 and r["Count"] == 0 and "LastEvaluatedKey" in r
    assert r["ConsumedCapacity"]["CapacityUnits"] == PAGE / 4096 / 2
    r2 = ddb.scan(TableName=simple, ExclusiveStartKey=r["LastEvaluatedKey"])
    assert r2["ScannedCount"] == 2 and "LastEvaluatedKey" not in r2


def test_scan_order_follows_the_partition_key_hash(ddb, simple):
    keys = [f"user{i}" for i in range(50)]
    for k in keys:
        ddb.put_item(TableName=simple, Item={"pk": {"S": k}})
    got = [i["pk"]["S"] for i in ddb.scan(TableName=simple)["Items"]]
    assert got == sorted(keys, key=lambda k: partition_hash(encode_key_value("S", k)))
    assert got != sorted(keys)


@pytest.mark.parametrize("total", [1, 3, 7])
def test_parallel_scan_covers_every_item_exactly_once(ddb, table, total):
    fill(ddb, table, partitions=[f"p{i}" for i in range(40)], n=3)
    seen = []
    for seg in range(total):
        for page in ddb.get_paginator("scan").paginate(
            TableName=table, Segment=seg, TotalSegments=total, Limit=7
        ):
            seen += [(i["pk"]["S"], i["sk"]["N"]) for i in page["Items"]]
    assert len(seen) == 120 and len(set(seen)) == 120


def test_parallel_scan_parameter_errors(ddb, table):
    with raises("ValidationException") as e:
        ddb.scan(TableName=table, Segment=3, TotalSegments=3)
    assert err(e) == (
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 3 is not less than TotalSegments: 3"
    )
    with raises("ValidationException"):
        ddb.scan(TableName=table, Segment=0)


def test_scan_filter_and_select_count(ddb, table):
    fill(ddb, table)
    r = ddb.scan(
        TableName=table,
        Select="COUNT",
        FilterExpression="odd = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    assert (r["Count"], r["ScannedCount"]) == (10, 20) and "Items" not in r
    r = ddb.scan(
        TableName=table,
        ScanFilter={"sk": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "2"}]}},
    )
    assert r["Count"] == 4


def test_query_with_index_name_is_refused_until_indexes_exist(ddb, table):
    with raises("ValidationException") as e:
        q(ddb, table, "pk = :p", P, IndexName="byOther")
    assert err(e) == "The table does not have the specified index: byOther"


@embedded_only
def test_table_handle_iterates_all_pages(ddb, table):
    fill(ddb, table, n=25)
    t = ddb.Table(table)
    items = list(
        t.iter_query(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "b"}, Limit=4
        )
    )
    assert [int(i["sk"]) for i in items] == list(range(25))
    assert len(list(t.iter_scan(Limit=3))) == 50


@embedded_only
def test_table_handle_takes_boto3_conditions_and_batch_writer(ddb, table):
    from boto3.dynamodb.conditions import Attr, Key

    t = ddb.Table(table)
    with t.batch_writer() as w:
        for i in range(60):
            w.put_item(Item={"pk": "p", "sk": i, "even": i % 2 == 0})
        w.delete_item(Key={"pk": "p", "sk": 0})
    r = t.query(
        KeyConditionExpression=Key("pk").eq("p") & Key("sk").between(10, 19),
        FilterExpression=Attr("even").eq(True),
    )
    assert [int(i["sk"]) for i in r["Items"]] == [10, 12, 14, 16, 18]
    assert r["ScannedCount"] == 10
    assert t.scan(Select="COUNT")["Count"] == 59
    with raises("ConditionalCheckFailedException"):
        t.put_item(Item={"pk": "p", "sk": 1}, ConditionExpression=Attr("pk").not_exists())


def test_scan_start_key_must_map_to_the_segment(ddb, table):
    fill(ddb, table, partitions=[f"p{i}" for i in range(20)], n=1)
    page = ddb.scan(TableName=table, Segment=0, TotalSegments=2, Limit=1)
    with raises("ValidationException") as e:
        ddb.scan(
            TableName=table, Segment=1, TotalSegments=2, ExclusiveStartKey=page["LastEvaluatedKey"]
        )
    assert err(e) == "The provided Exclusive start key does not map to the provided segment"


def test_start_key_errors(ddb, table):
    with raises("ValidationException") as e:
        ddb.scan(TableName=table, ExclusiveStartKey={"pk": {"S": "a"}})
    assert err(e) == (
        "The provided starting key is invalid: The provided key element does not match the schema"
    )
    with raises("ValidationException") as e:
        q(ddb, table, "pk = :p", P, ExclusiveStartKey={"pk": {"S": "b"}, "sk": {"N": "1"}})
    assert err(e).startswith("The provided starting key is invalid")
