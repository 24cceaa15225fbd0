"""`shale-inspect DIR pitr TABLE`: the point-in-time recovery window of a table.

PITR (DESIGN.md, "Backups and point-in-time recovery") archives WAL segments and takes
base checkpoints so that a table can be restored to any second of its window. This
version of ShaleDB does not implement it yet, and the command says so rather than
inventing a window: status DISABLED, no earliest or latest restorable time, no base
checkpoints, no archived segments. The output already has the shape the real data will
take; catalog entries under `pitr/` (where the feature will keep its metadata) are
listed raw if any exist.
"""

import argparse
import json

from tools.inspect.datadir import DataDir
from tools.inspect.render import Result, fields, printable, section, table
from tools.inspect.table import no_such_table
from tools.inspect.tabledata import find_table

NAME = "pitr"
HELP = "a table's point-in-time recovery window, base checkpoints and archived WAL"
DESCRIPTION = """\
Show TABLE's point-in-time recovery: status, the window (earliest and latest restorable
times and its length), the base checkpoints and the archived WAL segments a restore would
replay. Point-in-time recovery is not implemented in this version of ShaleDB, so every
table reports DISABLED with an empty window; any catalog metadata under pitr/ is listed
as found."""

CATALOG_PREFIX = b"pitr/"
NOT_IMPLEMENTED = (
    "point-in-time recovery is not implemented in this version of ShaleDB: no WAL segment"
    " is archived and no base checkpoint is taken, so nothing can be restored to a point"
    " in time"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", metavar="TABLE", help="the table name")


def catalog_entries(dd: DataDir, prefix: bytes) -> list[dict]:
    out = []
    for key, value in dd.user_items(prefix):
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        out.append({"key": printable(key), "value": decoded, "value_bytes": len(value)})
    return out


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    t = find_table(dd, args.table)
    if t is None:
        return no_such_table(dd, args.table)
    entries = catalog_entries(dd, CATALOG_PREFIX + t.name.encode() + b"/")
    data = {
        "table": t.name,
        "status": "DISABLED",
        "window_days": None,
        "earliest_restorable": None,
        "latest_restorable": None,
        "base_checkpoints": [],
        "archived_segments": [],
        "catalog_entries": entries,
        "note": NOT_IMPLEMENTED,
    }
    return Result(data, render(data))


def render(data: dict) -> str:
    head = fields(
        [
            ("table", data["table"]),
            ("status", data["status"]),
            ("window", f"{data['window_days']} days" if data["window_days"] else None),
            ("earliest restorable", data["earliest_restorable"]),
            ("latest restorable", data["latest_restorable"]),
        ]
    )
    parts = [section("Point-in-time recovery", head)]
    checkpoints = data["base_checkpoints"]
    rows = [[c.get("name"), c.get("taken"), c.get("seqno"), c.get("bytes")] for c in checkpoints]
    parts.append(
        section(
            f"Base checkpoints ({len(rows)})",
            table(["checkpoint", "taken (UTC)", "seqno", "size"], rows, indent=2)
            if rows
            else "  none",
        )
    )
    segments = data["archived_segments"]
    rows = [[s.get("file"), s.get("bytes"), s.get("seqnos"), s.get("times")] for s in segments]
    parts.append(
        section(
            f"Archived WAL segments ({len(rows)})",
            table(["segment", "size", "seqnos", "commit times (UTC)"], rows, indent=2)
            if rows
            else "  none",
        )
    )
    if data["catalog_entries"]:
        rows = [[e["key"], e["value_bytes"]] for e in data["catalog_entries"]]
        parts.append(
            section("Catalog entries under pitr/", table(["key", "bytes"], rows, indent=2))
        )
    parts.append(f"note: {data['note']}")
    return "\n\n".join(parts)
