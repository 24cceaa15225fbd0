"""`shale-inspect DIR verify`: every checksum of every file.

Checks, without changing a byte:
- every SSTable in the directory: footer (magic, version, block handles), the CRC32C of
  its bloom, properties and index blocks, then of every data block, which must also
  decompress and parse; the catalog's record of the file (size, entry count, seqno and
  key range) must match its properties;
- every file the catalog lists must exist;
- every WAL segment: its header and the CRC32C of every record, which must parse as a
  batch. A damaged record is a problem; a torn tail of the last segment (a write cut
  short by a crash, never acknowledged) is a note, as the next open truncates it.

Exit status 0 when no problem is found (notes do not count), 1 otherwise, each problem
named by file and byte offset. A progress bar goes to stderr on a terminal when the
directory holds more than PROGRESS_MIN_BYTES (or always with --progress).
"""

import argparse
import os
import sys

from engine.storage.errors import StorageError
from engine.storage.sstable import SSTableReader
from tools.inspect.datadir import DataDir
from tools.inspect.render import Progress, Result, fmt_bytes, section, table

NAME = "verify"
HELP = "check every checksum of every SSTable block, footer and WAL record (exit 1 on damage)"
DESCRIPTION = """\
Read every SSTable (footer, bloom, properties, index and every data block) and every WAL
record and check each CRC32C, that blocks decompress and parse, and that the catalog's
record of each SSTable matches the file. Prints each problem with its file and byte
offset and exits 1; exits 0 when there is none. Torn WAL tails and files the next open
would delete are listed as notes and do not fail the check."""

PROGRESS_MIN_BYTES = 64 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="always show a progress bar on stderr",
    )
    group.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show one"
    )


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    problems: list[dict] = []
    notes: list[dict] = []
    checked = {"sstables": 0, "data_blocks": 0, "wal_segments": 0, "wal_records": 0, "bytes": 0}

    def problem(path: str, offset: int | None, what: str) -> None:
        problems.append({"path": path, "offset": offset, "what": what})

    referenced = {meta.number: (ksid, meta) for ksid, meta in dd.live_files()}
    ssts = dict(dd.listing.ssts)
    for number in sorted(set(referenced) - set(ssts)):
        problem(dd.sst_path(number), None, "listed in the catalog but missing")
    total = sum(os.path.getsize(p) for p in ssts.values())
    total += sum(max(s.size_bytes, 0) for s in dd.segments)
    enabled = args.progress
    if enabled is None:
        enabled = sys.stderr.isatty() and total >= PROGRESS_MIN_BYTES
    progress = Progress(total, enabled=enabled, label="verify")
    for number, path in sorted(ssts.items()):
        if number not in referenced:
            notes.append(
                {
                    "path": path,
                    "offset": None,
                    "what": "not in the catalog (deleted at the next open); checked anyway",
                }
            )
        _verify_sst(path, number, referenced.get(number), problem, checked, progress)
    for segment in dd.segments:
        if segment.size_bytes < 0:
            problem(segment.path, None, "listed in the catalog but missing")
            continue
        checked["wal_segments"] += 1
        checked["bytes"] += segment.size_bytes
        progress.advance(segment.size_bytes, os.path.basename(segment.path))
        if not segment.is_in_catalog:
            notes.append(
                {
                    "path": segment.path,
                    "offset": None,
                    "what": "not in the catalog (deleted at the next open)",
                }
            )
        if segment.error is not None:
            problem(segment.path, getattr(segment.error, "offset", 0), str(segment.error))
            continue
        scan = segment.scan
        assert scan is not None
        checked["wal_records"] += len(scan.records)
        for offset, length, why in scan.dropped:
            problem(segment.path, offset, f"{why} ({length} bytes up to the next good record)")
        if scan.torn_at is not None:
            notes.append(
                {
                    "path": segment.path,
                    "offset": scan.valid_end,
                    "what": f"torn tail of {segment.size_bytes - scan.valid_end} bytes (a write"
                    " cut short by a crash; truncated at the next open)",
                }
            )
    progress.close()
    data = {
        "path": dd.path,
        "ok": not problems,
        "problems": problems,
        "notes": notes,
        "checked": checked,
    }
    return Result(data, render(data), 0 if not problems else 1)


def _verify_sst(path, number, owner, problem, checked, progress) -> None:
    size = os.path.getsize(path)
    name = os.path.basename(path)
    checked["sstables"] += 1
    checked["bytes"] += size
    try:
        reader = SSTableReader(path, number, None)
    except StorageError as exc:
        problem(path, getattr(exc, "offset", None), str(exc))
        progress.advance(size, name)
        return
    try:
        if owner is not None:
            _, meta = owner
            expected = {
                "file size": (meta.file_size, reader.file_size),
                "entry count": (meta.entry_count, reader.entry_count),
                "tombstone count": (meta.tombstone_count, reader.tombstone_count),
                "min seqno": (meta.min_seqno, reader.min_seqno),
                "max seqno": (meta.max_seqno, reader.max_seqno),
                "smallest key": (meta.smallest, bytes(reader.smallest)),
                "largest key": (meta.largest, bytes(reader.largest)),
            }
            for what, (in_catalog, in_file) in expected.items():
                if in_catalog != in_file:
                    problem(
                        path,
                        None,
                        f"catalog records {what} {in_catalog!r}, the file has {in_file!r}",
                    )
        done = 0
        for i, block_size in enumerate(reader.block_sizes):
            checked["data_blocks"] += 1
            try:
                reader.block(i)
            except StorageError as exc:
                problem(path, getattr(exc, "offset", reader.block_offsets[i]), str(exc))
            done += block_size
            progress.advance(block_size, name)
        progress.advance(size - done, name)
    finally:
        reader.close()


def render(data: dict) -> str:
    c = data["checked"]
    summary = (
        f"checked {c['sstables']} SSTables ({c['data_blocks']} data blocks) and"
        f" {c['wal_segments']} WAL segments ({c['wal_records']} records), {fmt_bytes(c['bytes'])}"
    )
    parts = [summary]
    if data["problems"]:
        rows = [[os.path.basename(p["path"]), p["offset"], p["what"]] for p in data["problems"]]
        parts.append(
            section(f"PROBLEMS ({len(rows)})", table(["file", "offset", "problem"], rows, indent=2))
        )
    if data["notes"]:
        rows = [[os.path.basename(n["path"]), n["offset"], n["what"]] for n in data["notes"]]
        parts.append(
            section(f"Notes ({len(rows)})", table(["file", "offset", "note"], rows, indent=2))
        )
    parts.append("OK: no problems found" if data["ok"] else "FAILED: the directory is damaged")
    return "\n\n".join(parts)
