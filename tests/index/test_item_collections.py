"""Item collections of tables with LSIs: exact sizes and the 10 GB limit.

The limit is lowered for the test (a module constant read at each write) so that a few
kilobytes stand for ten gigabytes; everything else runs as in production.
"""

import pytest

import engine
import engine.index.hook as hook

TABLE = "coll"


@pytest.fixture
def client(tmp_path):
    c = engine.connect(str(tmp_path / "db"), durability="off")
    c.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "l")
        ],
        BillingMode="PAY_PER_REQUEST",
        LocalSecondaryIndexes=[
            {
                "IndexName": "by_l",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    yield c
    c.close()


def item(pk, sk, size, indexed):
    it = {"pk": {"S": pk}, "sk": {"S": sk}, "v": {"S": "x" * size}}
    if indexed:
        it["l"] = {"S": sk}
    return it


def test_collection_size_counts_items_and_lsi_entries(client):
    svc = client.service
    table = svc.ctx.tables.get(TABLE)
    skey = table.key({"pk": {"S": "a"}, "sk": {"S": "1"}})
    client.put_item(TableName=TABLE, Item=item("a", "1", 100, True))
    client.put_item(TableName=TABLE, Item=item("a", "2", 200, False))
    client.put_item(TableName=TABLE, Item=item("b", "1", 500, True))  # another collection
    size = svc.ctx.indexes.collection_size(table, skey)
    one = 2 + 1 + 2 + 1 + 1 + 100 + 1 + 1  # pk, sk, v, l: names and values
    two = 2 + 1 + 2 + 1 + 1 + 200
    assert size == 2 * one + two  # the first item twice: base and its LSI entry
    client.delete_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})
    assert svc.ctx.indexes.collection_size(table, skey) == two  # moved by the write


def test_a_write_growing_a_collection_past_the_limit_is_refused(client, monkeypatch):
    monkeypatch.setattr(hook, "ITEM_COLLECTION_LIMIT_BYTES", 4500)
    for i in range(3):
        client.put_item(TableName=TABLE, Item=item("a", str(i), 1000, i == 0))
    with pytest.raises(client.exceptions.ItemCollectionSizeLimitExceededException):
        client.put_item(TableName=TABLE, Item=item("a", "9", 1000, False))
    assert "Item" not in client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "9"}})
    client.put_item(TableName=TABLE, Item=item("b", "9", 1000, True))  # other collection
    # shrinking stays allowed, and makes room again
    client.put_item(TableName=TABLE, Item=item("a", "0", 10, False))
    client.put_item(TableName=TABLE, Item=item("a", "9", 1000, False))


def test_an_item_dict_reused_with_a_bad_index_key_is_still_refused(client):
    # check_index_keys remembers the last valid item per thread: a caller that mutates and
    # resends the same dict must not slip past it
    it = item("a", "1", 10, True)
    client.put_item(TableName=TABLE, Item=it)
    it["l"] = {"N": "5"}
    with pytest.raises(client.exceptions.ClientError) as e:
        client.put_item(TableName=TABLE, Item=it)
    assert "Type mismatch for Index Key l" in e.value.response["Error"]["Message"]


def test_a_batch_counts_its_own_earlier_writes_against_the_limit(client, monkeypatch):
    """A BatchWriteItem's items are staged as one write group before any is committed;
    the limit still counts the group's earlier items, so the item that crosses it is
    refused and the ones before it are written, as if each were its own PutItem."""
    monkeypatch.setattr(hook, "ITEM_COLLECTION_LIMIT_BYTES", 4500)
    groups = client.store.stats()["write_groups"]
    r = client.batch_write_item(
        RequestItems={
            TABLE: [{"PutRequest": {"Item": item("a", str(i), 1000, False)}} for i in range(4)]
        },
        ReturnItemCollectionMetrics="SIZE",
    )
    assert client.store.stats()["write_groups"] == groups + 1  # one WAL write for the four
    assert [m["ItemCollectionKey"] for m in r["ItemCollectionMetrics"][TABLE]] == [
        {"pk": {"S": "a"}}
    ] * 4
    with pytest.raises(client.exceptions.ItemCollectionSizeLimitExceededException):
        client.batch_write_item(
            RequestItems={
                TABLE: [{"PutRequest": {"Item": item("b", str(i), 1000, False)}} for i in range(6)]
            }
        )
    kept = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "b"}},
    )["Items"]
    assert sorted(i["sk"]["S"] for i in kept) == ["0", "1", "2", "3"]
