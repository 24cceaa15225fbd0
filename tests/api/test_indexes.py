"""Secondary indexes through the API: definitions, maintenance, Query/Scan, online
create/delete, capacity. Each body runs on the embedded client and on a live server."""

import time

import pytest

from tests.api.conftest import raises

GSI_TABLE = "idx"


def err(e):
    return e.value.response["Error"]["Message"]


def ks(*names, ranges=()):
    return [{"AttributeName": n, "KeyType": "HASH"} for n in names] + [
        {"AttributeName": n, "KeyType": "RANGE"} for n in ranges
    ]


def attrs(**types):
    return [{"AttributeName": n, "AttributeType": t} for n, t in types.items()]


def gsi(name, hashes, ranges=(), projection="ALL", non_key=None, **extra):
    p = {"ProjectionType": projection}
    if non_key is not None:
        p["NonKeyAttributes"] = non_key
    return {"IndexName": name, "KeySchema": ks(*hashes, ranges=ranges), "Projection": p, **extra}


def create(
    ddb, name=GSI_TABLE, *, gsis=None, lsis=None, types=None, billing="PAY_PER_REQUEST", **extra
):
    params = dict(
        TableName=name,
        KeySchema=ks("pk", ranges=("sk",)),
        AttributeDefinitions=attrs(**(types or {"pk": "S", "sk": "N", "g": "S", "r": "N"})),
        BillingMode=billing,
        **extra,
    )
    if gsis is not None:
        params["GlobalSecondaryIndexes"] = gsis
    if lsis is not None:
        params["LocalSecondaryIndexes"] = lsis
    return ddb.create_table(**params)["TableDescription"]


def standard(ddb):
    """A table with a KEYS_ONLY GSI on g, an INCLUDE GSI on g/r, an LSI on r."""
    return create(
        ddb,
        gsis=[
            gsi("by_g", ["g"], projection="KEYS_ONLY"),
            gsi("by_g_r", ["g"], ["r"], projection="INCLUDE", non_key=["inc"]),
        ],
        lsis=[gsi("by_r", ["pk"], ["r"], projection="KEYS_ONLY")],
    )


def put(ddb, pk, sk, **rest):
    item = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    for k, v in rest.items():
        item[k] = {"N": str(v)} if isinstance(v, int) else {"S": v}
    ddb.put_item(TableName=GSI_TABLE, Item=item)
    return item


def query(ddb, index, cond, values, **extra):
    return ddb.query(
        TableName=GSI_TABLE,
        IndexName=index,
        KeyConditionExpression=cond,
        ExpressionAttributeValues=values,
        **extra,
    )


# ------------------------------------------------------------------ definitions


@pytest.mark.parametrize(
    "lsis, types, message",
    [
        (
            [gsi("lsi1", ["g"], ["r"])],
            None,
            "One or more parameter values were invalid: Index KeySchema does not have the same "
            "leading hash key as table KeySchema for index: lsi1. index hash key: g, table hash "
            "key: pk",
        ),
        (
            [gsi("lsi1", ["pk"])],
            {"pk": "S", "sk": "N"},
            "One or more parameter values were invalid: Index KeySchema does not have a range "
            "key for index: lsi1",
        ),
        (
            [gsi("lsi1", ["pk"], ["r"]), gsi("lsi1", ["pk"], ["g"])],
            None,
            "One or more parameter values were invalid: Duplicate index name: lsi1",
        ),
        (
            [gsi(f"lsi{i}", ["pk"], ["r"]) for i in range(6)],
            {"pk": "S", "sk": "N", "r": "N"},
            "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds "
            "per-table limit of 5",
        ),
        (
            [gsi("lsi1", ["pk"], ["r"], non_key=["x"])],
            {"pk": "S", "sk": "N", "r": "N"},
            "One or more parameter values were invalid: ProjectionType is ALL, but "
            "NonKeyAttributes is specified",
        ),
    ],
)
def test_bad_local_index_definitions_are_refused(ddb, lsis, types, message):
    types = types or {"pk": "S", "sk": "N", "g": "S", "r": "N"}
    with raises("ValidationException") as e:
        create(ddb, lsis=lsis, types=types)
    assert err(e) == message
    assert ddb.list_tables()["TableNames"] == []


