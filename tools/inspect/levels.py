"""`shale-inspect DIR levels`: the LSM tree of each keyspace, file by file.

What the catalog records of every SSTable (level, size, entries, tombstones, seqno and
commit-time ranges, key range), in the order a read consults them: L0 newest first (by
max seqno), deeper levels by smallest key. Only the catalog is read; `sst FILE` opens a
file and `verify` checks that the two agree. In a table's base keyspace the key range is
shown as item keys.
"""

import argparse

from engine.storage.version import KeyspaceLevels
from tools.inspect.datadir import DataDir
from tools.inspect.render import Result, fmt_bytes, fmt_range, iso_utc, key_json, printable, table
from tools.inspect.tabledata import clip, compact_item, decode_entry, keyspace_owners, load_tables

NAME = "levels"
HELP = "every SSTable of every keyspace, level by level, as the catalog records it"
DESCRIPTION = """\
For each keyspace and level: the SSTables in read order (L0 newest first, deeper levels
by key) with file number, size, entry and tombstone counts, seqno range, commit-time
range and smallest/largest key, plus per-level totals. Reads only the catalog."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keyspace", metavar="NAME", help="only this keyspace")


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    names = sorted(dd.state.keyspaces)
    if args.keyspace is not None:
        if args.keyspace not in dd.state.keyspaces:
            message = f"no keyspace {args.keyspace!r} (keyspaces: {', '.join(names) or 'none'})"
            return Result({"error": message}, message, 2)
        names = [args.keyspace]
    owners = keyspace_owners(load_tables(dd))
    keyspaces = []
    for name in names:
        ksid = dd.state.keyspaces[name]
        owner = owners.get(name)
        base = owner if owner is not None and owner.index is None else None
        shape = KeyspaceLevels.build(dd.state.files.get(ksid, []))
        levels = []
        for level, metas in enumerate(shape.levels):
            if not metas:
                continue
            levels.append(
                {
                    "level": level,
                    "files": [
                        {
                            "number": m.number,
                            "bytes": m.file_size,
                            "entries": m.entry_count,
                            "tombstones": m.tombstone_count,
                            "blocks": m.block_count,
                            "raw_key_bytes": m.raw_key_bytes,
                            "raw_value_bytes": m.raw_value_bytes,
                            "min_seqno": m.min_seqno,
                            "max_seqno": m.max_seqno,
                            "min_commit_time": iso_utc(m.min_commit_ts_us),
                            "max_commit_time": iso_utc(m.max_commit_ts_us),
                            "smallest": key_json(m.smallest),
                            "largest": key_json(m.largest),
                            **(
                                {
                                    "smallest_item_key": decode_entry(base, m.smallest, None).get(
                                        "item_key"
                                    ),
                                    "largest_item_key": decode_entry(base, m.largest, None).get(
                                        "item_key"
                                    ),
                                }
                                if base is not None
                                else {}
                            ),
                        }
                        for m in metas
                    ],
                    "bytes": sum(m.file_size for m in metas),
                    "entries": sum(m.entry_count for m in metas),
                }
            )
        keyspaces.append(
            {
                "name": name,
                "id": ksid,
                "table": owner.table.name if owner else None,
                "index": owner.index.name if owner and owner.index else None,
                "levels": levels,
            }
        )
    data = {"path": dd.path, "keyspaces": keyspaces}
    return Result(data, render(data))


def _end_key(f: dict, end: str) -> str:
    """A file's smallest or largest key: the item key where it decodes, else its bytes."""
    item_key = f.get(f"{end}_item_key")
    if item_key:
        return clip(compact_item(item_key), 32)
    return printable(bytes.fromhex(f[end]["hex"]), 24)


def render(data: dict) -> str:
    parts = []
    for ks in data["keyspaces"]:
        rows = []
        for lv in ks["levels"]:
            for f in lv["files"]:
                rows.append(
                    [
                        f"L{lv['level']}",
                        f"{f['number']:06d}.sst",
                        fmt_bytes(f["bytes"]),
                        f["entries"],
                        f["tombstones"],
                        fmt_range(f["min_seqno"], f["max_seqno"]),
                        _end_key(f, "smallest"),
                        _end_key(f, "largest"),
                    ]
                )
            rows.append(
                [
                    f"L{lv['level']}",
                    f"= {len(lv['files'])} file(s)",
                    fmt_bytes(lv["bytes"]),
                    lv["entries"],
                    "",
                    "",
                    "",
                    "",
                ]
            )
        headers = [
            "level",
            "file",
            "size",
            "entries",
            "tombstones",
            "seqnos",
            "smallest",
            "largest",
        ]
        body = table(headers, rows, indent=2) if rows else "  no SSTables"
        holds = ""
        if ks.get("table"):
            holds = f", table {ks['table']}" + (f" index {ks['index']}" if ks["index"] else "")
        parts.append(f"Keyspace {ks['name']} (id {ks['id']}{holds})\n{body}")
    return "\n\n".join(parts) or "no keyspaces"
