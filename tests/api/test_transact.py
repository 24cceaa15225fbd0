"""TransactWriteItems and TransactGetItems: all or nothing, reasons in action order,
idempotency, isolation under threads, conflicts."""

import threading

from tests.api.conftest import embedded_only, make_table, raises


def key(p, s=1):
    return {"pk": {"S": p}, "sk": {"N": str(s)}}


def test_all_actions_commit_together(ddb, table, simple):
    ddb.put_item(TableName=table, Item=dict(key("del")))
    ddb.put_item(TableName=table, Item=dict(key("chk"), ok={"BOOL": True}))
    r = ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": dict(key("new"), v={"N": "1"})}},
            {"Delete": {"TableName": table, "Key": key("del")}},
            {
                "Update": {
                    "TableName": simple,
                    "Key": {"pk": {"S": "cnt"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": key("chk"),
                    "ConditionExpression": "ok = :t",
                    "ExpressionAttributeValues": {":t": {"BOOL": True}},
                }
            },
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    units = {c["TableName"]: c["CapacityUnits"] for c in r["ConsumedCapacity"]}
    assert units == {table: 6.0, simple: 2.0}
    assert "Item" in ddb.get_item(TableName=table, Key=key("new"))
    assert "Item" not in ddb.get_item(TableName=table, Key=key("del"))
    assert ddb.get_item(TableName=simple, Key={"pk": {"S": "cnt"}})["Item"]["n"] == {"N": "1"}


def test_failed_condition_cancels_everything_with_reasons_in_order(ddb, table):
    ddb.put_item(TableName=table, Item=dict(key("x"), v={"N": "1"}))
    with raises("TransactionCanceledException") as e:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": key("y")}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key("x"),
                        "ConditionExpression": "v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    resp = e.value.response
    assert resp["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed]"
    )
    assert resp["CancellationReasons"] == [
        {"Code": "None"},
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": dict(key("x"), v={"N": "1"}),
        },
    ]
    assert "Item" not in ddb.get_item(TableName=table, Key=key("y"))


def test_two_actions_on_one_item_are_refused(ddb, table):
    with raises("ValidationException") as e:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": key("a")}},
                {"Delete": {"TableName": table, "Key": key("a")}},
            ]
        )
    assert e.value.response["Error"]["Message"] == (
        "Transaction request cannot include multiple operations on one item"
    )


def test_client_request_token_is_idempotent(ddb, simple):
    items = [
        {
            "Update": {
                "TableName": simple,
                "Key": {"pk": {"S": "c"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
    ]
    for _ in range(3):
        ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-1")
    assert ddb.get_item(TableName=simple, Key={"pk": {"S": "c"}})["Item"]["n"] == {"N": "1"}
    other = [{"Put": {"TableName": simple, "Item": {"pk": {"S": "d"}}}}]
    with raises("IdempotentParameterMismatchException"):
        ddb.transact_write_items(TransactItems=other, ClientRequestToken="tok-1")


def test_transact_get_items(ddb, table, simple):
    ddb.put_item(TableName=table, Item=dict(key("a"), v={"S": "1"}, w={"S": "2"}))
    r = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": table, "Key": key("a"), "ProjectionExpression": "v"}},
            {"Get": {"TableName": simple, "Key": {"pk": {"S": "none"}}}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert r["Responses"] == [{"Item": {"v": {"S": "1"}}}, {}]
    assert sum(c["CapacityUnits"] for c in r["ConsumedCapacity"]) == 4.0


def test_transfers_racing_from_threads_keep_the_total(ddb, simple):
    accounts = [f"acct{i}" for i in range(4)]
    for a in accounts:
        ddb.put_item(TableName=simple, Item={"pk": {"S": a}, "bal": {"N": "100"}})
    outcomes = {"ok": 0, "cancelled": 0}
    lock = threading.Lock()

    def transfer(seed):
        for n in range(40):
            src = accounts[(seed + n) % 4]
            dst = accounts[(seed + n + 1 + n % 2) % 4]
            try:
                ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": simple,
                                "Key": {"pk": {"S": src}},
                                "UpdateExpression": "SET bal = bal - :x",
                                "ConditionExpression": "bal >= :x",
                                "ExpressionAttributeValues": {":x": {"N": "7"}},
                            }
                        },
                        {
                            "Update": {
                                "TableName": simple,
                                "Key": {"pk": {"S": dst}},
                                "UpdateExpression": "SET bal = bal + :x",
                                "ExpressionAttributeValues": {":x": {"N": "7"}},
                            }
                        },
                    ]
                )
                with lock:
                    outcomes["ok"] += 1
            except ddb.exceptions.TransactionCanceledException as exc:
                codes = {r["Code"] for r in exc.response["CancellationReasons"]}
                assert codes <= {"None", "ConditionalCheckFailed", "TransactionConflict"}
                with lock:
                    outcomes["cancelled"] += 1

    def reader():
        for _ in range(40):
            r = ddb.transact_get_items(
                TransactItems=[
                    {"Get": {"TableName": simple, "Key": {"pk": {"S": a}}}} for a in accounts
                ]
            )
            total = sum(int(x["Item"]["bal"]["N"]) for x in r["Responses"])
            assert total == 400

    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except Exception as exc:  # collected: assertions in threads must fail the test
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(lambda s=s: transfer(s))) for s in range(4)]
    threads.append(threading.Thread(target=guarded(reader)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    transact_errors = [
        e for e in errors if not isinstance(e, ddb.exceptions.TransactionCanceledException)
    ]
    assert not transact_errors, transact_errors
    total = sum(
        int(ddb.get_item(TableName=simple, Key={"pk": {"S": a}})["Item"]["bal"]["N"])
        for a in accounts
    )
    assert total == 400 and outcomes["ok"] > 0


@embedded_only
def test_plain_write_on_an_item_held_by_a_transaction_conflicts(ddb, simple):
    # Hold a claim the way an in-flight transaction does, then write the item directly.
    service = ddb.service
    table = service.ctx.tables.get(simple)
    skey = table.key({"pk": {"S": "held"}})
    owner = object()
    locks = service.ctx.tables.locks
    assert locks.claim([(table.keyspace, skey)], owner) == []
    try:
        with raises("TransactionConflictException"):
            ddb.put_item(TableName=simple, Item={"pk": {"S": "held"}})
        with raises("TransactionCanceledException") as e:
            ddb.transact_write_items(
                TransactItems=[{"Put": {"TableName": simple, "Item": {"pk": {"S": "held"}}}}]
            )
        assert e.value.response["CancellationReasons"][0]["Code"] == "TransactionConflict"
    finally:
        locks.release_claims([(table.keyspace, skey)], owner)
    ddb.put_item(TableName=simple, Item={"pk": {"S": "held"}})


def test_transaction_over_100_actions_is_refused(ddb):
    make_table(ddb, "many", range_type=None)
    with raises("ValidationException") as e:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "many", "Item": {"pk": {"S": str(i)}}}} for i in range(101)
            ]
        )
    assert (
        "Member must have length less than or equal to 100" in e.value.response["Error"]["Message"]
    )


def test_transaction_over_4_mib_is_refused(ddb, simple):
    big = "x" * 400_000
    with raises("ValidationException") as e:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": simple, "Item": {"pk": {"S": str(i)}, "v": {"S": big}}}}
                for i in range(11)
            ]
        )
    assert "4 MB" in e.value.response["Error"]["Message"]
    assert ddb.scan(TableName=simple, Select="COUNT")["Count"] == 0
