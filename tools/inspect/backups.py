"""`shale-inspect DIR backups`: the on-demand backups the catalog records.

An on-demand backup (DESIGN.md, "Backups and point-in-time recovery") will be a checkpoint
of a table's keyspaces plus its definition, recorded in the catalog under `backup/`. This
version of ShaleDB does not take backups yet, so the list is empty and the command says
why; the rows have the shape real backups will fill (name, table, creation time, items,
size, status), and any catalog entry under `backup/` is shown as found.
"""

import argparse

from tools.inspect.datadir import DataDir
from tools.inspect.pitr import catalog_entries
from tools.inspect.render import Result, section, table

NAME = "backups"
HELP = "on-demand backups recorded in the catalog (none until backups exist)"
DESCRIPTION = """\
List the on-demand backups recorded in the catalog: name, source table, creation time,
items, size and status, with any `--table` filter. Backups are not implemented in this
version of ShaleDB, so the list is empty (any catalog entry under backup/ is shown as
found, its JSON value in --json)."""

CATALOG_PREFIX = b"backup/"
NOT_IMPLEMENTED = "on-demand backups are not implemented in this version of ShaleDB"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", metavar="NAME", help="only backups of table NAME")


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    backups = []
    for entry in catalog_entries(dd, CATALOG_PREFIX):
        value = entry["value"] if isinstance(entry["value"], dict) else {}
        row = {
            "key": entry["key"],
            "name": value.get("name"),
            "table": value.get("table"),
            "created": value.get("created"),
            "items": value.get("items"),
            "bytes": value.get("bytes"),
            "status": value.get("status"),
            "value": entry["value"],
        }
        if args.table is None or row["table"] == args.table:
            backups.append(row)
    data = {"path": dd.path, "backups": backups, "note": NOT_IMPLEMENTED}
    return Result(data, render(data))


def render(data: dict) -> str:
    rows = [
        [b["name"] or b["key"], b["table"], b["created"], b["items"], b["bytes"], b["status"]]
        for b in data["backups"]
    ]
    headers = ["backup", "table", "created (UTC)", "items", "size", "status"]
    body = table(headers, rows, indent=2) if rows else "  none"
    return "\n\n".join([section(f"Backups ({len(rows)})", body), f"note: {data['note']}"])