def test_lsi_needs_a_table_sort_key(ddb):
    with raises("ValidationException") as e:
        ddb.create_table(
            TableName="nosort",
            KeySchema=ks("pk"),
            AttributeDefinitions=attrs(pk="S", r="N"),
            BillingMode="PAY_PER_REQUEST",
            LocalSecondaryIndexes=[gsi("lsi1", ["pk"], ["r"])],
        )
    assert err(e) == (
        "One or more parameter values were invalid: Table KeySchema does not have a range key, "
        "which is required when specifying a LocalSecondaryIndex"
    )


def test_bad_global_index_definitions_are_refused(ddb):
    with raises("ValidationException") as e:
        create(ddb, gsis=[gsi("gs1", ["nope"])], types={"pk": "S", "sk": "N"})
    assert "Some index key attributes are not defined in AttributeDefinitions" in err(e)
    with raises("ValidationException") as e:
        create(
            ddb, gsis=[gsi("gs1", ["g"]), gsi("gs1", ["g"])], types={"pk": "S", "sk": "N", "g": "S"}
        )
    assert err(e) == "One or more parameter values were invalid: Duplicate index name: gs1"
    many = [gsi(f"g{i:02}", ["g"]) for i in range(21)]
    with raises("ValidationException") as e:
        create(ddb, gsis=many, types={"pk": "S", "sk": "N", "g": "S"})
    assert err(e) == (
        "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the "
        "per-table limit of 20"
    )
    pt = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    with raises("ValidationException") as e:
        create(
            ddb,
            gsis=[gsi("gs1", ["g"], ProvisionedThroughput=pt)],
            types={"pk": "S", "sk": "N", "g": "S"},
        )
    assert err(e) == (
        "One or more parameter values were invalid: ProvisionedThroughput should not be "
        "specified for index: gs1 when BillingMode is PAY_PER_REQUEST"
    )
    with raises("ValidationException") as e:
        create(
            ddb,
            gsis=[gsi("gs1", ["g"])],
            types={"pk": "S", "sk": "N", "g": "S"},
            billing="PROVISIONED",
            ProvisionedThroughput=pt,
        )
    assert err(e) == (
        "One or more parameter values were invalid: ProvisionedThroughput must be specified "
        "for index: gs1"
    )
    with raises("ValidationException") as e:
        create(
            ddb,
            gsis=[gsi("inc", ["g"], projection="INCLUDE")],
            types={"pk": "S", "sk": "N", "g": "S"},
        )
    assert err(e) == (
        "One or more parameter values were invalid: "
        "ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
    )
    five = {f"h{i}": "S" for i in range(5)}
    with raises("ValidationException") as e:
        create(ddb, gsis=[gsi("gs1", list(five))], types={"pk": "S", "sk": "N", **five})
    assert "at most 4 HASH and 4 RANGE" in err(e)
    with raises("ValidationException") as e:
        create(
            ddb,
            gsis=[  # 20 a index (the request's own limit), 120 across the table
                gsi(f"gs{j}", ["g"], projection="INCLUDE", non_key=[f"a{i}" for i in range(20)])
                for j in range(6)
            ],
            types={"pk": "S", "sk": "N", "g": "S"},
        )
    assert err(e) == (
        "One or more parameter values were invalid: "
        "Number of projected attributes in all indexes exceeds limit of 100"
    )
    assert ddb.list_tables()["TableNames"] == []


