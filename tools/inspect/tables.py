"""`shale-inspect DIR tables`: every table the catalog defines, one line each.

For each table: its primary key, live item count and their DynamoDB size (read from the
files as of the last durable state: SSTables plus the WAL records the next open replays),
SSTable bytes of its keyspaces, indexes, stream, billing mode and base keyspace. Keyspaces
that belong to no table (a storage-only store, or leftovers of a DeleteTable cut short by
a crash) are listed after the tables.
"""

import argparse

from tools.inspect.datadir import DataDir
from tools.inspect.render import Result, fmt_bytes, section, table
from tools.inspect.tabledata import (
    KeyspaceView,
    TableInfo,
    count_live,
    keyspace_owners,
    load_tables,
)

NAME = "tables"
HELP = "every table: key schema, items, size, indexes, stream, keyspace"
DESCRIPTION = """\
List every table defined in the catalog with its key schema, the number of live items
and their DynamoDB size (counted by reading its keyspace as of the last durable state:
SSTables plus the WAL records the next open would replay), the bytes of its SSTables
(base and index keyspaces), its indexes, stream and billing mode, and its base keyspace.
Keyspaces that belong to no table are listed after the tables."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-count",
        action="store_true",
        help="do not read items to count them (fast on large directories)",
    )


def sst_bytes(dd: DataDir, keyspace: str | None) -> int:
    ksid = dd.state.keyspaces.get(keyspace or "")
    return sum(m.file_size for m in dd.state.files.get(ksid, [])) if ksid is not None else 0


def table_json(dd: DataDir, t: TableInfo, *, count: bool) -> dict:
    """The facts `tables` and `table` share about one table."""
    raw = t.raw
    out: dict = {
        "name": t.name,
        "table_id": raw.get("table_id"),
        "keyspace": t.keyspace,
        "keyspace_exists": t.keyspace in dd.state.keyspaces,
        "key_schema": [
            {"attribute": name, "key_type": kind, "type": typ} for name, kind, typ in t.key_schema
        ],
        "billing_mode": raw.get("billing_mode"),
        "stream": {
            "enabled": bool(raw.get("stream_enabled")),
            "view_type": raw.get("stream_view_type"),
        },
        "indexes": [ix.to_json() for ix in t.indexes],
        "sst_bytes": sst_bytes(dd, t.keyspace)
        + sum(sst_bytes(dd, ix.keyspace) for ix in t.indexes),
        "items": None,
        "item_bytes": None,
        "problem": t.problem,
    }
    if count and out["keyspace_exists"]:
        view = KeyspaceView(dd, t.keyspace)
        try:
            items, size, error = count_live(view)
        finally:
            view.close()
        out["items"], out["item_bytes"] = items, size
        if error:
            out["problem"] = f"counting stopped at a damaged block: {error}"
    return out


def stream_text(stream: dict) -> str:
    return (stream["view_type"] or "enabled") if stream["enabled"] else "-"


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    tables = load_tables(dd)
    owners = keyspace_owners(tables)
    data = {
        "path": dd.path,
        "tables": [table_json(dd, t, count=not args.no_count) for t in tables],
        "other_keyspaces": [
            {"name": name, "id": ksid, "sst_bytes": sst_bytes(dd, name)}
            for name, ksid in sorted(dd.state.keyspaces.items())
            if name not in owners
        ],
    }
    problems = [t for t in data["tables"] if t["problem"] and t["problem"].startswith("counting")]
    return Result(data, render(data), 1 if problems else 0)


def render(data: dict) -> str:
    rows = [
        [
            t["name"],
            ", ".join(f"{k['attribute']} {k['key_type']} {k['type']}" for k in t["key_schema"]),
            t["items"],
            fmt_bytes(t["item_bytes"]) if t["item_bytes"] is not None else None,
            fmt_bytes(t["sst_bytes"]),
            ", ".join(f"{ix['name']} ({ix['kind']})" for ix in t["indexes"]) or "-",
            stream_text(t["stream"]),
            t["keyspace"] if t["keyspace_exists"] else f"{t['keyspace']} (MISSING)",
        ]
        for t in data["tables"]
    ]
    headers = ["table", "key", "items", "item size", "SSTables", "indexes", "stream", "keyspace"]
    body = table(headers, rows, indent=2) if rows else "  no tables"
    parts = [section(f"Tables ({len(rows)})", body)]
    for t in data["tables"]:
        if t["problem"]:
            parts.append(f"  note: {t['name']}: {t['problem']}")
    if data["other_keyspaces"]:
        rows = [[k["name"], k["id"], fmt_bytes(k["sst_bytes"])] for k in data["other_keyspaces"]]
        parts.append(
            section(
                f"Keyspaces of no table ({len(rows)})",
                table(["keyspace", "id", "SSTables"], rows, indent=2),
            )
        )
    return "\n\n".join(parts)
