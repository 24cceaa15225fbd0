"""A ShaleDB data directory opened strictly read-only, and what its next open would do.

`DataDir` never changes a byte under the directory, even one left by a crash. That rules
out `Store.open`, which takes the LOCK, truncates torn WAL tails, deletes unreferenced
files and writes the catalog. Instead:

- the catalog is read through `Catalog(path, readonly=True)`, which opens LMDB with
  MDB_RDONLY and MDB_NOLOCK: no `lock.mdb` is created or written, and `data.mdb` is
  opened O_RDONLY. Without LMDB's reader table a live writer may recycle pages under us,
  so when a live process holds the LOCK the view is reported as possibly inconsistent;
- SSTables are read with `SSTableReader` (O_RDONLY, no block cache);
- WAL segments with `read_segment(..., salvage=True)`, which only reads, so a damaged
  record is reported and the records after it are still shown;
- whether the LOCK is held is learnt passively from /proc/locks (flock entries name the
  file's device and inode), falling back to a shared, non-blocking flock on an O_RDONLY
  descriptor only where /proc/locks does not exist.

`recovery_findings()` lists what the next `Store.open` would do or refuse: WAL records to
replay, torn tails to truncate, files to delete, corruption that fails the open, files
the catalog names but the directory lacks.

Thread-safety: a DataDir belongs to one thread (the command running).
"""

import fcntl
import os
from dataclasses import dataclass, field
from functools import cached_property

import lmdb

from engine.storage.catalog import Catalog, CatalogState
from engine.storage.errors import StorageError
from engine.storage.format import (
    CATALOG_DIR,
    CATALOG_FORMAT_VERSION,
    LOCK_NAME,
    SST_SUFFIX,
    TMP_SUFFIX,
    make_sst_name,
    make_wal_name,
    parse_file_name,
)
from engine.storage.sstable import FileMeta
from engine.storage.wal import SegmentScan, read_segment


class InspectError(Exception):
    """The directory cannot be inspected at all (not a data directory, unreadable
    catalog). The CLI prints it and exits with status 2."""


@dataclass
class LockState:
    exists: bool
    is_held: bool | None  # None: could not tell
    holder_pid: int | None  # from /proc/locks
    recorded_pid: int | None  # what the last opener wrote into the file

    def to_json(self) -> dict:
        return {
            "exists": self.exists,
            "is_held": self.is_held,
            "holder_pid": self.holder_pid,
            "recorded_pid": self.recorded_pid,
        }


@dataclass
class Segment:
    """One WAL segment file as read now."""

    number: int
    path: str
    is_in_catalog: bool
    is_last: bool  # the last segment the catalog lists: where a torn tail is expected
    size_bytes: int
    scan: SegmentScan | None = None
    error: StorageError | None = None  # header unreadable: no records at all

    @property
    def records(self) -> list:
        return self.scan.records if self.scan else []


@dataclass
class Finding:
    """One thing the next open would do or refuse."""

    kind: str  # replay | torn_tail | corrupt_wal | unreferenced | tmp | missing | locked ...
    message: str
    path: str | None = None
    offset: int | None = None
    is_fatal: bool = False  # the next open fails on it (without salvage)

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "message": self.message,
            "path": self.path,
            "offset": self.offset,
            "is_fatal": self.is_fatal,
        }


@dataclass
class DirListing:
    ssts: dict[int, str] = field(default_factory=dict)
    wals: dict[int, str] = field(default_factory=dict)
    tmps: list[str] = field(default_factory=list)