def test_describe_table_reports_indexes(ddb):
    standard(ddb)
    put(ddb, "a", 1, g="x", r=5, inc="i", misc="o")
    put(ddb, "a", 2, g="x")
    put(ddb, "b", 1, misc="o")
    t = ddb.describe_table(TableName=GSI_TABLE)["Table"]
    g = {d["IndexName"]: d for d in t["GlobalSecondaryIndexes"]}
    assert g["by_g"]["IndexStatus"] == "ACTIVE" and "Backfilling" not in g["by_g"]
    assert g["by_g"]["ItemCount"] == 2 and g["by_g_r"]["ItemCount"] == 1
    assert g["by_g_r"]["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["inc"]}
    assert g["by_g_r"]["KeySchema"] == ks("g", ranges=("r",))
    assert g["by_g"]["IndexArn"].endswith(":table/idx/index/by_g")
    assert g["by_g"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    assert g["by_g"]["IndexSizeBytes"] > 0
    (lsi,) = t["LocalSecondaryIndexes"]
    assert lsi["IndexName"] == "by_r" and lsi["ItemCount"] == 1 and "IndexStatus" not in lsi


# ------------------------------------------------------------------ maintenance


def test_wrong_index_key_type_writes_nothing(ddb):
    standard(ddb)
    with raises("ValidationException") as e:
        put(ddb, "a", 1, g=5)
    assert err(e) == (
        "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S "
        "Actual: N IndexName: by_g"
    )
    assert "Item" not in ddb.get_item(TableName=GSI_TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    put(ddb, "a", 1, g="ok")
    with raises("ValidationException") as e:
        ddb.update_item(
            TableName=GSI_TABLE,
            Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
            UpdateExpression="SET g = :v",
            ExpressionAttributeValues={":v": {"S": ""}},
        )
    assert err(e) == (
        "One or more parameter values are not valid. A value specified for a secondary index "
        "key is not supported. The AttributeValue for a key attribute cannot contain an empty "
        "string value. IndexName: by_g, IndexKey: g"
    )
    with raises("ValidationException"):
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": GSI_TABLE,
                        "Item": {"pk": {"S": "t"}, "sk": {"N": "1"}, "r": {"S": "not a number"}},
                    }
                }
            ]
        )
    with raises("ValidationException"):
        ddb.batch_write_item(
            RequestItems={
                GSI_TABLE: [
                    {"PutRequest": {"Item": {"pk": {"S": "t"}, "sk": {"N": "1"}, "r": {"S": "x"}}}}
                ]
            }
        )
    r = query(ddb, "by_g", "g = :g", {":g": {"S": "ok"}})
    assert r["Count"] == 1  # the refused writes left the index alone


def test_sparse_index_and_key_moves(ddb):
    standard(ddb)
    put(ddb, "a", 1, g="x", r=1)
    put(ddb, "a", 2)  # no g: not in by_g
    assert ddb.scan(TableName=GSI_TABLE, IndexName="by_g")["Count"] == 1
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    ddb.update_item(
        TableName=GSI_TABLE,
        Key=key,
        UpdateExpression="SET g = :v",
        ExpressionAttributeValues={":v": {"S": "y"}},
    )
    assert query(ddb, "by_g", "g = :g", {":g": {"S": "x"}})["Count"] == 0
    assert query(ddb, "by_g", "g = :g", {":g": {"S": "y"}})["Count"] == 1
    ddb.update_item(TableName=GSI_TABLE, Key=key, UpdateExpression="REMOVE g")
    assert ddb.scan(TableName=GSI_TABLE, IndexName="by_g")["Count"] == 0
    assert ddb.scan(TableName=GSI_TABLE, IndexName="by_r")["Count"] == 1
    ddb.delete_item(TableName=GSI_TABLE, Key=key)
    assert ddb.scan(TableName=GSI_TABLE, IndexName="by_r")["Count"] == 0


# ------------------------------------------------------------------ reads


def test_query_on_indexes_with_pages_carrying_both_keys(ddb):
    standard(ddb)
    for i in range(5):
        put(ddb, f"p{i}", i, g="same", r=10 - i, inc="i", misc="o")
    r = query(ddb, "by_g_r", "g = :g AND r > :r", {":g": {"S": "same"}, ":r": {"N": "6"}}, Limit=2)
    assert [i["r"]["N"] for i in r["Items"]] == ["7", "8"]
    assert set(r["Items"][0]) == {"pk", "sk", "g", "r", "inc"}  # INCLUDE's projection
    lek = r["LastEvaluatedKey"]
    assert set(lek) == {"pk", "sk", "g", "r"}
    r2 = query(
        ddb,
        "by_g_r",
        "g = :g AND r > :r",
        {":g": {"S": "same"}, ":r": {"N": "6"}},
        ExclusiveStartKey=lek,
    )
    assert [i["r"]["N"] for i in r2["Items"]] == ["9", "10"]
    with raises("ValidationException") as e:
        query(
            ddb,
            "by_g_r",
            "g = :g",
            {":g": {"S": "same"}},
            ExclusiveStartKey={"pk": {"S": "p1"}, "sk": {"N": "1"}},
        )
    assert err(e).startswith("The provided starting key is invalid")


