"""Indexes against brute force: after random writes, every index equals what indexing the
base table from scratch gives.

Writes include index key changes, type changes (refused for index keys), removals of index
attributes, deletes, batch writes and transactions. Then, for every index, a full Scan and a
Query of every index partition (both directions, paged with a small Limit) must equal the
answer computed from a Scan of the base table. A second test races a GSI backfill against
concurrent writers, and a third kills the process mid-backfill and checks that reopening
finishes it.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

import engine
from engine.model import compare_values

TABLE = "model"
TYPES = {"pk": "S", "sk": "N", "g1": "S", "g2": "N", "l1": "S", "m1": "S", "m2": "N", "m3": "S"}
INDEXES = {
    # name: (global, hash keys, range keys, projection, non-key attributes)
    "g_hash_only": (True, ("g1",), (), "KEYS_ONLY", ()),
    "g_hash_range": (True, ("g1",), ("g2",), "INCLUDE", ("extra",)),
    "g_on_table_key": (True, ("g2",), ("pk",), "ALL", ()),
    "g_multi": (True, ("m1", "m2"), ("m3", "sk"), "ALL", ()),
    "l_range": (False, ("pk",), ("l1",), "KEYS_ONLY", ()),
    "l_all": (False, ("pk",), ("g2",), "ALL", ()),
}


# A BatchWriteItem's items are staged and committed as one write group
# (engine.table.WriteGroup), with their GSI and LSI entries; a table with LSIs also has
# its item collections checked against the group's staged growth. Both kinds are tested.
GLOBAL_ONLY = {name: ix for name, ix in INDEXES.items() if ix[0]}
INDEX_SETS = {"all": INDEXES, "global-only": GLOBAL_ONLY}


def key_schema(hashes, ranges):
    return [{"AttributeName": n, "KeyType": "HASH"} for n in hashes] + [
        {"AttributeName": n, "KeyType": "RANGE"} for n in ranges
    ]


def projection(kind, non_key):
    p = {"ProjectionType": kind}
    if non_key:
        p["NonKeyAttributes"] = list(non_key)
    return p


def create(client, indexes=INDEXES):
    gsis = [
        {"IndexName": n, "KeySchema": key_schema(h, r), "Projection": projection(k, nk)}
        for n, (g, h, r, k, nk) in indexes.items()
        if g
    ]
    lsis = [
        {"IndexName": n, "KeySchema": key_schema(h, r), "Projection": projection(k, nk)}
        for n, (g, h, r, k, nk) in indexes.items()
        if not g
    ]
    used = {"pk", "sk"} | {a for _, h, r, _, _ in indexes.values() for a in h + r}
    params = dict(
        TableName=TABLE,
        KeySchema=key_schema(("pk",), ("sk",)),
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": TYPES[n]} for n in TYPES if n in used
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    if gsis:
        params["GlobalSecondaryIndexes"] = gsis
    if lsis:
        params["LocalSecondaryIndexes"] = lsis
    client.create_table(**params)


def value(rng, name, *, wrong=False):
    t = TYPES[name]
    if wrong:
        t = "N" if t == "S" else "S"
    if t == "S":
        return {"S": rng.choice(["a", "b", "c", "ab", "b\x00", "é"])}
    return {"N": rng.choice(["-1", "0", "1", "2.5", "10"])}


def random_item(rng):
    item = {"pk": {"S": rng.choice("pqr")}, "sk": {"N": str(rng.randrange(6))}}
    for name in ("g1", "g2", "l1", "m1", "m2", "m3"):
        if rng.random() < 0.7:
            item[name] = value(rng, name)
    if rng.random() < 0.5:
        item["extra"] = {"S": "x" * rng.randrange(3)}
    if rng.random() < 0.5:
        item["other"] = {"L": [{"N": "1"}]}
    return item


def key_of(item):
    return {"pk": item["pk"], "sk": item["sk"]}


INDEX_ATTRS = ("g1", "g2", "l1", "m1", "m2", "m3")


def random_write(client, rng, bad_names=INDEX_ATTRS):
    """One random write; returns False if DynamoDB must refuse it (an index key attribute,
    one of ``bad_names``, of the wrong type)."""
    kind = rng.random()
    if kind < 0.4:
        item = random_item(rng)
        bad = bool(bad_names) and rng.random() < 0.1
        if bad:
            name = rng.choice(bad_names)
            item[name] = value(rng, name, wrong=True)
        try:
            client.put_item(TableName=TABLE, Item=item)
        except client.exceptions.ClientError as exc:
            if not bad:
                raise
            assert exc.response["Error"]["Code"] == "ValidationException"
            assert "Type mismatch for Index Key" in exc.response["Error"]["Message"]
            return False
        assert not bad
        return True
    if kind < 0.65:
        key = key_of(random_item(rng))
        name = rng.choice(["g1", "g2", "l1", "m1", "m2", "m3", "extra"])
        if rng.random() < 0.4:
            client.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="REMOVE #a",
                ExpressionAttributeNames={"#a": name},
            )
        else:
            v = value(rng, name) if name != "extra" else {"S": "e"}
            client.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="SET #a = :v",
                ExpressionAttributeNames={"#a": name},
                ExpressionAttributeValues={":v": v},
            )
        return True
    if kind < 0.75:
        client.delete_item(TableName=TABLE, Key=key_of(random_item(rng)))
        return True
    if kind < 0.87:
        items = {}
        for _ in range(rng.randrange(1, 6)):
            it = random_item(rng)
            items[(it["pk"]["S"], it["sk"]["N"])] = it
        reqs = [
            {"PutRequest": {"Item": it}}
            if rng.random() < 0.8
            else {"DeleteRequest": {"Key": key_of(it)}}
            for it in items.values()
        ]
        client.batch_write_item(RequestItems={TABLE: reqs})
        return True
    actions = {}
    for _ in range(rng.randrange(1, 4)):
        it = random_item(rng)
        actions[(it["pk"]["S"], it["sk"]["N"])] = it
    txn = []
    for it in actions.values():
        r = rng.random()
        if r < 0.5:
            txn.append({"Put": {"TableName": TABLE, "Item": it}})
        elif r < 0.8:
            txn.append(
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key_of(it),
                        "UpdateExpression": "SET g1 = :v",
                        "ExpressionAttributeValues": {":v": value(rng, "g1")},
                    }
                }
            )
        else:
            txn.append({"Delete": {"TableName": TABLE, "Key": key_of(it)}})
    client.transact_write_items(TransactItems=txn)
    return True


def scan_all(client, **params):
    out, start = [], None
    while True:
        p = dict(params, TableName=TABLE, Limit=7)
        if start is not None:
            p["ExclusiveStartKey"] = start
        r = client.scan(**p)
        out += r["Items"]
        start = r.get("LastEvaluatedKey")
        if start is None:
            return out


def expected_entries(base, indexes=INDEXES):
    """index name -> the entries brute force gives (projected items)."""
    out = {}
    for name, (_, hashes, ranges, kind, non_key) in indexes.items():
        keys = hashes + ranges
        entries = []
        for item in base:
            if any(k not in item or TYPES[k] not in item[k] for k in keys):
                continue
            if kind == "ALL":
                entries.append(item)
            else:
                keep = {"pk", "sk", *keys, *non_key}
                entries.append({k: v for k, v in item.items() if k in keep})
        out[name] = entries
    return out


def canon(items):
    return sorted(repr(sorted(i.items())) for i in items)


def sort_tuple(item, ranges):
    return tuple(item[r] for r in ranges)


def check_indexes(client, indexes=INDEXES):
    base = scan_all(client)
    want = expected_entries(base, indexes)
    for name, (_, hashes, ranges, _, _) in indexes.items():
        got = scan_all(client, IndexName=name)
        assert canon(got) == canon(want[name]), name
        partitions = {tuple(repr(e[h]) for h in hashes): e for e in want[name]}
        for sample in partitions.values():
            names = {f"#h{i}": h for i, h in enumerate(hashes)}
            vals = {f":h{i}": sample[h] for i, h in enumerate(hashes)}
            cond = " AND ".join(f"#h{i} = :h{i}" for i in range(len(hashes)))
            expect = [e for e in want[name] if all(e[h] == sample[h] for h in hashes)]
            for forward in (True, False):
                got, start = [], None
                while True:
                    p = dict(
                        TableName=TABLE,
                        IndexName=name,
                        KeyConditionExpression=cond,
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues=vals,
                        ScanIndexForward=forward,
                        Limit=3,
                    )
                    if start is not None:
                        p["ExclusiveStartKey"] = start
                    r = client.query(**p)
                    got += r["Items"]
                    start = r.get("LastEvaluatedKey")
                    if start is None:
                        break
                assert canon(got) == canon(expect), (name, sample)
                order = [sort_tuple(e, ranges) for e in got]
                for a, b in zip(order, order[1:]):
                    c = next((compare_values(x, y) for x, y in zip(a, b) if x != y), 0)
                    assert (c <= 0) if forward else (c >= 0), (name, order)
            if ranges:
                # a condition on the first sort key attribute narrows the partition
                r0 = ranges[0]
                pivot = sample[r0]
                p = dict(
                    TableName=TABLE,
                    IndexName=name,
                    KeyConditionExpression=cond + " AND #r >= :r",
                    ExpressionAttributeNames={**names, "#r": r0},
                    ExpressionAttributeValues={**vals, ":r": pivot},
                )
                got = client.query(**p)["Items"]
                narrowed = [e for e in expect if compare_values(e[r0], pivot) >= 0]
                assert canon(got) == canon(narrowed), (name, "range")


def write_or_conflict(client, rng, errors) -> bool:
    """One random write from a writer thread. Two writers may meet in one item, and
    DynamoDB's answer is then a conflict, which is fine; any other failure goes to
    ``errors`` (surfaced by the test's assert) and stops the writer (False)."""
    try:
        random_write(client, rng, bad_names=())
    except client.exceptions.ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code not in ("TransactionConflictException", "TransactionCanceledException"):
            errors.append(exc)
            return False
    except Exception as exc:
        errors.append(exc)
        return False
    return True


@pytest.mark.parametrize(
    ("seed", "index_set"), [(1, "all"), (2, "all"), (3, "all"), (4, "global-only")]
)
def test_indexes_equal_brute_force_after_random_writes(tmp_path, seed, index_set):
    indexes = INDEX_SETS[index_set]
    rng = random.Random(seed)
    client = engine.connect(str(tmp_path / "db"), durability="off")
    try:
        create(client, indexes)
        for _ in range(300):
            random_write(client, rng)
        check_indexes(client, indexes)
    finally:
        client.close()
    client = engine.connect(str(tmp_path / "db"), durability="off")
    try:
        check_indexes(client, indexes)  # reopened: indexes are as durable as their items
        described = client.describe_table(TableName=TABLE)["Table"]
        want = expected_entries(scan_all(client), indexes)
        for desc in described["GlobalSecondaryIndexes"] + described.get(
            "LocalSecondaryIndexes", []
        ):
            assert desc["ItemCount"] == len(want[desc["IndexName"]])
    finally:
        client.close()


def test_backfill_racing_writers_ends_equal_to_brute_force(tmp_path, monkeypatch):
    import engine.index.manager as manager

    monkeypatch.setattr(manager, "BACKFILL_CHUNK", 16)  # many chunks, many interleavings
    client = engine.connect(str(tmp_path / "db"), durability="off")
    try:
        create(client, {})
        rng = random.Random(7)
        for _ in range(1500):
            client.put_item(TableName=TABLE, Item=random_item(rng))
        stop = threading.Event()
        errors = []

        def writer(seed):
            r = random.Random(seed)
            while not stop.is_set() and write_or_conflict(client, r, errors):
                pass

        threads = [threading.Thread(target=writer, args=(s,)) for s in (11, 12)]
        for t in threads:
            t.start()
        new = {"g_new": (True, ("g1",), ("l1",), "INCLUDE", ("extra",))}
        client.update_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "g1", "AttributeType": "S"},
                {"AttributeName": "l1", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": "g_new",
                        "KeySchema": key_schema(("g1",), ("l1",)),
                        "Projection": projection("INCLUDE", ("extra",)),
                    }
                }
            ],
        )
        deadline = time.monotonic() + 60
        status = "CREATING"
        while status != "ACTIVE" and time.monotonic() < deadline:
            status = client.describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"][0][
                "IndexStatus"
            ]
            time.sleep(0.01)
        time.sleep(0.2)  # writers keep going after the backfill is done
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        assert status == "ACTIVE"
        check_indexes(client, new)
    finally:
        client.close()


