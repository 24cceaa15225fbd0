"""`shale-inspect DIR table NAME`: one table in full.

Its definition (key schema, attribute types, billing and throughput, stream, tags,
creation time, the raw catalog JSON with --json), live items and their DynamoDB size,
its indexes with their keys, projection, status and entry counts, the keyspaces that hold
it with files and bytes per level, how many of its writes are still only in the WAL, and
its point-in-time recovery status (see `pitr`).
"""

import argparse
from datetime import UTC, datetime

from engine.storage.version import NUM_LEVELS
from tools.inspect.datadir import DataDir
from tools.inspect.render import Result, fields, fmt_bytes, section, table
from tools.inspect.tabledata import KeyspaceView, count_live, find_table, load_tables
from tools.inspect.tables import stream_text, table_json

NAME = "table"
HELP = "one table: definition, keys, item count and size, indexes, keyspaces, stream"
DESCRIPTION = """\
Show one table: its definition as the catalog stores it (key schema, attribute types,
billing mode and throughput, stream, deletion protection, tags, creation time), the
number of live items and their DynamoDB size as of the last durable state, every index
(kind, key, projection, status, live entries), the keyspaces holding the table with files
and bytes per level, the WAL operations on them not yet flushed, and its point-in-time
recovery status. --json adds the raw definition."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the table name")


def no_such_table(dd: DataDir, name: str) -> Result:
    names = [t.name for t in load_tables(dd)]
    message = f"no table {name!r} (tables: {', '.join(names) or 'none'})"
    return Result({"error": message}, message, 2)


def keyspace_json(dd: DataDir, name: str | None, role: str) -> dict:
    ksid = dd.state.keyspaces.get(name or "")
    metas = dd.state.files.get(ksid, []) if ksid is not None else []
    last = dd.last_seqno_in_sstables
    unflushed = sum(
        1
        for s in dd.segments
        if s.is_in_catalog
        for r in s.records
        if r.seqno > last
        for op in r.ops
        if op[1] == ksid
    )
    return {
        "name": name,
        "role": role,
        "id": ksid,
        "exists": ksid is not None,
        "levels": [
            {
                "level": level,
                "files": len(at),
                "bytes": sum(m.file_size for m in at),
                "entries": sum(m.entry_count for m in at),
            }
            for level in range(NUM_LEVELS)
            if (at := [m for m in metas if m.level == level])
        ],
        "unflushed_ops": unflushed,
    }


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    t = find_table(dd, args.name)
    if t is None:
        return no_such_table(dd, args.name)
    data = table_json(dd, t, count=True)
    raw = t.raw
    data["definition"] = raw
    data["created"] = (
        datetime.fromtimestamp(raw["created_s"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(raw.get("created_s"), int | float)
        else None
    )
    data["keyspaces"] = [keyspace_json(dd, t.keyspace, "base")]
    for ix in data["indexes"]:
        ks = keyspace_json(dd, ix["keyspace"], f"index {ix['name']}")
        data["keyspaces"].append(ks)
        ix["entries"] = None
        if ks["exists"]:
            view = KeyspaceView(dd, ix["keyspace"])
            try:
                ix["entries"], _, _ = count_live(view)
            finally:
                view.close()
    data["pitr"] = {"status": "DISABLED", "note": "see `shale-inspect DATA_DIR pitr NAME`"}
    return Result(data, render(data), 1 if (data["problem"] or "").startswith("counting") else 0)


def render(data: dict) -> str:
    d = data["definition"]
    throughput = (
        "on demand"
        if d.get("billing_mode") == "PAY_PER_REQUEST"
        else f"{d.get('read_units', 0)} RCU / {d.get('write_units', 0)} WCU"
    )
    attributes = ", ".join(f"{n} {t}" for n, t in sorted(d.get("attributes", {}).items()))
    tags = ", ".join(f"{k}={v}" for k, v in sorted((d.get("tags") or {}).items()))
    item_size = fmt_bytes(data["item_bytes"]) if data["item_bytes"] is not None else None
    head = fields(
        [
            ("name", data["name"]),
            ("table id", data["table_id"]),
            ("created (UTC)", data["created"]),
            ("key", ", ".join(f"{k['attribute']} {k['key_type']}" for k in data["key_schema"])),
            ("attributes", attributes),
            ("billing", f"{d.get('billing_mode')} ({throughput})"),
            ("table class", d.get("table_class")),
            ("deletion protection", "on" if d.get("deletion_protection") else "off"),
            ("stream", stream_text(data["stream"])),
            ("tags", tags or "-"),
            ("items", data["items"]),
            ("item size", item_size),
            ("SSTables", fmt_bytes(data["sst_bytes"])),
            ("point-in-time recovery", data["pitr"]["status"]),
        ]
    )
    parts = [section(f"Table {data['name']}", head)]
    if data["problem"]:
        parts.append(f"  note: {data['problem']}")
    if data["indexes"]:
        rows = [
            [
                ix["name"],
                ix["kind"],
                ", ".join(ix["hash_keys"]) or "-",
                ", ".join(ix["range_keys"]) or "-",
                ix["projection"],
                ix["status"],
                ix["entries"],
            ]
            for ix in data["indexes"]
        ]
        headers = ["index", "kind", "partition key", "sort key", "projection", "status", "entries"]
        parts.append(section(f"Indexes ({len(rows)})", table(headers, rows, indent=2)))
    else:
        parts.append(section("Indexes (0)", "  none"))
    rows = []
    for ks in data["keyspaces"]:
        name = ks["name"] if ks["exists"] else f"{ks['name']} (MISSING)"
        if not ks["levels"]:
            rows.append([name, ks["role"], None, 0, fmt_bytes(0), 0, ks["unflushed_ops"]])
        for lv in ks["levels"]:
            rows.append(
                [
                    name,
                    ks["role"],
                    f"L{lv['level']}",
                    lv["files"],
                    fmt_bytes(lv["bytes"]),
                    lv["entries"],
                    ks["unflushed_ops"],
                ]
            )
    headers = ["keyspace", "holds", "level", "files", "size", "entries", "unflushed ops"]
    parts.append(section("Keyspaces", table(headers, rows, indent=2)))
    return "\n\n".join(parts)
