"""The catalog: the durable description of a store, in an LMDB environment.

Named databases (docs/FORMAT.md "Catalog"):
    meta       ascii name -> u64 LE   format_version, next_file_number, next_keyspace_id,
                                      last_seqno (highest seqno in an SSTable),
                                      last_commit_ts_us
    keyspaces  utf-8 name -> u32 LE keyspace id
    files      keyspace id u32 BE | file number u64 BE -> FileMeta encoding
    wal        segment number u64 BE -> b""   (segments whose records are not yet flushed)
    stats      ascii name -> u64 LE   cumulative counters (bytes written by flush, ...)
    user       bytes -> bytes         reserved for the layers above storage

Every change goes through `apply(edit)`, one LMDB write transaction, so a crash leaves
either the old or the new description. LMDB fsyncs on commit.
Thread-safety: LMDB serialises write transactions; `apply` may be called from any thread.
"""

from dataclasses import dataclass, field

import lmdb

from engine.storage.errors import CorruptionError, FormatVersionError
from engine.storage.format import (
    CATALOG_FORMAT_VERSION,
    FILE_KEY,
    FILE_META,
    SEGMENT_KEY,
    U32,
    U64,
)
from engine.storage.sstable import FileMeta

MAP_SIZE_BYTES = 1 << 34  # virtual address space reserved; the file grows as needed
_DATABASES = (b"meta", b"keyspaces", b"files", b"wal", b"stats", b"user")


def encode_file_meta(meta: FileMeta) -> bytes:
    return b"".join(
        (
            FILE_META.pack(
                meta.level,
                meta.file_size,
                meta.entry_count,
                meta.tombstone_count,
                meta.raw_key_bytes,
                meta.raw_value_bytes,
                meta.min_seqno,
                meta.max_seqno,
                meta.min_commit_ts_us,
                meta.max_commit_ts_us,
                meta.block_count,
            ),
            U32.pack(len(meta.smallest)),
            meta.smallest,
            U32.pack(len(meta.largest)),
            meta.largest,
        )
    )


def decode_file_meta(number: int, data: bytes) -> FileMeta:
    fields = FILE_META.unpack_from(data, 0)
    pos = FILE_META.size
    (n,) = U32.unpack_from(data, pos)
    smallest = bytes(data[pos + 4 : pos + 4 + n])
    pos += 4 + n
    (n,) = U32.unpack_from(data, pos)
    largest = bytes(data[pos + 4 : pos + 4 + n])
    return FileMeta(number, *fields, smallest=smallest, largest=largest)


@dataclass
class CatalogEdit:
    """One atomic change to the catalog."""

    add_files: list[tuple[int, FileMeta]] = field(default_factory=list)
    remove_files: list[tuple[int, int]] = field(default_factory=list)  # (ksid, number)
    add_segments: list[int] = field(default_factory=list)
    remove_segments: list[int] = field(default_factory=list)
    add_keyspaces: dict[str, int] = field(default_factory=dict)
    drop_keyspaces: list[str] = field(default_factory=list)
    meta: dict[str, int] = field(default_factory=dict)  # set
    stat_deltas: dict[str, int] = field(default_factory=dict)  # add
    user_puts: dict[bytes, bytes | None] = field(default_factory=dict)  # None deletes


@dataclass
class CatalogState:
    meta: dict[str, int]
    keyspaces: dict[str, int]
    files: dict[int, list[FileMeta]]  # ksid -> files
    segments: list[int]
    stats: dict[str, int]