def test_index_read_rules(ddb):
    standard(ddb)
    put(ddb, "a", 1, g="x", r=1, inc="i", misc="o")
    with raises("ValidationException") as e:
        query(ddb, "nope", "g = :g", {":g": {"S": "x"}})
    assert err(e) == "The table does not have the specified index: nope"
    with raises("ValidationException") as e:
        query(ddb, "by_g", "g = :g", {":g": {"S": "x"}}, ConsistentRead=True)
    assert err(e) == "Consistent reads are not supported on global secondary indexes"
    with raises("ValidationException") as e:
        query(ddb, "by_g", "g = :g", {":g": {"S": "x"}}, Select="ALL_ATTRIBUTES")
    assert err(e) == (
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
        "supported for global secondary index by_g because its projection type is not ALL"
    )
    with raises("ValidationException") as e:
        query(ddb, "by_g", "g = :g", {":g": {"S": "x"}}, ProjectionExpression="misc")
    assert "does not project" in err(e)
    with raises("ValidationException") as e:
        query(
            ddb, "by_g_r", "g = :g", {":g": {"S": "x"}, ":r": {"N": "1"}}, FilterExpression="r = :r"
        )
    assert err(e) == (
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: r"
    )
    # An LSI fetches what it does not project, consistently if asked, and charges the table.
    r = query(
        ddb,
        "by_r",
        "pk = :p",
        {":p": {"S": "a"}},
        ConsistentRead=True,
        Select="ALL_ATTRIBUTES",
        ReturnConsumedCapacity="INDEXES",
    )
    assert r["Items"][0]["misc"] == {"S": "o"}
    cc = r["ConsumedCapacity"]
    assert cc["Table"]["CapacityUnits"] == 1.0
    assert cc["LocalSecondaryIndexes"]["by_r"]["CapacityUnits"] == 1.0
    assert cc["CapacityUnits"] == 2.0
    r = query(ddb, "by_r", "pk = :p", {":p": {"S": "a"}})
    assert set(r["Items"][0]) == {"pk", "sk", "r"}  # ALL_PROJECTED_ATTRIBUTES by default


def test_parallel_scan_of_an_index_sees_every_entry_once(ddb):
    standard(ddb)
    for i in range(60):
        put(ddb, f"p{i}", i, g=f"g{i % 7}")
    seen = []
    for seg in range(4):
        r = ddb.scan(TableName=GSI_TABLE, IndexName="by_g", Segment=seg, TotalSegments=4)
        seen += [(i["pk"]["S"], i["g"]["S"]) for i in r["Items"]]
    assert sorted(seen) == sorted((f"p{i}", f"g{i % 7}") for i in range(60))


def test_multi_attribute_gsi_keys(ddb):
    create(
        ddb,
        gsis=[gsi("by_place", ["country", "city"], ["street", "number"])],
        types={"pk": "S", "sk": "N", "country": "S", "city": "S", "street": "S", "number": "N"},
    )
    rows = [
        ("NL", "Delft", "Oude", 1),
        ("NL", "Delft", "Oude", 7),
        ("NL", "Delft", "Nieuwe", 3),
        ("NL", "Leiden", "Oude", 2),
        ("BE", "Delft", "Oude", 4),
    ]
    for i, (co, ci, st, no) in enumerate(rows):
        put(ddb, f"p{i}", i, country=co, city=ci, street=st, number=no)
    put(ddb, "p9", 9, country="NL", city="Delft", street="Oude")  # no number: not indexed
    vals = {":co": {"S": "NL"}, ":ci": {"S": "Delft"}}
    base = "country = :co AND city = :ci"
    r = query(ddb, "by_place", base, vals)
    assert [(i["street"]["S"], i["number"]["N"]) for i in r["Items"]] == [
        ("Nieuwe", "3"),
        ("Oude", "1"),
        ("Oude", "7"),
    ]
    r = query(
        ddb,
        "by_place",
        base + " AND street = :st AND #n > :n",
        {**vals, ":st": {"S": "Oude"}, ":n": {"N": "1"}},
        ExpressionAttributeNames={"#n": "number"},
    )
    assert [i["number"]["N"] for i in r["Items"]] == ["7"]
    r = query(ddb, "by_place", base + " AND begins_with(street, :s)", {**vals, ":s": {"S": "Ou"}})
    assert r["Count"] == 2
    with raises("ValidationException") as e:
        query(ddb, "by_place", "country = :co", {":co": {"S": "NL"}})
    assert err(e) == "Query condition missed key schema element: city"
    with raises("ValidationException") as e:  # a gap: number without street
        query(
            ddb,
            "by_place",
            base + " AND #n = :n",
            {**vals, ":n": {"N": "1"}},
            ExpressionAttributeNames={"#n": "number"},
        )
    assert err(e) == "Query condition missed key schema element: street"
    with raises("ValidationException") as e:  # a range before the last sort attribute
        query(
            ddb,
            "by_place",
            base + " AND street > :st AND #n = :n",
            {**vals, ":st": {"S": "A"}, ":n": {"N": "1"}},
            ExpressionAttributeNames={"#n": "number"},
        )
    assert err(e).startswith("Query key condition not supported")
    with raises("ValidationException") as e:
        query(
            ddb,
            "by_place",
            base,
            {**vals, ":st": {"S": "Oude"}},
            FilterExpression="street = :st",
        )
    assert "Primary key attribute: street" in err(e)


