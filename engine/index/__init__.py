"""engine.index: secondary indexes (GSIs and LSIs) kept in their tables' write batches.

Public surface:
- Indexes(tables): attaches index maintenance to every table with indexes, creates GSIs
  online (backfill) and deletes them; counters per index.
- IndexHook: the engine.table.WriteHook that maintains one table's indexes.
- entry_key / encode_entry / project_entry / projected_names / partition_prefix /
  check_index_keys: the entry layout (docs/FORMAT.md, "Index entry") and DynamoDB's
  index key checks.
"""

from engine.index.entries import (
    check_index_keys,
    encode_entry,
    entry_key,
    partition_prefix,
    project_entry,
    projected_names,
)
from engine.index.hook import IndexHook
from engine.index.manager import BACKFILL_CHUNK, Indexes

__all__ = [
    "BACKFILL_CHUNK",
    "IndexHook",
    "Indexes",
    "check_index_keys",
    "encode_entry",
    "entry_key",
    "partition_prefix",
    "project_entry",
    "projected_names",
]