class DataDir:
    """A data directory, read-only. Raises InspectError when `path` is not one."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        catalog_path = os.path.join(self.path, CATALOG_DIR)
        if not os.path.isdir(self.path):
            raise InspectError(f"{path}: no such directory")
        if not os.path.isfile(os.path.join(catalog_path, "data.mdb")):
            raise InspectError(f"{path}: not a ShaleDB data directory (no {CATALOG_DIR}/data.mdb)")
        try:
            catalog = Catalog(catalog_path, readonly=True)
        except (lmdb.Error, StorageError) as exc:
            raise InspectError(f"{catalog_path}: cannot read the catalog: {exc}") from exc
        try:
            self.state: CatalogState = catalog.load()
            # The layers above storage keep their durable descriptions here (table
            # definitions under `table/`, and later backups and PITR metadata).
            self.user: dict[bytes, bytes] = dict(catalog.user_items())
            self.user_entries = len(self.user)
        except (lmdb.Error, StorageError) as exc:
            raise InspectError(f"{catalog_path}: cannot read the catalog: {exc}") from exc
        finally:
            catalog.close()
        self.names = {ksid: name for name, ksid in self.state.keyspaces.items()}

    # ---------------------------------------------------------------- catalog

    @property
    def format_version(self) -> int:
        return self.state.meta.get("format_version", CATALOG_FORMAT_VERSION)

    @property
    def last_seqno_in_sstables(self) -> int:
        return self.state.meta.get("last_seqno", 0)

    def keyspace_name(self, ksid: int) -> str:
        name = self.names.get(ksid)
        return name if name is not None else f"#{ksid} (dropped)"

    def live_files(self) -> list[tuple[int, FileMeta]]:
        """(keyspace id, meta) of every SSTable of a live keyspace, by keyspace, level,
        then file number."""
        out = [
            (ksid, meta)
            for ksid, metas in self.state.files.items()
            if ksid in self.names
            for meta in metas
        ]
        out.sort(key=lambda f: (self.names[f[0]], f[1].level, f[1].number))
        return out

    def file_owner(self, number: int) -> tuple[int, FileMeta] | None:
        for ksid, metas in self.state.files.items():
            for meta in metas:
                if meta.number == number:
                    return ksid, meta
        return None

    def sst_path(self, number: int) -> str:
        return os.path.join(self.path, make_sst_name(number))

    def user_items(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """The catalog's user entries whose key starts with `prefix`, in key order."""
        return sorted((k, v) for k, v in self.user.items() if k.startswith(prefix))

    # ------------------------------------------------------------------ files

    @cached_property
    def listing(self) -> DirListing:
        listing = DirListing()
        for name in sorted(os.listdir(self.path)):
            parsed = parse_file_name(name)
            if name.endswith(TMP_SUFFIX):
                listing.tmps.append(name)
            elif parsed is not None:
                number, suffix = parsed
                target = listing.ssts if suffix == SST_SUFFIX else listing.wals
                target[number] = os.path.join(self.path, name)
        return listing

    @cached_property
    def segments(self) -> list[Segment]:
        """The catalog's segments in replay order, then WAL files it does not list."""
        listed = sorted(self.state.segments)
        out = []
        numbers = listed + sorted(set(self.listing.wals) - set(listed))
        for number in numbers:
            path = os.path.join(self.path, make_wal_name(number))
            is_in_catalog = number in self.state.segments
            is_last = is_in_catalog and number == listed[-1]
            size = os.path.getsize(path) if os.path.exists(path) else -1
            segment = Segment(number, path, is_in_catalog, is_last, size)
            if size >= 0:
                try:
                    # Unlisted files are leftovers: read them as if last, so a cut-off
                    # record is shown as a torn tail rather than an error.
                    segment.scan = read_segment(
                        path, is_last=is_last or not is_in_catalog, salvage=True
                    )
                except StorageError as exc:
                    segment.error = exc
            out.append(segment)
        return out

    @cached_property
    def lock(self) -> LockState:
        path = os.path.join(self.path, LOCK_NAME)
        if not os.path.exists(path):
            return LockState(False, False, None, None)
        with open(path, "rb") as f:
            text = f.read(32).decode(errors="replace").strip()
        recorded = int(text) if text.isdigit() else None
        st = os.stat(path)
        holder = _flock_holder(st.st_dev, st.st_ino)
        if holder is not None:
            is_held, pid = holder
            return LockState(True, is_held, pid, recorded)
        return LockState(True, _probe_flock(path), None, recorded)

    # --------------------------------------------------------------- recovery

    def recovery_findings(self) -> list[Finding]:
        """What the next `Store.open` would do (replay, truncate, delete) or fail on."""
        findings: list[Finding] = []
        lock = self.lock
        if lock.is_held:
            findings.append(
                Finding(
                    "locked",
                    f"the store is open in a live process (pid {lock.holder_pid or '?'} holds"
                    " its LOCK): files may change while they are read, and the catalog is"
                    " read without LMDB's reader lock",
                    os.path.join(self.path, LOCK_NAME),
                )
            )
        last_seqno = self.last_seqno_in_sstables
        live_ids = set(self.names)
        unflushed = [
            r.seqno
            for s in self.segments
            if s.is_in_catalog
            for r in s.records
            if r.seqno > last_seqno and any(op[1] in live_ids for op in r.ops)
        ]
        if unflushed:
            findings.append(
                Finding(
                    "replay",
                    f"{len(unflushed)} WAL record(s), seqnos {min(unflushed)}..{max(unflushed)},"
                    " are not yet in SSTables: replayed into a memtable at the next open",
                )
            )
        for s in self.segments:
            name = os.path.basename(s.path)
            if s.size_bytes < 0:
                findings.append(
                    Finding("missing", f"{name} is listed in the catalog but missing", s.path)
                )
                continue
            if not s.is_in_catalog:
                findings.append(
                    Finding(
                        "unreferenced",
                        f"{name} is not in the catalog: deleted at the next open",
                        s.path,
                    )
                )
                continue
            if s.error is not None:
                findings.append(
                    Finding(
                        "corrupt_wal",
                        f"{name}: {s.error}",
                        s.path,
                        getattr(s.error, "offset", 0),
                        is_fatal=True,
                    )
                )
                continue
            scan = s.scan
            assert scan is not None
            for offset, length, why in scan.dropped:
                findings.append(
                    Finding(
                        "corrupt_wal",
                        f"{name}: {length} bad bytes at offset {offset} ({why}): the next open"
                        " fails unless salvage=True, which drops them",
                        s.path,
                        offset,
                        is_fatal=True,
                    )
                )
            if scan.torn_at is not None and s.is_last:
                findings.append(
                    Finding(
                        "torn_tail",
                        f"{name}: torn tail of {s.size_bytes - scan.valid_end} bytes at offset"
                        f" {scan.valid_end} (a write cut short by a crash, never acknowledged):"
                        " truncated at the next open",
                        s.path,
                        scan.valid_end,
                    )
                )
        referenced = {m.number for _, m in self.live_files()}
        for ksid, metas in sorted(self.state.files.items()):
            if ksid not in live_ids:
                findings.append(
                    Finding(
                        "dropped_keyspace_files",
                        f"{len(metas)} SSTable(s) of dropped keyspace #{ksid} are still in the"
                        " catalog: deleted at the next open",
                    )
                )
        for number in sorted(referenced - set(self.listing.ssts)):
            findings.append(
                Finding(
                    "missing",
                    f"{make_sst_name(number)} is listed in the catalog but missing: the next"
                    " open fails",
                    self.sst_path(number),
                    is_fatal=True,
                )
            )
        for number, path in sorted(self.listing.ssts.items()):
            if number not in referenced:
                findings.append(
                    Finding(
                        "unreferenced",
                        f"{os.path.basename(path)} is not in the catalog (left by a job that"
                        " crashed before its catalog transaction): deleted at the next open",
                        path,
                    )
                )
        for name in self.listing.tmps:
            findings.append(
                Finding(
                    "tmp",
                    f"{name} is a temporary file: deleted at the next open",
                    os.path.join(self.path, name),
                )
            )
        return findings


def needs_recovery(findings: list[Finding]) -> bool:
    """Whether the next open changes the directory (anything but a held LOCK)."""
    return any(f.kind != "locked" for f in findings)


def _flock_holder(dev: int, ino: int) -> tuple[bool, int | None] | None:
    """(is held, pid) from /proc/locks, or None when the kernel does not offer it."""
    try:
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    wanted = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter, not a holder
            continue
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == wanted:
            return True, int(parts[4]) if parts[4].isdigit() else None
    return False, None


def _probe_flock(path: str) -> bool | None:
    """Whether an exclusive flock is held, by trying a shared one (never changes the
    file's bytes or mtime)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False