# ------------------------------------------------------------------ online create and delete


def wait_active(ddb, name, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        t = ddb.describe_table(TableName=GSI_TABLE)["Table"]
        status = {d["IndexName"]: d["IndexStatus"] for d in t.get("GlobalSecondaryIndexes", [])}
        if status.get(name) == "ACTIVE":
            return t
        time.sleep(0.02)
    raise AssertionError(f"{name} did not become ACTIVE")


def test_update_table_creates_and_deletes_a_gsi_online(ddb):
    create(ddb, types={"pk": "S", "sk": "N"})
    for i in range(200):
        put(ddb, f"p{i % 10}", i, color=["red", "blue"][i % 2])
    r = ddb.update_table(
        TableName=GSI_TABLE,
        AttributeDefinitions=attrs(color="S"),
        GlobalSecondaryIndexUpdates=[{"Create": gsi("by_color", ["color"])}],
    )["TableDescription"]
    (d,) = r["GlobalSecondaryIndexes"]
    assert d["IndexStatus"] == "CREATING" and d["Backfilling"] is True
    assert r["TableStatus"] == "UPDATING"
    assert {"AttributeName": "color", "AttributeType": "S"} in r["AttributeDefinitions"]
    t = wait_active(ddb, "by_color")
    assert t["GlobalSecondaryIndexes"][0]["ItemCount"] == 200
    assert query(ddb, "by_color", "color = :c", {":c": {"S": "red"}})["Count"] == 100
    with raises("ValidationException") as e:
        ddb.update_table(
            TableName=GSI_TABLE,
            AttributeDefinitions=attrs(color="S"),
            GlobalSecondaryIndexUpdates=[{"Create": gsi("by_color", ["color"])}],
        )
    assert "already exists" in err(e)
    r = ddb.update_table(
        TableName=GSI_TABLE, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_color"}}]
    )
    (d,) = r["TableDescription"]["GlobalSecondaryIndexes"]
    assert d["IndexStatus"] == "DELETING"
    t = ddb.describe_table(TableName=GSI_TABLE)["Table"]
    assert "GlobalSecondaryIndexes" not in t
    assert t["AttributeDefinitions"] == attrs(pk="S", sk="N")  # color's definition went too
    with raises("ValidationException"):
        query(ddb, "by_color", "color = :c", {":c": {"S": "red"}})
    with raises("ResourceNotFoundException"):
        ddb.update_table(
            TableName=GSI_TABLE, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_color"}}]
        )
    with raises("LimitExceededException"):
        ddb.update_table(
            TableName=GSI_TABLE,
            AttributeDefinitions=attrs(a="S", b="S"),
            GlobalSecondaryIndexUpdates=[
                {"Create": gsi("by_a", ["a"])},
                {"Create": gsi("by_b", ["b"])},
            ],
        )


# ------------------------------------------------------------------ capacity


def test_index_writes_consume_capacity_reported_per_index(ddb):
    standard(ddb)
    r = ddb.put_item(
        TableName=GSI_TABLE,
        ReturnConsumedCapacity="INDEXES",
        Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "g": {"S": "x"}, "r": {"N": "1"}},
    )
    cc = r["ConsumedCapacity"]
    assert cc["CapacityUnits"] == 4.0 and cc["Table"]["CapacityUnits"] == 1.0
    assert cc["GlobalSecondaryIndexes"] == {
        "by_g": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
        "by_g_r": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
    }
    assert cc["LocalSecondaryIndexes"] == {
        "by_r": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0}
    }
    # moving the GSI key is a delete and a put there; the LSI entry is rewritten in place
    r = ddb.update_item(
        TableName=GSI_TABLE,
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="SET g = :g",
        ExpressionAttributeValues={":g": {"S": "y"}},
        ReturnConsumedCapacity="INDEXES",
    )
    cc = r["ConsumedCapacity"]
    assert cc["GlobalSecondaryIndexes"]["by_g"]["CapacityUnits"] == 2.0
    assert "LocalSecondaryIndexes" not in cc  # KEYS_ONLY entry did not change
    r = ddb.put_item(
        TableName=GSI_TABLE,
        ReturnConsumedCapacity="TOTAL",
        Item={"pk": {"S": "b"}, "sk": {"N": "1"}},
    )
    assert r["ConsumedCapacity"] == {
        "TableName": GSI_TABLE,
        "CapacityUnits": 1.0,
        "WriteCapacityUnits": 1.0,
    }


