"""The rows of a scan built in C (csrc/scanrows.h has the contracts).

``visible_rows`` resolves a run of memtable keys to their visible (key, value) rows,
``block_rows`` cuts an SSTable data block's entries into (key, value) rows and
``merged_rows`` makes the rows a merge step chose, each in one call instead of a Python
step per row. Their pure-Python twins, the oracles of the property tests, are
Memtable.py_iter_visible, chunks.py_block_rows and chunks.py_merged_rows.
"""

from engine._native import lib
from engine.codec.capi import python_functions

__all__ = ["block_rows", "merged_rows", "visible_rows"]

visible_rows, block_rows, merged_rows = python_functions(lib.shale_scan_functions, "scan rows")