KILL_CHILD = r"""
import sys, engine
sys.path.insert(0, sys.argv[2])
from test_index_model import TABLE, key_schema, projection
c = engine.connect(sys.argv[1], durability="sync")
c.update_table(
    TableName=TABLE,
    AttributeDefinitions=[{"AttributeName": "g1", "AttributeType": "S"}],
    GlobalSecondaryIndexUpdates=[{"Create": {
        "IndexName": "g_late", "KeySchema": key_schema(("g1",), ()),
        "Projection": projection("KEYS_ONLY", ()),
    }}],
)
print("created", flush=True)
import time
time.sleep(60)
"""


def test_backfill_killed_midway_resumes_on_open(tmp_path):
    path = str(tmp_path / "db")
    client = engine.connect(path, durability="off")
    create(client, {})
    rng = random.Random(3)
    for i in range(3000):
        client.put_item(TableName=TABLE, Item=dict(random_item(rng), sk={"N": str(i)}))
    client.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, path, os.path.dirname(__file__)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "created"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    client = engine.connect(path, durability="off")
    try:
        assert client.service.ctx.indexes.wait_backfills(60)
        desc = client.describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"]
        assert [(d["IndexName"], d["IndexStatus"]) for d in desc] == [("g_late", "ACTIVE")]
        check_indexes(client, {"g_late": (True, ("g1",), (), "KEYS_ONLY", ())})
    finally:
        client.close()


