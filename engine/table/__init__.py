"""engine.table: DynamoDB tables on storage keyspaces.

Public surface:
- Tables(store): the registry (create / get / names / change / delete) loaded from the
  catalog; TableDef, the durable definition; Table, one table's items.
- Table.key(key) -> storage key; Table.get(skey); Table.mutate(skey, decide) -> Mutation:
  a read-check-write under the key's lock, committed as one storage batch;
  WriteGroup([(table, skey), ...]): such mutations of several items of one or more tables,
  each its own storage batch, committed together (one WAL write, one fsync).
- WriteHook (Table.add_hook): how secondary indexes and streams check every changing write
  and add their own operations to its storage batch.
- query_range / sort_bounds / segment_range / read_page -> Page: Query and Scan pages
  (1 MiB, Limit), of the base keyspace or of an index keyspace.
- IndexDef: a secondary index's definition (TableDef.indexes); engine.index maintains it.
- transact_write / transact_get with TxnAction, Cancelled and Reason; TokenCache for
  ClientRequestToken idempotency.
- key_of(defn, skey): the key attributes of a storage key; encode_value / decode_value:
  a base keyspace value (size: u32 LE | item codec).
"""

from engine.table.locks import KeyLocks
from engine.table.read import Page, query_range, read_page, segment_range, sort_bounds
from engine.table.registry import Tables, with_keyspace
from engine.table.schema import IndexDef, TableDef, key_of, storage_key
from engine.table.table import (
    Mutation,
    Table,
    WriteGroup,
    WriteHook,
    decode_value,
    encode_value,
    successor,
)
from engine.table.transact import (
    Cancelled,
    Reason,
    TokenCache,
    TxnAction,
    transact_get,
    transact_write,
)

__all__ = [
    "Cancelled",
    "IndexDef",
    "KeyLocks",
    "Mutation",
    "Page",
    "Reason",
    "Table",
    "TableDef",
    "Tables",
    "TokenCache",
    "TxnAction",
    "WriteGroup",
    "WriteHook",
    "decode_value",
    "encode_value",
    "key_of",
    "query_range",
    "read_page",
    "segment_range",
    "sort_bounds",
    "storage_key",
    "successor",
    "transact_get",
    "transact_write",
    "with_keyspace",
]
