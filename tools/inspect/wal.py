"""`shale-inspect DIR wal`: WAL segments and the batches they hold.

Each record is one committed batch: its seqno, its commit time (ISO 8601 UTC), where it
sits (segment and byte offset) and its operations with keyspace names from the catalog.
Filters narrow it to the question at hand ("what happened at 14:03:07?"): `--table`,
`--keyspace`, `--since`/`--until`, `--at` (one second), `--seqno`, `--segment`. An
operation on a table's keyspace is decoded: the table (and index), the item's key and the
item written. A record is `unflushed` when its seqno is above the highest seqno in an
SSTable: the next open replays it.
"""

import argparse
import os
from datetime import UTC, datetime

from tools.inspect.datadir import DataDir, Segment
from tools.inspect.render import (
    PREVIEW_BYTES,
    Result,
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

NAME = "wal"
HELP = "WAL segments and records, decoded as items; by table, keyspace, time, seqno"
DESCRIPTION = """\
List the WAL segments (records, bytes, seqno and commit-time ranges, torn tails,
damaged ranges), then every record: seqno, commit time in UTC, segment and offset, and
each operation (put/delete, keyspace, key, value length and preview; for a table's
keyspaces the table or index, the item's key and the item, decoded). Records whose
seqno is above the last seqno in an SSTable are marked unflushed: the next open replays
them. Times are ISO 8601 (`2024-05-01T14:03:07`, UTC unless an offset is given) or
microseconds since the epoch; --at TIME keeps the records of that one second."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keyspace", action="append", metavar="NAME", help="only operations on NAME (repeatable)"
    )
    parser.add_argument(
        "--table",
        action="append",
        metavar="NAME",
        help="only operations on table NAME's keyspaces, base and indexes (repeatable)",
    )
    parser.add_argument("--since", type=parse_time, metavar="TIME", help="commit time >= TIME")
    parser.add_argument("--until", type=parse_time, metavar="TIME", help="commit time <= TIME")
    parser.add_argument(
        "--at",
        type=parse_second,
        metavar="TIME",
        help="commit time within that second (`--at 2024-05-01T14:03:07`: what happened then)",
    )
    parser.add_argument(
        "--seqno", type=parse_seqno_range, metavar="N|A..B", help="one seqno or a range (A.., ..B)"
    )
    parser.add_argument("--segment", type=int, metavar="N", help="only segment number N")
    parser.add_argument(
        "--limit", type=int, metavar="N", help="at most N records (the first that match)"
    )
    parser.add_argument(
        "--segments-only", action="store_true", help="list the segments, not the records"
    )


def parse_time(text: str) -> int:
    """ISO 8601 (naive = UTC) or integer microseconds -> microseconds since the epoch."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (2024-05-01T14:03:07) or microseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1_000_000)


def parse_second(text: str) -> tuple[int, int]:
    """An ISO 8601 time -> the microseconds [start, end] of the second it names (or of
    the exact microsecond when it has a fraction)."""
    start = parse_time(text)
    if text.isdigit() or "." in text.rpartition(":")[2]:
        return start, start
    return start, start + 999_999


def parse_seqno_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("..")
    try:
        if not sep:
            return int(low), int(low)
        return (int(low) if low else 0), (int(high) if high else 1 << 64)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N, A..B, A.. or ..B") from None


def segment_json(segment: Segment, last_seqno: int) -> dict:
    """A segment's summary (shared with `summary`)."""
    records = segment.records
    scan = segment.scan
    return {
        "number": segment.number,
        "file": os.path.basename(segment.path),
        "in_catalog": segment.is_in_catalog,
        "bytes": segment.size_bytes,
        "records": len(records),
        "unflushed_records": sum(1 for r in records if r.seqno > last_seqno),
        "min_seqno": min((r.seqno for r in records), default=None),
        "max_seqno": max((r.seqno for r in records), default=None),
        "min_commit_time": iso_utc(min((r.commit_ts_us for r in records), default=None)),
        "max_commit_time": iso_utc(max((r.commit_ts_us for r in records), default=None)),
        "torn_tail_offset": scan.valid_end if scan and scan.torn_at is not None else None,
        "damaged": [
            {"offset": offset, "length": length, "why": why}
            for offset, length, why in (scan.dropped if scan else [])
        ],
        "error": str(segment.error) if segment.error else None,
    }


def segment_state(seg: dict) -> str:
    if seg["bytes"] < 0:
        return "MISSING"
    if seg["error"]:
        return "UNREADABLE"
    states = []
    if not seg["in_catalog"]:
        states.append("unreferenced")
    if seg["damaged"]:
        states.append(f"{len(seg['damaged'])} damaged range(s)")
    if seg["torn_tail_offset"] is not None:
        states.append(f"torn tail at {seg['torn_tail_offset']}")
    return ", ".join(states) or "ok"


def segments_table(segments: list[dict]) -> str:
    rows = [
        [
            s["file"],
            fmt_bytes(s["bytes"]) if s["bytes"] >= 0 else None,
            s["records"],
            s["unflushed_records"],
            fmt_range(s["min_seqno"], s["max_seqno"]),
            fmt_range(s["min_commit_time"], s["max_commit_time"]),
            segment_state(s),
        ]
        for s in segments
    ]
    headers = ["segment", "size", "records", "unflushed", "seqnos", "commit times (UTC)", "state"]
    return table(headers, rows, indent=2)


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    last_seqno = dd.last_seqno_in_sstables
    wanted_ids = None
    if args.keyspace:
        unknown = [name for name in args.keyspace if name not in dd.state.keyspaces]
        if unknown:
            known = ", ".join(sorted(dd.state.keyspaces)) or "none"
            return Result(
                {"error": f"no keyspace {unknown[0]!r} (keyspaces: {known})"},
                f"no keyspace {unknown[0]!r} (keyspaces: {known})",
                2,
            )
        wanted_ids = {dd.state.keyspaces[name] for name in args.keyspace}
    tables = load_tables(dd)
    owners = {
        dd.state.keyspaces[name]: owner
        for name, owner in keyspace_owners(tables).items()
        if name in dd.state.keyspaces
    }
    if args.table:
        known = {t.name: t for t in tables}
        unknown = [name for name in args.table if name not in known]
        if unknown:
            message = f"no table {unknown[0]!r} (tables: {', '.join(sorted(known)) or 'none'})"
            return Result({"error": message}, message, 2)
        table_ids = {ksid for ksid, owner in owners.items() if owner.table.name in args.table}
        wanted_ids = table_ids if wanted_ids is None else wanted_ids & table_ids
    segments = [s for s in dd.segments if args.segment is None or s.number == args.segment]
    records = []
    if not args.segments_only:
        for segment in segments:
            for record in segment.records:
                if not _wanted(record, args):
                    continue
                ops = [op for op in record.ops if wanted_ids is None or op[1] in wanted_ids]
                if not ops:
                    continue
                if args.limit is not None and len(records) >= args.limit:
                    break
                records.append(_record_json(dd, segment, record, ops, last_seqno, owners))
    data = {
        "path": dd.path,
        "last_seqno_in_sstables": last_seqno,
        "segments": [segment_json(s, last_seqno) for s in segments],
        "records": records,
    }
    return Result(data, render(data, args.segments_only))


def _wanted(record, args: argparse.Namespace) -> bool:
    if args.at is not None and not args.at[0] <= record.commit_ts_us <= args.at[1]:
        return False
    if args.since is not None and record.commit_ts_us < args.since:
        return False
    if args.until is not None and record.commit_ts_us > args.until:
        return False
    if args.seqno is not None:
        low, high = args.seqno
        if not low <= record.seqno <= high:
            return False
    return True


def _record_json(
    dd: DataDir, segment: Segment, record, ops: list, last_seqno: int, owners: dict
) -> dict:
    return {
        "seqno": record.seqno,
        "commit_ts_us": record.commit_ts_us,
        "commit_time": iso_utc(record.commit_ts_us),
        "segment": segment.number,
        "offset": record.offset,
        "bytes": record.size_bytes,
        "unflushed": record.seqno > last_seqno,
        "ops": [
            {
                "op": "put" if value is not None else "delete",
                "keyspace": dd.keyspace_name(ksid),
                "keyspace_id": ksid,
                "key": key_json(bytes(key)),
                "value_bytes": len(value) if value is not None else None,
                "value_preview": printable(bytes(value), PREVIEW_BYTES)
                if value is not None
                else None,
                **_decoded(owners.get(ksid), key, value),
            }
            for _kind, ksid, key, value in ops
        ],
    }


def _decoded(owner: Owner | None, key, value) -> dict:
    """An operation on a table's keyspace, as DynamoDB sees it: table, index, the item's
    key and (for a put) the item."""
    if owner is None:
        return {}
    return {
        "table": owner.table.name,
        "index": owner.index.name if owner.index else None,
        **decode_entry(owner, bytes(key), bytes(value) if value is not None else None),
    }


def op_target(op: dict) -> str:
    """Where an operation went, for people: `table`, `table/index` or the keyspace."""
    if "table" not in op:
        return op["keyspace"]
    return op["table"] + (f"/{op['index']}" if op["index"] else "")


def op_key(op: dict, width: int = 40) -> str:
    if op.get("item_key"):
        return clip(compact_item(op["item_key"]), width)
    return printable(bytes.fromhex(op["key"]["hex"]), width)


def op_value(op: dict) -> str | None:
    if op.get("item") is not None:
        return clip(compact_item(op["item"], skip=tuple(op.get("item_key") or ())), 40)
    return op["value_preview"]


def render(data: dict, segments_only: bool) -> str:
    parts = [section("WAL segments (replay order)", segments_table(data["segments"]))]
    if not segments_only:
        rows = []
        for r in data["records"]:
            first = True
            for op in r["ops"]:
                head = (
                    [r["seqno"], r["commit_time"], f"{r['segment']:06d}:{r['offset']}"]
                    if first
                    else ["", "", ""]
                )
                flag = ("unflushed" if r["unflushed"] else "flushed") if first else ""
                rows.append(
                    [
                        *head,
                        flag,
                        op["op"],
                        op_target(op),
                        op_key(op),
                        op["value_bytes"],
                        op_value(op),
                    ]
                )
                first = False
        headers = [
            "seqno", "commit time (UTC)", "segment:offset", "state", "op", "table/keyspace", "key",
            "value bytes", "value",
        ]  # fmt: skip
        count = len(data["records"])
        parts.append(section(f"Records ({count})", table(headers, rows, indent=2) if rows else ""))
    return "\n\n".join(parts)
