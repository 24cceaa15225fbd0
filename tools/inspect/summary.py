"""`shale-inspect DIR summary`: the state of a data directory on one screen.

Tables (key schema, indexes, stream, point-in-time recovery, base keyspace: from the
catalog alone, `tables` counts items), backups, keyspaces with files and bytes per level,
WAL segments, the last seqno (in SSTables and in the WAL), the catalog's cumulative
counters with write and space amplification, the LOCK, and whether the next open has
recovery work to do (or would fail).

Amplification follows `Store.stats()`: write amplification = (WAL + flush + compaction
bytes written) / user key+value bytes written (`write_amplification_sst` leaves the WAL
out, RocksDB's definition); space amplification = SSTable bytes / live key+value bytes,
estimated from each keyspace's deepest non-empty level.
"""

import argparse

from engine.storage.version import NUM_LEVELS
from tools.inspect.backups import NOT_IMPLEMENTED as BACKUPS_NOT_IMPLEMENTED
from tools.inspect.datadir import DataDir, needs_recovery
from tools.inspect.render import Result, fields, fmt_bytes, section, table
from tools.inspect.tabledata import keyspace_owners, load_tables
from tools.inspect.tables import stream_text, table_json
from tools.inspect.wal import segment_json, segments_table

NAME = "summary"
HELP = "tables, keyspaces, levels, WAL, amplification, and whether recovery is needed"
DESCRIPTION = """\
One screen about the directory: its tables (key schema, indexes, stream, point-in-time
recovery window) and backups, the catalog's format version and counters, every
keyspace with its files and bytes per level, every WAL segment (records, bytes, seqno
and commit-time ranges, unflushed records, torn tails), the last seqno, write and space
amplification, who holds the LOCK, and what the next open would do: replay unflushed WAL
records, truncate a torn tail, delete files the catalog does not reference, or fail on
corruption or a missing file."""