def test_gsi_without_write_capacity_throttles_its_table(ddb):
    pt = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    create(
        ddb,
        billing="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 100, "WriteCapacityUnits": 1000},
        gsis=[gsi("thin", ["g"], ProvisionedThroughput=pt)],
        types={"pk": "S", "sk": "N", "g": "S"},
    )
    big = "x" * 100_000  # ~98 units on the GSI a write: 1 WCU x 300 s of burst lasts ~4
    ok = 0
    with raises("ProvisionedThroughputExceededException"):
        for i in range(20):
            put(ddb, "a", i, g="k", v=big)
            ok += 1
    assert 3 <= ok <= 5
    ddb.update_table(
        TableName=GSI_TABLE,
        GlobalSecondaryIndexUpdates=[
            {
                "Update": {
                    "IndexName": "thin",
                    "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 40000},
                }
            }
        ],
    )
    deadline = time.monotonic() + 10
    while True:  # the bucket went negative; at the new rate it refills within milliseconds
        try:
            put(ddb, "a", 99, g="k", v=big)
            break
        except ddb.exceptions.ClientError as exc:
            code = exc.response["Error"]["Code"]
            assert code == "ProvisionedThroughputExceededException" and time.monotonic() < deadline
            time.sleep(0.05)


def test_return_item_collection_metrics_on_lsi_tables(ddb):
    standard(ddb)
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    r = ddb.put_item(
        TableName=GSI_TABLE, Item=dict(key, r={"N": "1"}), ReturnItemCollectionMetrics="SIZE"
    )
    assert r["ItemCollectionMetrics"] == {
        "ItemCollectionKey": {"pk": {"S": "a"}},
        "SizeEstimateRangeGB": [0.0, 1.0],
    }
    r = ddb.put_item(TableName=GSI_TABLE, Item=dict(key, r={"N": "2"}))
    assert "ItemCollectionMetrics" not in r  # not asked for
    r = ddb.batch_write_item(
        ReturnItemCollectionMetrics="SIZE",
        RequestItems={GSI_TABLE: [{"DeleteRequest": {"Key": key}}]},
    )
    assert r["ItemCollectionMetrics"][GSI_TABLE][0]["ItemCollectionKey"] == {"pk": {"S": "a"}}
    r = ddb.transact_write_items(
        ReturnItemCollectionMetrics="SIZE",
        TransactItems=[{"Put": {"TableName": GSI_TABLE, "Item": dict(key, r={"N": "3"})}}],
    )
    assert list(r["ItemCollectionMetrics"]) == [GSI_TABLE]
    create(ddb, "nolsi", gsis=[gsi("by_g", ["g"])], types={"pk": "S", "sk": "N", "g": "S"})
    r = ddb.put_item(TableName="nolsi", Item=key, ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in r  # only LSI tables have item collections


def test_billing_mode_switches_carry_the_gsis_along(ddb):
    pt = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    create(
        ddb,
        gsis=[gsi("by_g", ["g"], ProvisionedThroughput=pt)],
        billing="PROVISIONED",
        ProvisionedThroughput=pt,
        types={"pk": "S", "sk": "N", "g": "S"},
    )
    ddb.update_table(TableName=GSI_TABLE, BillingMode="PAY_PER_REQUEST")
    (d,) = ddb.describe_table(TableName=GSI_TABLE)["Table"]["GlobalSecondaryIndexes"]
    assert d["ProvisionedThroughput"]["WriteCapacityUnits"] == 0
    with raises("ValidationException") as e:
        ddb.update_table(TableName=GSI_TABLE, BillingMode="PROVISIONED", ProvisionedThroughput=pt)
    assert err(e) == (
        "One or more parameter values were invalid: ProvisionedThroughput must be specified "
        "for index: by_g"
    )
    ddb.update_table(
        TableName=GSI_TABLE,
        BillingMode="PROVISIONED",
        ProvisionedThroughput=pt,
        GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": "by_g", "ProvisionedThroughput": pt}}
        ],
    )
    (d,) = ddb.describe_table(TableName=GSI_TABLE)["Table"]["GlobalSecondaryIndexes"]
    assert d["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
