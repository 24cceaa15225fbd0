"""`shale-inspect DIR sst FILE`: one SSTable, block by block (RocksDB's `sst_dump`).

Properties (from the file's properties block, next to what the catalog records),
every block with offset, on-disk size, compression and, for data blocks, entry count and
key range, the footer, and with `--records` every entry: key, seqno, kind, value length
and a preview, decoded as DynamoDB keys and items where the keyspace belongs to a table
(`item_key`, `item`, `size_bytes` in --json). FILE is a file number (`12`), a name in
DATA_DIR (`000012.sst`) or a path. Opening checks the footer, bloom, properties and
index blocks; each data block's checksum is checked as it is read. A damaged block is
reported in its row and the command exits 1.
"""

import argparse
import os

from engine.storage.errors import StorageError
from engine.storage.format import BLOCK_TRAILER, FOOTER, KIND_VALUE, SST_SUFFIX
from engine.storage.sstable import SSTableReader
from tools.inspect.datadir import DataDir
from tools.inspect.render import (
    PREVIEW_BYTES,
    Result,
    fields,
    fmt_bytes,
    fmt_range,
    iso_utc,
    key_json,
    printable,
    section,
    table,
)
from tools.inspect.tabledata import (
    Owner,
    clip,
    compact_item,
    decode_entry,
    keyspace_owners,
    load_tables,
)

NAME = "sst"
HELP = "one SSTable: properties, blocks (offset, size, compression), key range, --records"
DESCRIPTION = """\
Show one SSTable: its properties (entries, tombstones, seqno and commit-time ranges,
smallest and largest key) beside the catalog's record of it (keyspace, level), every
block (data blocks with entry count and first/last key, then bloom, properties, index
and footer) with offset, size and compression, and with --records every entry (key,
seqno, kind, value length and preview; where the file belongs to a table, the item's
key and the item decoded from DynamoDB's encodings). FILE is a file number, a file name
inside DATA_DIR or a path."""

_COMPRESSION = {0: "none", 1: "zstd"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="file number, NNNNNN.sst, or a path")
    parser.add_argument("--records", action="store_true", help="dump every entry")
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="with --records: at most N entries"
    )


def resolve(dd: DataDir, spec: str) -> str:
    if spec.isdigit():
        return dd.sst_path(int(spec))
    if os.sep not in spec and not os.path.exists(spec):
        return os.path.join(dd.path, spec)
    return os.path.abspath(spec)


def _file_number(path: str) -> int | None:
    name = os.path.basename(path)
    stem = name[: -len(SST_SUFFIX)] if name.endswith(SST_SUFFIX) else ""
    return int(stem) if stem.isdigit() else None


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    path = resolve(dd, args.file)
    number = _file_number(path)
    owner = (
        dd.file_owner(number) if number is not None and os.path.dirname(path) == dd.path else None
    )
    catalog = None
    table_owner = None
    if owner is not None:
        ksid, meta = owner
        table_owner = keyspace_owners(load_tables(dd)).get(dd.keyspace_name(ksid))
        catalog = {
            "keyspace": dd.keyspace_name(ksid),
            "keyspace_id": ksid,
            "level": meta.level,
            "bytes": meta.file_size,
            "entries": meta.entry_count,
            "table": table_owner.table.name if table_owner else None,
            "index": table_owner.index.name if table_owner and table_owner.index else None,
        }
    data: dict = {"path": path, "number": number, "catalog": catalog, "problems": []}
    if not os.path.isfile(path):
        data["problems"].append({"offset": None, "what": "no such file"})
        return Result(data, f"{path}: no such file", 1)
    try:
        reader = SSTableReader(path, number or 0, None)
    except StorageError as exc:
        data["problems"].append({"offset": getattr(exc, "offset", None), "what": str(exc)})
        return Result(data, render(data, args), 1)
    try:
        _describe(reader, data, args, table_owner)
    finally:
        reader.close()
    return Result(data, render(data, args), 1 if data["problems"] else 0)


