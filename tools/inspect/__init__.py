"""shale-inspect: look into a ShaleDB data directory that is not running, read-only.

    shale-inspect DATA_DIR summary             # tables, keyspaces, levels, WAL, recovery?
    shale-inspect DATA_DIR tables              # every table with its item count
    shale-inspect DATA_DIR get orders cust-1 42
    shale-inspect DATA_DIR scan orders --limit 20
    shale-inspect DATA_DIR sst 12 --records    # one SSTable, entries decoded as items
    shale-inspect DATA_DIR wal --table orders --since 2024-05-01T14:03:07
    shale-inspect DATA_DIR verify              # every checksum; exit 1 on damage

One module per thing it inspects (Pebble's tool/ layout): summary, tables, table, get,
scan, levels, sst, wal, pitr, backups, verify; a read-only view of the directory
(datadir.py), tables and items read from the files as the next open would see them
(tabledata.py), and the rendering of tables (render.py).
"""

from tools.inspect.cli import main

__all__ = ["main"]
