"""End to end through boto3 (client and resource) and the AWS CLI against a live server."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key

KEYS = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRS = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "N"},
]


def test_a_boto3_scenario_from_create_to_delete(server):
    c = server.client()
    c.create_table(
        TableName="orders",
        KeySchema=KEYS,
        AttributeDefinitions=ATTRS,
        BillingMode="PAY_PER_REQUEST",
    )
    assert c.describe_table(TableName="orders")["Table"]["TableStatus"] in ("ACTIVE", "CREATING")
    c.get_waiter("table_exists").wait(TableName="orders", WaiterConfig={"Delay": 0.05})
    assert "orders" in c.list_tables()["TableNames"]

    for i in range(30):
        c.put_item(
            TableName="orders",
            Item={
                "pk": {"S": "cust#1" if i < 20 else "cust#2"},
                "sk": {"N": str(i)},
                "blob": {"B": bytes([i]) * 3},
                "tags": {"SS": ["a", f"t{i}"]},
                "nested": {"M": {"l": {"L": [{"N": "1.50"}, {"NULL": True}, {"BOOL": False}]}}},
            },
        )
    got = c.get_item(TableName="orders", Key={"pk": {"S": "cust#1"}, "sk": {"N": "3"}})["Item"]
    assert got["blob"] == {"B": b"\x03\x03\x03"}
    assert got["nested"]["M"]["l"]["L"][0] == {"N": "1.5"}

    pages = list(
        c.get_paginator("query").paginate(
            TableName="orders",
            KeyConditionExpression="pk = :p AND sk >= :s",
            ExpressionAttributeValues={":p": {"S": "cust#1"}, ":s": {"N": "5"}},
            PaginationConfig={"PageSize": 4},
        )
    )
    assert sum(p["Count"] for p in pages) == 15 and len(pages) >= 4

    reply = c.update_item(
        TableName="orders",
        Key={"pk": {"S": "cust#1"}, "sk": {"N": "3"}},
        UpdateExpression="SET amount = if_not_exists(amount, :z) + :d ADD tags :t",
        ExpressionAttributeValues={":z": {"N": "0"}, ":d": {"N": "7"}, ":t": {"SS": ["new"]}},
        ReturnValues="UPDATED_NEW",
    )
    assert reply["Attributes"]["amount"] == {"N": "7"}

    with pytest.raises(c.exceptions.ConditionalCheckFailedException) as exc:
        c.delete_item(
            TableName="orders",
            Key={"pk": {"S": "cust#1"}, "sk": {"N": "3"}},
            ConditionExpression="amount > :n",
            ExpressionAttributeValues={":n": {"N": "100"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert exc.value.response["Item"]["amount"] == {"N": "7"}
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    batch = c.batch_get_item(
        RequestItems={
            "orders": {"Keys": [{"pk": {"S": "cust#2"}, "sk": {"N": str(i)}} for i in (20, 21)]}
        }
    )
    assert len(batch["Responses"]["orders"]) == 2
    c.batch_write_item(
        RequestItems={
            "orders": [
                {"DeleteRequest": {"Key": {"pk": {"S": "cust#2"}, "sk": {"N": str(i)}}}}
                for i in range(20, 30)
            ]
        }
    )
    with pytest.raises(c.exceptions.TransactionCanceledException) as exc:
        c.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": "orders",
                        "Item": {"pk": {"S": "cust#3"}, "sk": {"N": "1"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "orders",
                        "Key": {"pk": {"S": "cust#2"}, "sk": {"N": "20"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    reasons = exc.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert c.scan(TableName="orders", Select="COUNT")["Count"] == 20

    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_item(TableName="missing", Key={"pk": {"S": "x"}, "sk": {"N": "1"}})
    c.delete_table(TableName="orders")
    assert "orders" not in c.list_tables()["TableNames"]


def test_boto3_resource_layer_with_native_values(server):
    ddb = boto3.resource(
        "dynamodb",
        endpoint_url=server.url,
        region_name="us-west-2",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
    )
    table = ddb.create_table(
        TableName="people",
        KeySchema=KEYS,
        AttributeDefinitions=ATTRS,
        BillingMode="PAY_PER_REQUEST",
    )
    with table.batch_writer() as w:
        for i in range(60):
            w.put_item(Item={"pk": "p", "sk": i, "age": Decimal(20 + i % 5), "raw": b"\x00\xff"})
    items = table.query(
        KeyConditionExpression=Key("pk").eq("p"), FilterExpression=Attr("age").gt(22)
    )
    assert items["Count"] == 24
    assert items["Items"][0]["raw"].value == b"\x00\xff"
    table.delete()


def test_concurrent_boto3_clients_all_succeed(server):
    c = server.client()
    c.create_table(
        TableName="conc", KeySchema=KEYS, AttributeDefinitions=ATTRS, BillingMode="PAY_PER_REQUEST"
    )
    errors = []

    def work(n):
        w = server.client()
        try:
            for i in range(40):
                w.put_item(TableName="conc", Item={"pk": {"S": f"w{n}"}, "sk": {"N": str(i)}})
                w.update_item(
                    TableName="conc",
                    Key={"pk": {"S": "counter"}, "sk": {"N": "0"}},
                    UpdateExpression="ADD n :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = c.get_item(TableName="conc", Key={"pk": {"S": "counter"}, "sk": {"N": "0"}})["Item"]
    assert got["n"] == {"N": "320"}
    assert c.scan(TableName="conc", Select="COUNT")["Count"] == 321


def aws_cli() -> list[str]:
    """The AWS CLI (awscli is a test dependency): this interpreter's, else one on PATH."""
    if importlib.util.find_spec("awscli") is not None:
        return [sys.executable, "-m", "awscli"]
    exe = shutil.which("aws")
    assert exe, "the AWS CLI is a test dependency (awscli in pyproject.toml's test extra)"
    return [exe]


