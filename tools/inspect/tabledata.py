"""Tables as shale-inspect sees them: definitions from the catalog, items read from the
files, DynamoDB values rendered for people and for JSON.

Definitions are the catalog's user entries `table/<name>` (docs/FORMAT.md, "Table base
value"), decoded by engine.table's own decoder. A definition written by a newer ShaleDB may
carry fields this version does not know: it is decoded without them (and the fields are
named in `TableInfo.problem`), and the raw JSON is kept, so the tool still shows the table
and reads its items. Indexes are read from the raw JSON in either shape a definition has
had (`indexes` with keyspaces, or the older wire-shaped `global_indexes`/`local_indexes`).

Items are read as of the last durable state without opening the store (which would take
the LOCK and replay the WAL into new files): a keyspace's entries are the merge of its
SSTables as the catalog lists them and the WAL records the next open would replay (in a
segment the catalog lists, seqno above the last seqno in an SSTable), the newest version of
each key winning and tombstones hiding older versions. `KeyspaceView` does that merge.

Thread-safety: a KeyspaceView belongs to one thread; the functions are pure.
"""

from __future__ import annotations

import base64
import dataclasses
import heapq
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.storage.errors import StorageError
from engine.storage.format import KIND_VALUE
from engine.storage.sstable import SSTableReader
from engine.storage.version import KeyspaceLevels
from engine.table import TableDef, decode_value, key_of
from engine.table.schema import CATALOG_PREFIX, decode_table_def
from tools.inspect.datadir import DataDir

MAX_SEQNO = (1 << 56) - 1


@dataclass
class IndexInfo:
    name: str
    kind: str  # GSI | LSI
    hash_keys: list[str]
    range_keys: list[str]
    projection: str
    keyspace: str | None
    status: str | None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TableInfo:
    name: str
    raw: dict  # the definition as stored
    defn: TableDef | None  # None when it cannot be decoded at all
    problem: str | None  # why decoding needed help, or failed
    indexes: list[IndexInfo] = field(default_factory=list)

    @property
    def keyspace(self) -> str | None:
        return self.raw.get("keyspace")

    @property
    def key_schema(self) -> list[tuple[str, str, str]]:
        """(attribute name, HASH|RANGE, S|N|B) of the table's primary key."""
        attrs = self.raw.get("attributes") or {}
        out = [(self.raw.get("hash_key", "?"), "HASH", attrs.get(self.raw.get("hash_key"), "?"))]
        if self.raw.get("range_key"):
            out.append((self.raw["range_key"], "RANGE", attrs.get(self.raw["range_key"], "?")))
        return out

    def key_text(self) -> str:
        return ", ".join(f"{name} {kind} {t}" for name, kind, t in self.key_schema)


def decode_definition(value: bytes) -> tuple[dict, TableDef | None, str | None]:
    """(raw JSON, TableDef or None, problem) of one catalog `table/` entry."""
    try:
        raw = json.loads(value)
    except ValueError as exc:
        return {}, None, f"definition is not JSON: {exc}"
    try:
        return raw, decode_table_def(value), None
    except (TypeError, KeyError, ValueError) as exc:
        known = {f.name for f in dataclasses.fields(TableDef)}
        unknown = sorted(set(raw) - known)
        trimmed = {k: v for k, v in raw.items() if k in known}
        try:
            defn = decode_table_def(json.dumps(trimmed).encode())
        except (TypeError, KeyError, ValueError):
            return raw, None, f"definition not decodable by this version: {exc}"
        return raw, defn, f"fields unknown to this version ignored: {', '.join(unknown)}"


def _indexes(raw: dict) -> list[IndexInfo]:
    out = []
    for ix in raw.get("indexes") or ():
        out.append(
            IndexInfo(
                name=ix.get("name", "?"),
                kind="GSI" if ix.get("is_global") else "LSI",
                hash_keys=list(ix.get("hash_keys") or ()),
                range_keys=list(ix.get("range_keys") or ()),
                projection=ix.get("projection", "?"),
                keyspace=ix.get("keyspace") or None,
                status=ix.get("status"),
            )
        )
    for field_name, kind in (("global_indexes", "GSI"), ("local_indexes", "LSI")):
        for ix in raw.get(field_name) or ():
            schema = ix.get("KeySchema") or ()
            out.append(
                IndexInfo(
                    name=ix.get("IndexName", "?"),
                    kind=kind,
                    hash_keys=[k["AttributeName"] for k in schema if k.get("KeyType") == "HASH"],
                    range_keys=[k["AttributeName"] for k in schema if k.get("KeyType") == "RANGE"],
                    projection=(ix.get("Projection") or {}).get("ProjectionType", "?"),
                    keyspace=None,
                    status=ix.get("IndexStatus"),
                )
            )
    return out


