"""Model-based test: random operations against the client and a dict model; every reply is
compared with what the model predicts."""

import random

import pytest

from tests.api.conftest import raises

PARTITIONS = ["a", "b", "c"]
SORTS = list(range(8))


def k(p, s):
    return {"pk": {"S": p}, "sk": {"N": str(s)}}


def conds_for(rng):
    """(expression, values, predicate on the old item or None)."""
    choice = rng.randrange(4)
    if choice == 0:
        return None, None, lambda old: True
    if choice == 1:
        return "attribute_not_exists(pk)", None, lambda old: old is None
    if choice == 2:
        return "attribute_exists(pk)", None, lambda old: old is not None
    x = rng.randrange(3)
    return (
        "n = :x",
        {":x": {"N": str(x)}},
        lambda old: old is not None and "n" in old and old["n"] == {"N": str(x)},
    )


def run(ddb, table, rng, model, steps):
    for _ in range(steps):
        op = rng.choice(["put", "get", "update", "delete", "query", "scan"])
        p, s = rng.choice(PARTITIONS), rng.choice(SORTS)
        key = (p, s)
        old = model.get(key)
        if op in ("put", "update", "delete"):
            expr, values, pred = conds_for(rng)
            params = {"TableName": table}
            if expr:
                params["ConditionExpression"] = expr
            if values:
                params["ExpressionAttributeValues"] = dict(values)
            ok = pred(old)
            if op == "put":
                item = dict(k(p, s), n={"N": str(rng.randrange(3))})
                fn, kw = ddb.put_item, dict(params, Item=item, ReturnValues="ALL_OLD")
                new = item
            elif op == "delete":
                fn, kw = ddb.delete_item, dict(params, Key=k(p, s), ReturnValues="ALL_OLD")
                new = None
            else:
                params["UpdateExpression"] = "ADD n :one SET t = :t"
                params["ExpressionAttributeValues"] = dict(
                    params.get("ExpressionAttributeValues") or {},
                    **{":one": {"N": "1"}, ":t": {"S": "u"}},
                )
                new = dict(old or k(p, s))
                n = int(new["n"]["N"]) + 1 if "n" in new else 1
                new["n"] = {"N": str(n)}
                new["t"] = {"S": "u"}
                fn, kw = ddb.update_item, dict(params, Key=k(p, s), ReturnValues="ALL_NEW")
            if not ok:
                with raises("ConditionalCheckFailedException"):
                    fn(**kw)
                continue
            reply = fn(**kw)
            if op == "update":
                assert reply["Attributes"] == new
            else:
                assert reply.get("Attributes") == old
            if new is None:
                model.pop(key, None)
            else:
                model[key] = new
        elif op == "get":
            reply = ddb.get_item(TableName=table, Key=k(p, s), ConsistentRead=True)
            assert reply.get("Item") == old
        elif op == "query":
            lo = rng.choice(SORTS)
            forward = rng.random() < 0.5
            limit = rng.choice([None, 1, 2, 5])
            expected = sorted(
                (v for (mp, ms), v in model.items() if mp == p and ms >= lo),
                key=lambda v: int(v["sk"]["N"]),
                reverse=not forward,
            )
            params = {
                "TableName": table,
                "KeyConditionExpression": "pk = :p AND sk >= :lo",
                "ExpressionAttributeValues": {":p": {"S": p}, ":lo": {"N": str(lo)}},
                "ScanIndexForward": forward,
            }
            if limit:
                params["Limit"] = limit
            got = []
            for page in ddb.get_paginator("query").paginate(**params):
                assert page["Count"] == len(page["Items"])
                if limit:
                    assert page["ScannedCount"] <= limit
                got += page["Items"]
            assert got == expected
        else:
            total = rng.choice([1, 2, 4])
            got = []
            for seg in range(total):
                for page in ddb.get_paginator("scan").paginate(
                    TableName=table, Segment=seg, TotalSegments=total, Limit=3
                ):
                    got += page["Items"]
            key_of = lambda v: (v["pk"]["S"], int(v["sk"]["N"]))  # noqa: E731
            assert sorted(got, key=key_of) == sorted(model.values(), key=key_of)
    count = ddb.describe_table(TableName=table)["Table"]["ItemCount"]
    assert count == len(model)


@pytest.mark.parametrize("seed", range(4))
def test_random_operations_match_a_dict_model(ddb, table, seed):
    run(ddb, table, random.Random(seed), {}, 250)