def test_the_aws_cli_runs_a_scenario(server):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "cli",
        "AWS_SECRET_ACCESS_KEY": "cli",
        "AWS_DEFAULT_REGION": "localhost",
        "AWS_MAX_ATTEMPTS": "1",
    }

    def aws(*args: str) -> dict:
        cmd = [*aws_cli(), "dynamodb", *args, "--endpoint-url", server.url, "--output", "json"]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    aws(
        "create-table",
        "--table-name",
        "cli",
        "--attribute-definitions",
        "AttributeName=pk,AttributeType=S",
        "--key-schema",
        "AttributeName=pk,KeyType=HASH",
        "--billing-mode",
        "PAY_PER_REQUEST",
    )
    aws("put-item", "--table-name", "cli", "--item", '{"pk": {"S": "a"}, "n": {"N": "1"}}')
    aws(
        "update-item",
        "--table-name",
        "cli",
        "--key",
        '{"pk": {"S": "a"}}',
        "--update-expression",
        "SET n = n + :one",
        "--expression-attribute-values",
        '{":one": {"N": "1"}}',
    )
    got = aws(
        "query",
        "--table-name",
        "cli",
        "--key-condition-expression",
        "pk = :p",
        "--expression-attribute-values",
        '{":p": {"S": "a"}}',
    )
    assert got["Items"] == [{"pk": {"S": "a"}, "n": {"N": "2"}}]
    aws("delete-item", "--table-name", "cli", "--key", '{"pk": {"S": "a"}}')
    assert aws("scan", "--table-name", "cli")["Count"] == 0
    aws("delete-table", "--table-name", "cli")


def test_botocore_checks_our_crc32_on_every_reply(server):
    # botocore verifies x-amz-crc32 for DynamoDB and retries on a mismatch; with retries off
    # a wrong header would fail these calls.
    c = server.client()
    for _ in range(20):
        c.list_tables()


def test_pynamodb_runs_a_scenario(server):
    from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute
    from pynamodb.models import Model

    class Note(Model):
        class Meta:
            table_name = "notes"
            host = server.url
            region = "localhost"
            aws_access_key_id = "pynamo"
            aws_secret_access_key = "pynamo"
            billing_mode = "PAY_PER_REQUEST"

        owner = UnicodeAttribute(hash_key=True)
        seq = NumberAttribute(range_key=True)
        text = UnicodeAttribute(null=True)
        raw = BinaryAttribute(null=True, legacy_encoding=False)

    Note.create_table(wait=True)
    for i in range(5):
        Note("ann", i, text=f"note {i}", raw=bytes([i])).save()
    assert [n.seq for n in Note.query("ann", Note.seq >= 2)] == [2, 3, 4]
    note = Note.get("ann", 3)
    assert (note.text, note.raw) == ("note 3", b"\x03")
    note.update(actions=[Note.text.set("edited")])
    assert Note.get("ann", 3).text == "edited"
    Note.get("ann", 0).delete()
    assert Note.count("ann") == 4
    Note.delete_table()