def load_tables(dd: DataDir) -> list[TableInfo]:
    """Every table the catalog defines, by name."""
    out = []
    for key, value in dd.user_items(CATALOG_PREFIX):
        raw, defn, problem = decode_definition(value)
        name = raw.get("name") or key[len(CATALOG_PREFIX) :].decode(errors="replace")
        out.append(TableInfo(name, raw, defn, problem, _indexes(raw)))
    return out


def find_table(dd: DataDir, name: str) -> TableInfo | None:
    return next((t for t in load_tables(dd) if t.name == name), None)


@dataclass
class Owner:
    """Which table (and index) a keyspace belongs to."""

    table: TableInfo
    index: IndexInfo | None

    @property
    def role(self) -> str:
        return "base" if self.index is None else f"index {self.index.name}"


def keyspace_owners(tables: list[TableInfo]) -> dict[str, Owner]:
    out = {}
    for t in tables:
        if t.keyspace:
            out[t.keyspace] = Owner(t, None)
        for ix in t.indexes:
            if ix.keyspace:
                out[ix.keyspace] = Owner(t, ix)
    return out


# ------------------------------------------------------------------ decoding entries


def decode_entry(owner: Owner, key: bytes, value: bytes | None) -> dict:
    """What an entry of a table's keyspace means: `item_key` (the item's key attributes,
    wire-shaped) and, for a value, `item` and `size_bytes`. A base keyspace key decodes
    alone; an index entry's key attributes are read from its (projected) item. Fields that
    cannot be decoded are left out and `decode_error` says why."""
    out: dict = {}
    defn = owner.table.defn
    try:
        if owner.index is None and defn is not None:
            out["item_key"] = to_wire(key_of(defn, key))
        if value is not None:
            item, size = decode_value(value)
            out["item"] = to_wire(item)
            out["size_bytes"] = size
            if "item_key" not in out:
                names = [n for n, _, _ in owner.table.key_schema]
                if owner.index is not None:
                    names = [*owner.index.hash_keys, *owner.index.range_keys, *names]
                out["item_key"] = {n: out["item"][n] for n in dict.fromkeys(names) if n in item}
    except Exception as exc:  # a damaged or foreign value: show the bytes instead
        out["decode_error"] = f"{type(exc).__name__}: {exc}"
    return out


# ------------------------------------------------------------------ values