def _describe(
    reader: SSTableReader, data: dict, args: argparse.Namespace, owner: Owner | None
) -> None:
    data["properties"] = {
        "bytes": reader.file_size,
        "entries": reader.entry_count,
        "tombstones": reader.tombstone_count,
        "data_blocks": reader.block_count,
        "raw_key_bytes": reader.raw_key_bytes,
        "raw_value_bytes": reader.raw_value_bytes,
        "min_seqno": reader.min_seqno,
        "max_seqno": reader.max_seqno,
        "min_commit_time": iso_utc(reader.min_commit_ts_us),
        "max_commit_time": iso_utc(reader.max_commit_ts_us),
        "smallest": key_json(bytes(reader.smallest)),
        "largest": key_json(bytes(reader.largest)),
    }
    if owner is not None and owner.index is None:  # a base key decodes by itself
        for end in ("smallest", "largest"):
            item_key = decode_entry(owner, bytes(getattr(reader, end)), None).get("item_key")
            data["properties"][end]["item_key"] = item_key
    with open(reader.path, "rb") as f:
        f.seek(reader.file_size - FOOTER.size)
        footer = FOOTER.unpack(f.read(FOOTER.size))
        handles = [
            ("data", offset, size)
            for offset, size in zip(reader.block_offsets, reader.block_sizes, strict=True)
        ]
        handles += [
            ("bloom", footer[0], footer[1]),
            ("properties", footer[2], footer[3]),
            ("index", footer[4], footer[5]),
        ]
        blocks = []
        for i, (kind, offset, size) in enumerate(handles):
            f.seek(offset + size - BLOCK_TRAILER.size)
            compression, crc = BLOCK_TRAILER.unpack(f.read(BLOCK_TRAILER.size))
            blocks.append(
                {
                    "kind": kind,
                    "index": i if kind == "data" else None,
                    "offset": offset,
                    "bytes": size,
                    "compression": _COMPRESSION.get(compression, f"unknown ({compression})"),
                    "crc32c": f"{crc:08x}",
                }
            )
    blocks.append(
        {
            "kind": "footer",
            "index": None,
            "offset": reader.file_size - FOOTER.size,
            "bytes": FOOTER.size,
            "compression": None,
            "crc32c": None,
            "format_version": footer[6],
        }
    )
    records = []
    limit = args.limit
    for block in blocks:
        if block["kind"] != "data":
            continue
        try:
            decoded = reader.block(block["index"])
        except StorageError as exc:
            block["error"] = str(exc)
            data["problems"].append({"offset": block["offset"], "what": str(exc)})
            continue
        block["entries"] = decoded.count
        block["decompressed_bytes"] = len(decoded.raw)
        block["first_key"] = key_json(bytes(decoded.key(0))) if decoded.count else None
        block["last_key"] = (
            key_json(bytes(decoded.key(decoded.count - 1))) if decoded.count else None
        )
        if args.records:
            trailers = decoded.trailers
            for i in range(decoded.count):
                if limit is not None and len(records) >= limit:
                    break
                kind = trailers[i] & 0xFF
                value = bytes(decoded.value(i)) if kind == KIND_VALUE else None
                records.append(
                    {
                        "key": key_json(bytes(decoded.key(i))),
                        "seqno": trailers[i] >> 8,
                        "kind": "value" if kind == KIND_VALUE else "tombstone",
                        "value_bytes": len(value) if value is not None else None,
                        "value_preview": printable(value, PREVIEW_BYTES)
                        if value is not None
                        else None,
                        "block": block["index"],
                        **(decode_entry(owner, bytes(decoded.key(i)), value) if owner else {}),
                    }
                )
    data["blocks"] = blocks
    if args.records:
        data["records"] = records


def _key_text(key: dict) -> str:
    """A key's bytes, followed by the item key they encode where it is known."""
    if key.get("item_key"):
        return f"{key['text']}  ({compact_item(key['item_key'])})"
    return key["text"]


def render(data: dict, args: argparse.Namespace) -> str:
    cat = data["catalog"]
    where = (
        f"keyspace {cat['keyspace']} (id {cat['keyspace_id']}), level L{cat['level']}"
        if cat
        else "not in the catalog of DATA_DIR"
    )
    if cat and cat.get("table"):
        index = f", index {cat['index']}" if cat.get("index") else ""
        where += f"; table {cat['table']}{index}"
    head = [("file", data["path"]), ("catalog", where)]
    props = data.get("properties")
    if props:
        head += [
            ("size", f"{fmt_bytes(props['bytes'])} ({props['bytes']} bytes)"),
            ("entries", f"{props['entries']} ({props['tombstones']} tombstones)"),
            ("data blocks", props["data_blocks"]),
            (
                "raw key / value bytes",
                f"{fmt_bytes(props['raw_key_bytes'])} / {fmt_bytes(props['raw_value_bytes'])}",
            ),
            ("seqnos", fmt_range(props["min_seqno"], props["max_seqno"])),
            ("commit times (UTC)", fmt_range(props["min_commit_time"], props["max_commit_time"])),
            ("smallest key", _key_text(props["smallest"])),
            ("largest key", _key_text(props["largest"])),
        ]
    parts = [section("SSTable", fields(head))]
    if "blocks" in data:
        rows = [
            [
                b["kind"] if b["index"] is None else f"data {b['index']}",
                b["offset"],
                b["bytes"],
                b["compression"],
                b.get("entries"),
                printable(bytes.fromhex(b["first_key"]["hex"]), 24) if b.get("first_key") else None,
                printable(bytes.fromhex(b["last_key"]["hex"]), 24) if b.get("last_key") else None,
                "CORRUPT" if b.get("error") else "",
            ]
            for b in data["blocks"]
        ]
        headers = ["block", "offset", "size", "compression", "entries", "first key", "last key", ""]
        parts.append(section(f"Blocks ({len(rows)})", table(headers, rows, indent=2)))
    if args.records and "records" in data:
        rows = [
            [
                clip(compact_item(r["item_key"]), 40)
                if r.get("item_key")
                else printable(bytes.fromhex(r["key"]["hex"]), 40),
                r["seqno"],
                r["kind"],
                r["value_bytes"],
                clip(compact_item(r["item"], skip=tuple(r["item_key"])), 40)
                if r.get("item") is not None
                else r["value_preview"],
            ]
            for r in data["records"]
        ]
        headers = ["key", "seqno", "kind", "value bytes", "value"]
        parts.append(section(f"Records ({len(rows)})", table(headers, rows, indent=2)))
    if data["problems"]:
        parts.append(
            section(
                "Problems",
                "\n".join(f"  offset {p['offset']}: {p['what']}" for p in data["problems"]),
            )
        )
    return "\n\n".join(parts)