_COUNTERS = (
    "user_bytes_written",
    "wal_bytes_written",
    "flush_bytes_written",
    "compaction_bytes_written",
    "compaction_bytes_read",
    "batches_written",
    "write_groups",
    "flushes",
    "compactions",
    "stalls",
    "stall_us",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options beyond --json


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    del args
    table_infos = load_tables(dd)
    owners = keyspace_owners(table_infos)
    keyspaces = []
    file_bytes = 0
    live_bytes = 0
    for name, ksid in sorted(dd.state.keyspaces.items()):
        metas = dd.state.files.get(ksid, [])
        levels = []
        for level in range(NUM_LEVELS):
            at = [m for m in metas if m.level == level]
            if at:
                levels.append(
                    {
                        "level": level,
                        "files": len(at),
                        "bytes": sum(m.file_size for m in at),
                        "entries": sum(m.entry_count for m in at),
                        "tombstones": sum(m.tombstone_count for m in at),
                    }
                )
        if metas:
            deepest = max(m.level for m in metas)
            live_bytes += sum(
                m.raw_key_bytes + m.raw_value_bytes for m in metas if m.level == deepest
            )
        size = sum(m.file_size for m in metas)
        file_bytes += size
        owner = owners.get(name)
        keyspaces.append(
            {
                "name": name,
                "id": ksid,
                "files": len(metas),
                "bytes": size,
                "levels": levels,
                "table": owner.table.name if owner else None,
                "index": owner.index.name if owner and owner.index else None,
            }
        )
    last_sst = dd.last_seqno_in_sstables
    segments = [segment_json(s, last_sst) for s in dd.segments]
    wal_max = max((s["max_seqno"] or 0 for s in segments if s["in_catalog"]), default=0)
    stats = {name: dd.state.stats.get(name, 0) for name in _COUNTERS}
    user = stats["user_bytes_written"]
    sst_written = stats["flush_bytes_written"] + stats["compaction_bytes_written"]
    stats.update(
        write_amplification=(stats["wal_bytes_written"] + sst_written) / user if user else 0.0,
        write_amplification_sst=sst_written / user if user else 0.0,
        file_bytes=file_bytes,
        live_bytes_estimate=live_bytes,
        space_amplification=file_bytes / live_bytes if live_bytes else 0.0,
    )
    findings = dd.recovery_findings()
    tables = [table_json(dd, t, count=False) for t in table_infos]
    for t in tables:
        t["pitr"] = {"status": "DISABLED", "earliest_restorable": None, "latest_restorable": None}
    data = {
        "path": dd.path,
        "format_version": dd.format_version,
        "next_file_number": dd.state.meta.get("next_file_number"),
        "next_keyspace_id": dd.state.meta.get("next_keyspace_id"),
        "last_seqno": max(last_sst, wal_max),
        "last_seqno_in_sstables": last_sst,
        "last_commit_ts_us": dd.state.meta.get("last_commit_ts_us"),
        "user_catalog_entries": dd.user_entries,
        "lock": dd.lock.to_json(),
        "tables": tables,
        "backups": {"count": 0, "note": BACKUPS_NOT_IMPLEMENTED},
        "keyspaces": keyspaces,
        "wal": {
            "segments": segments,
            "records": sum(s["records"] for s in segments),
            "bytes": sum(max(s["bytes"], 0) for s in segments),
            "unflushed_records": sum(s["unflushed_records"] for s in segments if s["in_catalog"]),
        },
        "stats": stats,
        "recovery": {
            "needed": needs_recovery(findings),
            "open_fails": any(f.is_fatal for f in findings),
            "findings": [f.to_json() for f in findings],
        },
    }
    return Result(data, render(data))


def lock_text(lock: dict) -> str:
    if not lock["exists"]:
        return "no LOCK file"
    if lock["is_held"] is None:
        return "unknown (cannot tell whether LOCK is held)"
    if lock["is_held"]:
        return f"HELD by pid {lock['holder_pid'] or '?'} (the store is open)"
    return f"free (last opened by pid {lock['recorded_pid'] or '?'})"


def render(data: dict) -> str:
    stats = data["stats"]
    head = fields(
        [
            ("directory", data["path"]),
            ("format version", data["format_version"]),
            ("LOCK", lock_text(data["lock"])),
            (
                "last seqno",
                f"{data['last_seqno']} (in SSTables: {data['last_seqno_in_sstables']})",
            ),
            ("next file number", data["next_file_number"]),
        ]
    )
    rows = []
    for ks in data["keyspaces"]:
        holds = (ks["table"] or "-") + (f"/{ks['index']}" if ks["index"] else "")
        if not ks["levels"]:
            rows.append([ks["name"], ks["id"], holds, None, 0, fmt_bytes(0), 0, 0])
        for lv in ks["levels"]:
            rows.append(
                [
                    ks["name"],
                    ks["id"],
                    holds,
                    f"L{lv['level']}",
                    lv["files"],
                    fmt_bytes(lv["bytes"]),
                    lv["entries"],
                    lv["tombstones"],
                ]
            )
    ks_table = table(
        ["keyspace", "id", "holds", "level", "files", "size", "entries", "tombstones"],
        rows,
        indent=2,
    )
    wal = data["wal"]
    amp = fields(
        [
            ("user bytes written", fmt_bytes(stats["user_bytes_written"])),
            (
                "WAL / flush / compaction",
                " / ".join(
                    fmt_bytes(stats[k])
                    for k in (
                        "wal_bytes_written",
                        "flush_bytes_written",
                        "compaction_bytes_written",
                    )
                ),
            ),
            (
                "write amplification",
                f"{stats['write_amplification']:.2f} (SSTables only:"
                f" {stats['write_amplification_sst']:.2f})",
            ),
            (
                "space amplification",
                f"{stats['space_amplification']:.2f} ({fmt_bytes(stats['file_bytes'])} of"
                f" SSTables for ~{fmt_bytes(stats['live_bytes_estimate'])} live)",
            ),
            (
                "batches / write groups",
                f"{stats['batches_written']} / {stats['write_groups']}",
            ),
            (
                "flushes / compactions",
                f"{stats['flushes']} / {stats['compactions']}",
            ),
            ("stalls", f"{stats['stalls']} ({stats['stall_us'] / 1e6:.3f} s)"),
        ]
    )
    recovery = data["recovery"]
    if not recovery["findings"]:
        rec = "  none: the directory is clean"
    else:
        verdict = "needed (what the next open does):" if recovery["needed"] else "not needed"
        if recovery["open_fails"]:
            verdict = "the next open FAILS (see verify):"
        rec = f"  {verdict}\n" + "\n".join(f"  - {f['message']}" for f in recovery["findings"])
    wal_title = (
        f"WAL ({len(wal['segments'])} segments, {wal['records']} records,"
        f" {wal['unflushed_records']} unflushed, {fmt_bytes(wal['bytes'])})"
    )
    table_rows = [
        [
            t["name"],
            ", ".join(f"{k['attribute']} {k['key_type']} {k['type']}" for k in t["key_schema"]),
            ", ".join(f"{ix['name']} ({ix['kind']})" for ix in t["indexes"]) or "-",
            stream_text(t["stream"]),
            t["pitr"]["status"],
            t["keyspace"],
        ]
        for t in data["tables"]
    ]
    tables_body = (
        table(["table", "key", "indexes", "stream", "PITR", "keyspace"], table_rows, indent=2)
        if table_rows
        else "  none"
    )
    backups = data["backups"]
    return "\n\n".join(
        [
            section("Store", head),
            section(f"Tables ({len(table_rows)})", tables_body),
            section(f"Backups ({backups['count']})", f"  none: {backups['note']}"),
            section(f"Keyspaces ({len(data['keyspaces'])})", ks_table),
            section(wal_title, segments_table(wal["segments"])),
            section("Counters (catalog stats, as of the last flush or compaction)", amp),
            section("Recovery at next open", rec),
        ]
    )