class Catalog:
    """The LMDB environment under `<store>/catalog/`."""

    def __init__(self, path: str, *, readonly: bool = False) -> None:
        self.path = path
        self.env = lmdb.open(
            path,
            map_size=MAP_SIZE_BYTES,
            max_dbs=len(_DATABASES),
            readonly=readonly,
            lock=not readonly,
            subdir=True,
            create=not readonly,
        )
        if readonly:
            self.dbs = {name: self.env.open_db(name, create=False) for name in _DATABASES}
        else:
            self.dbs = {name: self.env.open_db(name) for name in _DATABASES}
        with self.env.begin(write=not readonly) as txn:
            raw = txn.get(b"format_version", db=self.dbs[b"meta"])
            if raw is None and not readonly:
                txn.put(b"format_version", U64.pack(CATALOG_FORMAT_VERSION), db=self.dbs[b"meta"])
            elif raw is not None:
                (version,) = U64.unpack(raw)
                if version > CATALOG_FORMAT_VERSION:
                    raise FormatVersionError(path, version, CATALOG_FORMAT_VERSION)

    def load(self) -> CatalogState:
        """Read the whole description."""
        state = CatalogState({}, {}, {}, [], {})
        with self.env.begin() as txn:
            for k, v in txn.cursor(db=self.dbs[b"meta"]):
                state.meta[k.decode()] = U64.unpack(v)[0]
            for k, v in txn.cursor(db=self.dbs[b"keyspaces"]):
                state.keyspaces[k.decode()] = U32.unpack(v)[0]
            for k, v in txn.cursor(db=self.dbs[b"files"]):
                try:
                    ksid, number = FILE_KEY.unpack(k)
                    meta = decode_file_meta(number, v)
                except Exception as exc:
                    raise CorruptionError(self.path, 0, f"a decodable files entry ({exc})") from exc
                state.files.setdefault(ksid, []).append(meta)
            for k, _ in txn.cursor(db=self.dbs[b"wal"]):
                state.segments.append(SEGMENT_KEY.unpack(k)[0])
            for k, v in txn.cursor(db=self.dbs[b"stats"]):
                state.stats[k.decode()] = U64.unpack(v)[0]
        return state

    def apply(self, edit: CatalogEdit) -> None:
        """Install `edit` in one write transaction (durable when this returns)."""
        dbs = self.dbs
        with self.env.begin(write=True) as txn:
            for name, ksid in edit.add_keyspaces.items():
                txn.put(name.encode(), U32.pack(ksid), db=dbs[b"keyspaces"])
            for name in edit.drop_keyspaces:
                txn.delete(name.encode(), db=dbs[b"keyspaces"])
            for ksid, number in edit.remove_files:
                txn.delete(FILE_KEY.pack(ksid, number), db=dbs[b"files"])
            for ksid, meta in edit.add_files:
                txn.put(FILE_KEY.pack(ksid, meta.number), encode_file_meta(meta), db=dbs[b"files"])
            for number in edit.add_segments:
                txn.put(SEGMENT_KEY.pack(number), b"", db=dbs[b"wal"])
            for number in edit.remove_segments:
                txn.delete(SEGMENT_KEY.pack(number), db=dbs[b"wal"])
            for name, value in edit.meta.items():
                txn.put(name.encode(), U64.pack(value), db=dbs[b"meta"])
            for name, delta in edit.stat_deltas.items():
                old = txn.get(name.encode(), db=dbs[b"stats"])
                total = (U64.unpack(old)[0] if old else 0) + delta
                txn.put(name.encode(), U64.pack(total), db=dbs[b"stats"])
            for key, value in edit.user_puts.items():
                if value is None:
                    txn.delete(key, db=dbs[b"user"])
                else:
                    txn.put(key, value, db=dbs[b"user"])

    def user_get(self, key: bytes) -> bytes | None:
        with self.env.begin() as txn:
            return txn.get(key, db=self.dbs[b"user"])

    def user_items(self, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        with self.env.begin() as txn:
            cursor = txn.cursor(db=self.dbs[b"user"])
            out = []
            if cursor.set_range(prefix):
                for k, v in cursor:
                    if not k.startswith(prefix):
                        break
                    out.append((bytes(k), bytes(v)))
            return out

    def copy_to(self, path: str) -> None:
        """A consistent copy of the environment into the empty directory `path`."""
        self.env.copy(path)

    def close(self) -> None:
        self.env.close()
