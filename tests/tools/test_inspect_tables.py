"""shale-inspect's table-level commands against directories written through the
embedded client: tables, table, get, scan, sst --records and wal decoded as DynamoDB
items, pitr and backups, golden scripts of their human output, a directory left by
SIGKILL of a sync-mode writer, and a table definition from a newer ShaleDB.

Every command goes through `inspect`, which fails if the command changed any byte of the
directory. What the tool reads is checked against an oracle: a copy of the directory
opened by the engine itself (which replays the WAL) and scanned through the client.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from inspect_golden import REWRITE, TESTDATA, dump, load, normalise
from inspect_helpers import inspect, inspect_json
from table_writer import TABLE as WRITER_TABLE
from table_writer import make_write

import engine
from engine.storage import Store
from tools.inspect.cli import main
from tools.inspect.tabledata import decode_definition, to_wire

REPO = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).resolve().parent / "table_writer.py"
GOLDEN = TESTDATA / "inspect_tables.txt"

KEY_SCHEMA = [
    {"AttributeName": "customer", "KeyType": "HASH"},
    {"AttributeName": "n", "KeyType": "RANGE"},
]
ATTRIBUTES = [
    {"AttributeName": "customer", "AttributeType": "S"},
    {"AttributeName": "n", "AttributeType": "N"},
]


def order(i: int) -> dict:
    """Item `i` of table orders: every kind of attribute value, deterministic."""
    return {
        "customer": {"S": f"c{i % 4}"},
        "n": {"N": str(i)},
        "total": {"N": f"{i * 3}.25"},
        "paid": {"BOOL": i % 2 == 0},
        "tags": {"SS": ["gift", f"t{i % 3}"]},
        "blob": {"B": bytes([i, 0, 255])},
        "lines": {"L": [{"M": {"sku": {"S": f"sku-{i}"}, "qty": {"N": "2"}}}, {"NULL": True}]},
    }


def order_key(i: int) -> dict:
    return {"customer": {"S": f"c{i % 4}"}, "n": {"N": str(i)}}


def build_orders(path: str) -> None:
    """30 orders flushed to an SSTable, then (only in the WAL) two new orders, one
    overwritten and one deleted: the state a clean close leaves."""
    client = engine.connect(path, durability="sync")
    try:
        client.create_table(
            TableName="orders",
            KeySchema=KEY_SCHEMA,
            AttributeDefinitions=ATTRIBUTES,
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": "team", "Value": "shop"}],
        )
        for i in range(30):
            client.put_item(TableName="orders", Item=order(i))
        client.store.flush()
        client.put_item(TableName="orders", Item=order(30))
        client.put_item(TableName="orders", Item=order(31))
        client.put_item(TableName="orders", Item={**order(5), "total": {"N": "0"}})
        client.delete_item(TableName="orders", Key=order_key(6))
    finally:
        client.close()


@pytest.fixture(scope="module")
def orders_dir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("orders") / "data")
    build_orders(path)
    return path


def engine_scan(path: str, table: str, tmp_path: Path) -> list[dict]:
    """The oracle: the items the engine itself reads, on a copy it may change."""
    copy = str(tmp_path / "oracle")
    shutil.copytree(path, copy)
    client = engine.connect(copy, durability="off")
    try:
        items = []
        for page in client.get_paginator("scan").paginate(TableName=table):
            items += page["Items"]
        return [to_wire(item) for item in items]
    finally:
        client.close()


def item_id(item: dict) -> tuple:
    return tuple(sorted((k, json.dumps(v)) for k, v in item.items() if k in ("customer", "n")))


# ------------------------------------------------------------------ golden scripts


def test_golden_scripts_of_human_output(capsys, tmp_path):
    """The golden directory is built afresh so that every number in it is reproducible."""
    path = str(tmp_path / "data")
    build_orders(path)
    cases = load(GOLDEN)
    assert cases, GOLDEN
    failures = []
    for case in cases:
        _, out, _ = inspect(capsys, path, *shlex.split(case.command))
        got = normalise(out, path)
        if got != case.expected:
            failures.append(f"{GOLDEN.name}:{case.line}: {case.command}\n{got}")
        case.expected = got
    if REWRITE:
        dump(GOLDEN, cases)
        return
    assert not failures, "output differs (SHALE_REWRITE_GOLDEN=1 rewrites):\n" + "\n".join(failures)


# ------------------------------------------------------------------ tables, table


def test_tables_counts_live_items_across_sstables_and_wal(capsys, orders_dir):
    data = inspect_json(capsys, orders_dir, "tables")
    (t,) = data["tables"]
    assert t["name"] == "orders"
    assert t["items"] == 30 + 2 - 1  # two new orders, one deleted; an overwrite is one item
    assert t["key_schema"] == [
        {"attribute": "customer", "key_type": "HASH", "type": "S"},
        {"attribute": "n", "key_type": "RANGE", "type": "N"},
    ]
    assert t["keyspace_exists"] and t["keyspace"].startswith("table.")
    assert t["sst_bytes"] > 0 and t["item_bytes"] > 0
    assert data["other_keyspaces"] == []


def test_table_shows_definition_keyspaces_and_unflushed_ops(capsys, orders_dir):
    data = inspect_json(capsys, orders_dir, "table", "orders")
    assert data["definition"]["tags"] == {"team": "shop"}
    assert data["definition"]["billing_mode"] == "PAY_PER_REQUEST"
    (base,) = data["keyspaces"]
    assert base["role"] == "base" and base["unflushed_ops"] == 4
    assert sum(lv["entries"] for lv in base["levels"]) == 30
    assert data["pitr"]["status"] == "DISABLED"
    code, out, _ = inspect(capsys, orders_dir, "table", "nope")
    assert code == 2 and "no table 'nope' (tables: orders)" in out


# ------------------------------------------------------------------ get, scan


def test_scan_reads_what_the_engine_reads_after_replay(capsys, orders_dir, tmp_path):
    data = inspect_json(capsys, orders_dir, "scan", "orders")
    expected = engine_scan(orders_dir, "orders", tmp_path)
    assert [it["item"] for it in data["items"]] == expected  # same items, same Scan order
    assert data["count"] == 31
    by_id = {item_id(it["item"]): it for it in data["items"]}
    overwritten = by_id[item_id(order(5))]
    assert overwritten["item"]["total"] == {"N": "0"} and overwritten["source"].startswith("WAL")
    assert item_id(order(6)) not in by_id
    assert by_id[item_id(order(7))]["source"].endswith(".sst L0")
    assert by_id[item_id(order(7))]["item"] == to_wire(order(7))
    limited = inspect_json(capsys, orders_dir, "scan", "orders", "--limit", "3")
    assert limited["count"] == 3 and limited["limited"]
    assert [it["item"] for it in limited["items"]] == expected[:3]


def test_get_by_key_values_and_by_json(capsys, orders_dir):
    found = inspect_json(capsys, orders_dir, "get", "orders", "c3", "7")
    assert found["found"] and found["item"] == to_wire(order(7))
    assert found["size_bytes"] > 0 and found["source"].endswith(".sst L0")
    by_json = inspect_json(capsys, orders_dir, "get", "orders", '{"customer": "c3", "n": 7}')
    assert by_json["item"] == found["item"]
    wire = json.dumps(order_key(7))
    assert inspect_json(capsys, orders_dir, "get", "orders", wire)["item"] == found["item"]
    newer = inspect_json(capsys, orders_dir, "get", "orders", "c1", "5")
    assert newer["item"]["total"] == {"N": "0"} and newer["source"].startswith("WAL")
    deleted = inspect_json(capsys, orders_dir, "get", "orders", "c2", "6", expect_code=1)
    assert deleted["deleted"] and not deleted["found"] and deleted["item"] is None
    missing = inspect_json(capsys, orders_dir, "get", "orders", "c0", "999", expect_code=1)
    assert not missing["found"] and not missing["deleted"] and missing["seqno"] is None


def test_get_refuses_a_malformed_key(capsys, orders_dir):
    code, out, _ = inspect(capsys, orders_dir, "get", "orders", "c1")
    assert code == 2 and "2-part key: give customer n" in out
    code, out, _ = inspect(capsys, orders_dir, "get", "orders", "c1", "not-a-number")
    assert code == 2 and out.startswith("bad KEY:")


# ------------------------------------------------------------------ sst, wal


def test_sst_records_decode_items_and_keys(capsys, orders_dir):
    levels = inspect_json(capsys, orders_dir, "levels")
    numbers = [
        f["number"] for ks in levels["keyspaces"] for lv in ks["levels"] for f in lv["files"]
    ]
    (number,) = numbers
    data = inspect_json(capsys, orders_dir, "sst", str(number), "--records")
    assert data["catalog"]["table"] == "orders" and data["catalog"]["index"] is None
    assert len(data["records"]) == 30
    items = sorted((r["item"] for r in data["records"]), key=lambda it: int(it["n"]["N"]))
    assert items == [to_wire(order(i)) for i in range(30)]
    for r in data["records"]:
        assert r["item_key"] == {"customer": r["item"]["customer"], "n": r["item"]["n"]}
    assert data["properties"]["smallest"]["item_key"] == data["records"][0]["item_key"]
    assert data["properties"]["largest"]["item_key"] == data["records"][-1]["item_key"]


def test_wal_decodes_operations_and_filters_by_table_and_time(capsys, orders_dir):
    data = inspect_json(capsys, orders_dir, "wal", "--table", "orders")
    ops = [op for r in data["records"] for op in r["ops"]]
    assert [op["op"] for op in ops] == ["put", "put", "put", "delete"]
    assert all(op["table"] == "orders" and op["index"] is None for op in ops)
    assert ops[0]["item"] == to_wire(order(30))
    assert ops[3]["item_key"] == order_key(6) and "item" not in ops[3]
    first, last = data["records"][0], data["records"][-1]
    window = inspect_json(
        capsys,
        orders_dir,
        "wal",
        "--table",
        "orders",
        "--since",
        str(first["commit_ts_us"] + 1),
        "--until",
        str(last["commit_ts_us"]),
    )
    assert [r["seqno"] for r in window["records"]] == [r["seqno"] for r in data["records"][1:]]
    second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(first["commit_ts_us"] // 1_000_000))
    at = inspect_json(capsys, orders_dir, "wal", "--table", "orders", "--at", second)
    assert first["seqno"] in [r["seqno"] for r in at["records"]]
    assert all(r["commit_time"].startswith(second) for r in at["records"])
    exact = inspect_json(capsys, orders_dir, "wal", "--at", first["commit_time"].rstrip("Z"))
    assert [r["seqno"] for r in exact["records"]] == [first["seqno"]]
    code, out, _ = inspect(capsys, orders_dir, "wal", "--table", "nope")
    assert code == 2 and "no table 'nope'" in out


# ------------------------------------------------------------------ pitr, backups


def test_pitr_and_backups_say_honestly_there_is_nothing_yet(capsys, orders_dir):
    pitr = inspect_json(capsys, orders_dir, "pitr", "orders")
    assert pitr["status"] == "DISABLED"
    assert pitr["earliest_restorable"] is None and pitr["latest_restorable"] is None
    assert pitr["base_checkpoints"] == [] and pitr["archived_segments"] == []
    assert "not implemented" in pitr["note"]
    backups = inspect_json(capsys, orders_dir, "backups")
    assert backups["backups"] == [] and "not implemented" in backups["note"]
    summary = inspect_json(capsys, orders_dir, "summary")
    assert [t["name"] for t in summary["tables"]] == ["orders"]
    assert summary["tables"][0]["pitr"]["status"] == "DISABLED"
    assert summary["backups"]["count"] == 0


# ------------------------------------------------------------------ indexes


def test_index_keyspace_is_named_and_scanned(capsys, tmp_path):
    path = str(tmp_path / "data")
    client = engine.connect(path, durability="sync")
    try:
        client.create_table(
            TableName="users",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "city", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-city",
                    "KeySchema": [{"AttributeName": "city", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
        for i in range(6):
            client.put_item(
                TableName="users",
                Item={"id": {"S": f"u{i}"}, "city": {"S": ("Oslo", "Lima")[i % 2]}},
            )
        client.store.flush()
    finally:
        client.close()
    table = inspect_json(capsys, path, "table", "users")
    (ix,) = table["indexes"]
    assert (ix["name"], ix["kind"], ix["hash_keys"]) == ("by-city", "GSI", ["city"])
    if ix["keyspace"] is None:
        pytest.skip("this engine version keeps no index keyspace (indexes not maintained)")
    assert ix["entries"] == 6
    scan = inspect_json(capsys, path, "scan", "users", "--index", "by-city")
    assert sorted(it["item"]["id"]["S"] for it in scan["items"]) == [f"u{i}" for i in range(6)]
    assert all(set(it["item"]) == {"id", "city"} for it in scan["items"])
    index_ops = [
        op
        for r in inspect_json(capsys, path, "wal", "--table", "users")["records"]
        for op in r["ops"]
        if op.get("index") == "by-city"
    ]
    assert len(index_ops) <= 6


# ------------------------------------------------------------------ newer definitions


def test_definition_with_fields_from_a_newer_version_is_still_read(capsys, orders_dir, tmp_path):
    path = str(tmp_path / "newer")
    shutil.copytree(orders_dir, path)
    with Store.open(path) as store:
        ((key, value),) = store.catalog_items(b"table/")
        raw = json.loads(value)
        raw["replicas"] = [{"region": "eu-north-1"}]
        store.catalog_put({key: json.dumps(raw, sort_keys=True).encode()})
    raw_back, defn, problem = decode_definition(json.dumps(raw).encode())
    assert defn is not None and defn.name == "orders" and "replicas" in problem
    assert raw_back["replicas"] == [{"region": "eu-north-1"}]
    data = inspect_json(capsys, path, "tables")
    assert data["tables"][0]["items"] == 31 and "replicas" in data["tables"][0]["problem"]
    code, out, _ = inspect(capsys, path, "scan", "orders", "--limit", "1")
    assert code == 0 and "(1 items, stopped at --limit)" in out


# ------------------------------------------------------------------ crash


def test_directory_left_by_sigkill_reads_every_acknowledged_write(capsys, tmp_path):
    path = str(tmp_path / "crashed")
    flush_after = 30
    child = subprocess.Popen(
        [sys.executable, str(WRITER), path, str(flush_after)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    acked: list[int] = []
    try:
        while len(acked) < flush_after + 40:
            line = child.stdout.readline()
            assert line, child.stderr.read().decode()
            acked.append(int(line))
    finally:
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate()
    acked += [int(line) for line in rest.decode().split()]
    assert child.returncode == -signal.SIGKILL

    def state_after(writes: list[int]) -> dict[tuple, dict]:
        model: dict[tuple, dict | None] = {}
        for i in writes:
            op, arg = make_write(i)
            model[item_id(arg)] = to_wire(arg) if op == "put" else None
        return {k: v for k, v in model.items() if v is not None}

    scan = inspect_json(capsys, path, "scan", WRITER_TABLE)
    seen = {item_id(it["item"]): it["item"] for it in scan["items"]}
    # Every acknowledged write is there; the one in flight when the kill came (written,
    # perhaps synced, never acknowledged) may be there too.
    in_flight = acked[-1] + 1
    assert seen in (state_after(acked), state_after([*acked, in_flight]))
    sources = {it["source"].startswith("WAL") for it in scan["items"]}
    assert sources == {True, False}, "expected items both in SSTables and only in the WAL"
    assert scan["items"] and [it["item"] for it in scan["items"]] == engine_scan(
        path, WRITER_TABLE, tmp_path
    )
    for i in acked[-6:]:  # get agrees with scan on the last writes (puts and deletes)
        _, arg = make_write(i)
        key = item_id(arg)
        expected = seen.get(key)
        got = inspect_json(
            capsys,
            path,
            "get",
            WRITER_TABLE,
            arg["stream"]["S"],
            arg["n"]["N"],
            expect_code=0 if expected is not None else 1,
        )
        assert got["item"] == expected
    assert os.path.exists(os.path.join(path, "LOCK"))
    assert main([path, "summary"]) == 0
    assert "Recovery at next open" in capsys.readouterr().out


def test_a_damaged_block_stops_scan_and_count_with_its_file_named(capsys, orders_dir, tmp_path):
    path = str(tmp_path / "damaged")
    shutil.copytree(orders_dir, path)
    (sst,) = sorted(p for p in os.listdir(path) if p.endswith(".sst"))
    with open(os.path.join(path, sst), "r+b") as f:
        f.seek(40)
        byte = f.read(1)[0]
        f.seek(40)
        f.write(bytes([byte ^ 0x20]))
    scan = inspect_json(capsys, path, "scan", "orders", expect_code=1)
    assert sst in scan["problem"]
    tables = inspect_json(capsys, path, "tables", expect_code=1)
    assert sst in tables["tables"][0]["problem"]
    code, out, _ = inspect(capsys, path, "get", "orders", "c3", "7")
    assert code == 1 and sst in out
    # What is only in the WAL is still readable.
    assert inspect_json(capsys, path, "get", "orders", "c2", "30")["found"]


def test_a_missing_sstable_is_named_not_a_traceback(capsys, orders_dir, tmp_path):
    path = str(tmp_path / "missing")
    shutil.copytree(orders_dir, path)
    (sst,) = sorted(p for p in os.listdir(path) if p.endswith(".sst"))
    os.unlink(os.path.join(path, sst))
    scan = inspect_json(capsys, path, "scan", "orders", expect_code=1)
    assert sst in scan["problem"]
    assert sst in inspect_json(capsys, path, "tables", expect_code=1)["tables"][0]["problem"]
    code, out, _ = inspect(capsys, path, "get", "orders", "c3", "7")
    assert code == 1 and sst in out
