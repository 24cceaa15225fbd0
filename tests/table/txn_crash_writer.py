"""Child process of test_txn_crash.py: transfers between accounts in transactions, sync.

Usage: txn_crash_writer.py DATA_DIR. Creates table "bank" (4 accounts of 1000 and a
counter "n") if missing, then loops forever: one TransactWriteItems moves 1 between two
accounts and increments n; after it returns, prints the new n. Killed by its parent.
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import engine

ACCOUNTS = [f"acct{i}" for i in range(4)]
START = 1000


def main() -> None:
    ddb = engine.connect(sys.argv[1], durability="sync", memtable_bytes=256 << 10)
    if "bank" not in ddb.list_tables()["TableNames"]:
        ddb.create_table(
            TableName="bank",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "bank", "Item": {"pk": {"S": a}, "bal": {"N": str(START)}}}}
                for a in ACCOUNTS
            ]
            + [{"Put": {"TableName": "bank", "Item": {"pk": {"S": "n"}, "n": {"N": "0"}}}}]
        )
    rng = random.Random()
    while True:
        src, dst = rng.sample(ACCOUNTS, 2)
        pad = {":pad": {"S": "x" * rng.randrange(2000)}}
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "bank",
                        "Key": {"pk": {"S": src}},
                        "UpdateExpression": "SET bal = bal - :one, padding = :pad",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, **pad},
                    }
                },
                {
                    "Update": {
                        "TableName": "bank",
                        "Key": {"pk": {"S": dst}},
                        "UpdateExpression": "SET bal = bal + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "Update": {
                        "TableName": "bank",
                        "Key": {"pk": {"S": "n"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                        "ReturnValuesOnConditionCheckFailure": "NONE",
                    }
                },
            ]
        )
        n = ddb.get_item(TableName="bank", Key={"pk": {"S": "n"}})["Item"]["n"]["N"]
        print(n, flush=True)


if __name__ == "__main__":
    main()