def index_counters(client):
    """(ItemCount, size in bytes) of the table ("") and of each index, as described."""
    described = client.describe_table(TableName=TABLE)["Table"]
    return {
        "": (described["ItemCount"], described["TableSizeBytes"]),
        **{
            d["IndexName"]: (d["ItemCount"], d["IndexSizeBytes"])
            for d in described["GlobalSecondaryIndexes"]
            + described.get("LocalSecondaryIndexes", [])
        },
    }


@pytest.mark.parametrize("index_set", ["all", "global-only"])
def test_index_counters_follow_concurrent_writes(tmp_path, index_set):
    """Counters cached before the writes and moved by three writer threads (and read
    meanwhile) equal a fresh count by scan; so do the indexes' entries."""
    indexes = INDEX_SETS[index_set]
    path = str(tmp_path / "db")
    client = engine.connect(path, durability="off")
    try:
        create(client, indexes)
        assert set(index_counters(client).values()) == {(0, 0)}  # cached from here on
        errors = []

        def writer(seed):
            r = random.Random(seed)
            for _ in range(400):
                if not write_or_conflict(client, r, errors):
                    return
                if r.random() < 0.02:
                    index_counters(client)  # a reader meanwhile

        threads = [threading.Thread(target=writer, args=(s,)) for s in (21, 22, 23)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        moved = index_counters(client)
        base = scan_all(client)
        want = expected_entries(base, indexes)
        assert {name: count for name, (count, _) in moved.items()} == {
            "": len(base),
            **{name: len(entries) for name, entries in want.items()},
        }
        check_indexes(client, indexes)
    finally:
        client.close()
    client = engine.connect(path, durability="off")
    try:
        assert index_counters(client) == moved  # counted afresh by a scan of each index
    finally:
        client.close()
