"""The set of tables of one store: create, look up, change, delete.

A table is a catalog entry (``table/<name>`` -> its TableDef as JSON) plus a base keyspace
named ``table.<table id>``. Both appear in one catalog transaction
(``Store.catalog_put(create_keyspaces=...)``), so a crash leaves a table whole or absent.
The keyspace is named by a fresh id rather than the table name, so a table deleted and
created again under the same name never sees the old keyspace. Each secondary index has a
keyspace ``index.<index id>`` created in the same transaction as the definition naming it.
DeleteTable removes the definition first and then drops the keyspaces; a crash in between
leaves unreferenced keyspaces, which cost space and nothing else.

Thread-safety: every method may be called from any thread; a registry lock orders
definition changes, and readers see a TableDef or Table as a whole.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from engine.errors import ResourceInUseException
from engine.storage import Store
from engine.table.locks import KeyLocks
from engine.table.schema import (
    CATALOG_PREFIX,
    IndexDef,
    TableDef,
    decode_table_def,
    encode_table_def,
)
from engine.table.table import Table

__all__ = ["Tables", "with_keyspace"]


def with_keyspace(ix: IndexDef) -> IndexDef:
    """``ix`` with a fresh id and keyspace (``index.<id>``) if it has none yet."""
    if ix.keyspace:
        return ix
    index_id = uuid.uuid4().hex
    return ix.replace(index_id=index_id, keyspace=f"index.{index_id}")


class Tables:
    """Every table of one store, loaded from the catalog at construction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.locks = KeyLocks()
        self._mutex = threading.Lock()
        self._tables: dict[str, Table] = {}
        for _, value in store.catalog_items(CATALOG_PREFIX):
            d = decode_table_def(value)
            self._tables[d.name] = Table(store, d, self.locks)

    def get(self, name: str) -> Table | None:
        return self._tables.get(name)

    def names(self) -> list[str]:
        return sorted(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def create(self, defn: TableDef) -> Table:
        """Create a table from ``defn`` (its table_id, keyspace and created_s are assigned
        here). Raises ResourceInUseException if the name is taken."""
        with self._mutex:
            if defn.name in self._tables:
                raise ResourceInUseException(f"Table already exists: {defn.name}")
            table_id = uuid.uuid4().hex
            d = defn.replace(
                table_id=table_id,
                keyspace=f"table.{table_id}",
                created_s=time.time(),
                indexes=tuple(with_keyspace(ix) for ix in defn.indexes),
            )
            self.store.catalog_put(
                {CATALOG_PREFIX + d.name.encode(): encode_table_def(d)},
                create_keyspaces=(d.keyspace, *(ix.keyspace for ix in d.indexes)),
            )
            table = self._tables[d.name] = Table(self.store, d, self.locks)
            return table

    def change(
        self,
        name: str,
        edit: Callable[[TableDef], TableDef],
        *,
        create_keyspaces: tuple[str, ...] = (),
    ) -> TableDef:
        """Durably replace table ``name``'s definition by ``edit(current)``, reading and
        writing under the registry lock so concurrent changes (UpdateTable, a backfill
        finishing) never lose one another. Raises KeyError if there is no such table."""
        with self._mutex:
            table = self._tables[name]
            defn = edit(table.defn)
            assert defn.keyspace == table.defn.keyspace
            self.store.catalog_put(
                {CATALOG_PREFIX + name.encode(): encode_table_def(defn)},
                create_keyspaces=create_keyspaces,
            )
            table.defn = defn
            return defn

    def delete(self, name: str) -> Table | None:
        """Remove a table and its items; None if there is no such table."""
        with self._mutex:
            table = self._tables.pop(name, None)
            if table is None:
                return None
            self.store.catalog_put({CATALOG_PREFIX + name.encode(): None})
            self.store.drop_keyspace(table.keyspace)
            for ix in table.defn.indexes:
                self.store.drop_keyspace(ix.keyspace)
            return table

    def _check(self) -> None:
        live = set(self.store.list_keyspaces())
        for name, table in self._tables.items():
            assert table.defn.name == name
            assert table.keyspace in live, f"table {name} lost its keyspace"
            for ix in table.defn.indexes:
                assert ix.keyspace in live, f"index {name}/{ix.name} lost its keyspace"