def to_wire(value: object) -> object:
    """An item or AttributeValue as DynamoDB JSON (B and BS in base64)."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def compact_value(av: dict) -> str:
    """One wire-shaped AttributeValue for people: `"text"`, `42`, `b64:AAEC`, `true`,
    `null`, `{"a", "b"}` for sets, `[...]` and `{name: ...}`."""
    ((tag, v),) = av.items()
    if tag == "S":
        return json.dumps(v, ensure_ascii=False)
    if tag == "N":
        return v
    if tag == "B":
        return f"b64:{v}"
    if tag == "BOOL":
        return "true" if v else "false"
    if tag == "NULL":
        return "null"
    if tag in ("SS", "NS", "BS"):
        inner = {"SS": "S", "NS": "N", "BS": "B"}[tag]
        return "{" + ", ".join(compact_value({inner: m}) for m in v) + "}"
    if tag == "L":
        return "[" + ", ".join(compact_value(m) for m in v) + "]"
    if tag == "M":
        return "{" + ", ".join(f"{k}: {compact_value(m)}" for k, m in v.items()) + "}"
    return json.dumps(av)


def compact_item(item: dict, *, skip: tuple[str, ...] = ()) -> str:
    """`name=value` pairs of a wire-shaped item, attributes in name order."""
    return " ".join(f"{k}={compact_value(v)}" for k, v in sorted(item.items()) if k not in skip)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ------------------------------------------------------------------ reading


@dataclass
class Entry:
    key: bytes
    seqno: int
    value: bytes | None  # None: a tombstone
    source: str  # `WAL 000033.wal` or `000012.sst L1`


class KeyspaceView:
    """One keyspace's entries as the next open would see them (module essay). Opens
    SSTables read-only and lazily; `close()` closes them. Raises StorageError from a
    damaged block as it is read."""

    def __init__(self, dd: DataDir, keyspace: str) -> None:
        self.dd = dd
        self.ksid = dd.state.keyspaces[keyspace]
        self.levels = KeyspaceLevels.build(dd.state.files.get(self.ksid, []))
        self._readers: dict[int, SSTableReader] = {}
        last = dd.last_seqno_in_sstables
        overlay: dict[bytes, Entry] = {}
        for segment in dd.segments:
            if not segment.is_in_catalog:
                continue
            source = f"WAL {os.path.basename(segment.path)}"
            for record in segment.records:
                if record.seqno <= last:
                    continue
                for _kind, ksid, key, value in record.ops:
                    if ksid == self.ksid:
                        k = bytes(key)
                        v = bytes(value) if value is not None else None
                        overlay[k] = Entry(k, record.seqno, v, source)
        self.overlay = overlay  # the newest unflushed version of each key

    def _reader(self, number: int) -> SSTableReader:
        reader = self._readers.get(number)
        if reader is None:
            reader = self._readers[number] = SSTableReader(self.dd.sst_path(number), number, None)
        return reader

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def get(self, key: bytes) -> Entry | None:
        """The newest version of `key` (a tombstone included), or None if none exists."""
        if key in self.overlay:
            return self.overlay[key]
        candidates = list(self.levels.levels[0])
        for level in range(1, len(self.levels.levels)):
            meta = self.levels.file_for_key(level, key)
            if meta is not None:
                candidates.append(meta)
        for meta in candidates:
            if not meta.smallest <= key <= meta.largest:
                continue
            found, value = self._reader(meta.number).get(key, MAX_SEQNO)
            if found:
                seqno = self._seqno_of(meta.number, key)
                return Entry(key, seqno, bytes(value) if value is not None else None, _src(meta))
        return None

    def _seqno_of(self, number: int, key: bytes) -> int:
        reader = self._reader(number)
        block = reader.block(reader.seek_block(key, False))
        i = block.lower_bound(key)
        return block.trailers[i] >> 8 if i < block.count and block.key(i) == key else 0

    def _iter_file(self, meta) -> Iterator[Entry]:
        reader = self._reader(meta.number)
        source = _src(meta)
        for i in range(reader.block_count):
            block = reader.block(i)
            trailers = block.trailers
            for j in range(block.count):
                kind = trailers[j] & 0xFF
                yield Entry(
                    bytes(block.key(j)),
                    trailers[j] >> 8,
                    bytes(block.value(j)) if kind == KIND_VALUE else None,
                    source,
                )

    def iter_newest(self) -> Iterator[Entry]:
        """The newest version of every key, in key order (tombstones included)."""
        sources = [iter(sorted(self.overlay.values(), key=lambda e: e.key))]
        sources += [self._iter_file(m) for m in self.levels.all_files()]
        last_key = None
        for entry in heapq.merge(*sources, key=lambda e: (e.key, -e.seqno)):
            if entry.key != last_key:
                last_key = entry.key
                yield entry

    def iter_live(self) -> Iterator[Entry]:
        """Every live key's newest value, in key order."""
        return (e for e in self.iter_newest() if e.value is not None)


def _src(meta) -> str:
    return f"{meta.number:06d}.sst L{meta.level}"


def count_live(view: KeyspaceView) -> tuple[int, int, str | None]:
    """(live entries, sum of their DynamoDB sizes, error) of a table keyspace."""
    count = 0
    size = 0
    try:
        for entry in view.iter_live():
            count += 1
            if entry.value is not None and len(entry.value) >= 4:
                size += int.from_bytes(entry.value[:4], "little")
    except (StorageError, OSError) as exc:  # damaged, or a file gone missing
        return count, size, str(exc)
    return count, size, None
