/* Scans in C: the (key, value) rows of a memtable range and of an SSTable block's
 * entries, built without a Python step per row. The pure-Python twins are
 * engine/storage/memtable.py Memtable.py_iter_visible and engine/storage/chunks.py
 * py_block_rows and py_merged_rows. */
#ifndef SHALE_SCANROWS_H
#define SHALE_SCANROWS_H

/* CPython entry points: returns a new reference to the tuple (visible_rows, block_rows,
 * merged_rows)
 * of CPython functions, as a void pointer because cffi declarations cannot name
 * PyObject. Called once at import; takes the GIL itself.
 *   visible_rows(keys, data, seqno, start) -> (rows, stop): for keys[start:], in order,
 *       the (key, value) of each key whose newest entry in the memtable dict `data`
 *       (key -> trailer u64 LE | value) is visible at `seqno` (trailer >> 8 <= seqno),
 *       skipping tombstones (kind byte 0). Stops at the first key whose newest entry is
 *       not visible and returns its index as `stop` (an older version may be: the
 *       caller resolves it), else len(keys). KeyError if a key is not in `data`.
 *   block_rows(raw, lo, hi, reverse) -> list of (key, value): entries [lo, hi) of the
 *       decompressed data block `raw` (docs/FORMAT.md "Data block"), descending when
 *       `reverse`, every version as stored. ValueError if the block is malformed.
 *   merged_rows(views, runs, idxs) -> list of (key, value): the rows a merge step
 *       chose, entry idxs[j] of run runs[j], from `views` (one per run, or None):
 *       (buf, keys_at, offs_at, values_at, voffs_at, values) with u32 key offsets at
 *       buf[offs_at:] relative to keys_at; values a list indexed like the entries, or
 *       None when u32 value offsets lie at buf[voffs_at:] relative to values_at.
 *       ValueError for an entry outside its view. */
void *shale_scan_functions(void);

#endif
