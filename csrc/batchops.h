/* Write batches in C (docs/FORMAT.md "Write batch"): a batch's WAL body and its
 * application to the active memtables, each in one call. The pure-Python twins are
 * engine/storage/batch.py encode_ops and engine/storage/memtable.py
 * MemtableGeneration.py_apply. */
#ifndef SHALE_BATCHOPS_H
#define SHALE_BATCHOPS_H

/* CPython entry points: returns a new reference to the tuple (encode_batch, apply_ops)
 * of CPython functions, as a void pointer because cffi declarations cannot name
 * PyObject. Called once at import; takes the GIL itself.
 *   encode_batch(ops, ksids) -> (op list, body, user bytes), or None when a keyspace of
 *       the batch is not in ksids. ops is a WriteBatch's dict (keyspace, key) -> value
 *       or None; ksids maps keyspace names to ids. The op list holds (kind, keyspace id,
 *       key, value or None) in batch order and body is their WAL encoding; user bytes
 *       is the sum of key and value lengths.
 *   apply_ops(generation, seqno, ops) -> int: adds every op of a list or tuple of
 *       (kind, keyspace id, key, value or None) at seqno to a MemtableGeneration's
 *       memtables (creating one through generation.table(ksid) when missing); returns
 *       the bytes they add to its size for the flush trigger. The caller updates the
 *       generation's size and seqno fields. */
void *shale_batch_functions(void);

#endif
