"""`shale-inspect DIR scan TABLE`: every item of a table, as of the last durable state.

Items come in the order of the base keyspace (the hash prefix of the partition key, then
the key: DynamoDB's Scan order), each the newest version among the WAL records the next
open would replay and the SSTables, deleted items left out. `--index NAME` scans an
index's keyspace instead (its projected items, in index order). Human output is a table of
the key attributes, size, seqno, where the version lives and the other attributes
(clipped unless --wide); --json gives every item in DynamoDB JSON.
"""

import argparse

from engine.storage.errors import StorageError
from tools.inspect.datadir import DataDir
from tools.inspect.render import Result, section, table
from tools.inspect.table import no_such_table
from tools.inspect.tabledata import (
    KeyspaceView,
    Owner,
    clip,
    compact_item,
    compact_value,
    decode_entry,
    find_table,
)

NAME = "scan"
HELP = "every item of a table (or --index), as of the last durable state (WAL included)"
DESCRIPTION = """\
Read every item of TABLE as of the last durable state, including writes still only in the
WAL, without opening the store: the newest version of each key, deleted items left out,
in Scan order (the base keyspace's order). Shows the key attributes, DynamoDB size,
seqno, where each version lives (WAL segment or SSTable and level) and the other
attributes. --index NAME reads an index's entries instead; --limit stops early."""

ATTRIBUTES_WIDTH = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", metavar="TABLE", help="the table name")
    parser.add_argument("--index", metavar="NAME", help="scan this index's entries instead")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N items")
    parser.add_argument("--wide", action="store_true", help="do not clip the attributes column")


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    t = find_table(dd, args.table)
    if t is None:
        return no_such_table(dd, args.table)
    index = None
    keyspace = t.keyspace
    if args.index is not None:
        index = next((ix for ix in t.indexes if ix.name == args.index), None)
        if index is None or not index.keyspace:
            names = ", ".join(ix.name for ix in t.indexes if ix.keyspace) or "none"
            message = f"table {t.name} has no index {args.index!r} with entries (indexes: {names})"
            return Result({"error": message}, message, 2)
        keyspace = index.keyspace
    if keyspace not in dd.state.keyspaces:
        message = f"table {t.name}: keyspace {keyspace} is missing"
        return Result({"error": message}, message, 2)
    owner = Owner(t, index)
    base_key = [n for n, _, _ in t.key_schema]
    items = []
    problem = None
    view = KeyspaceView(dd, keyspace)
    try:
        for entry in view.iter_live():
            if args.limit is not None and len(items) >= args.limit:
                break
            decoded = decode_entry(owner, entry.key, entry.value)
            items.append({"seqno": entry.seqno, "source": entry.source, **decoded})
    except (StorageError, OSError) as exc:  # damaged, or a file gone missing
        problem = str(exc)
    finally:
        view.close()
    data = {
        "table": t.name,
        "index": args.index,
        "keyspace": keyspace,
        "key_attributes": base_key
        if index is None
        else list(dict.fromkeys([*index.hash_keys, *index.range_keys, *base_key])),
        "count": len(items),
        "limited": args.limit is not None and len(items) >= args.limit,
        "items": items,
        "problem": problem,
    }
    return Result(data, render(data, wide=args.wide), 1 if problem else 0)


def render(data: dict, *, wide: bool = False) -> str:
    names = data["key_attributes"]
    rows = []
    for it in data["items"]:
        key = it.get("item_key") or {}
        rest = compact_item(it.get("item") or {}, skip=tuple(names))
        if "decode_error" in it:
            rest = f"(cannot decode: {it['decode_error']})"
        rows.append(
            [
                *(compact_value(key[n]) if n in key else None for n in names),
                it.get("size_bytes"),
                it["seqno"],
                it["source"],
                rest if wide else clip(rest, ATTRIBUTES_WIDTH),
            ]
        )
    what = data["table"] + (f" index {data['index']}" if data["index"] else "")
    more = ", stopped at --limit" if data["limited"] else ""
    headers = [*names, "size", "seqno", "in", "attributes"]
    body = table(headers, rows, indent=2) if rows else "  no items"
    parts = [section(f"Scan {what} ({data['count']} items{more})", body)]
    if data["problem"]:
        parts.append(f"  STOPPED: {data['problem']}")
    return "\n\n".join(parts)
