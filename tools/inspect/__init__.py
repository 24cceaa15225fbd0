"""shale-inspect: look into a ShaleDB data directory that is not running, read-only.

    shale-inspect DATA_DIR summary            # keyspaces, levels, WAL, recovery needed?
    shale-inspect DATA_DIR levels             # every SSTable, level by level
    shale-inspect DATA_DIR sst 12 --records   # one SSTable, block by block, entry by entry
    shale-inspect DATA_DIR wal --since 2024-05-01T14:03:07
    shale-inspect DATA_DIR verify             # every checksum; exit 1 on damage

One module per thing it inspects (summary, levels, sst, wal, verify), a read-only view
of the directory (datadir.py) and the rendering of tables (render.py). The storage level
only so far: table-level commands join as modules when tables exist.
"""

from tools.inspect.cli import main

__all__ = ["main"]
