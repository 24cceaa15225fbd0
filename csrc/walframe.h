/* WAL record framing in C (docs/FORMAT.md "WAL record", "Write batch"): the CRC-32C and
 * the one-put record that every unbatched put writes. The pure-Python twin is
 * engine/storage/wal.py (encode_record, with batch.encode_ops for the body). */
#ifndef SHALE_WALFRAME_H
#define SHALE_WALFRAME_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli) of n bytes continuing from crc (0 to start), as the crc32c
 * package computes it. SSE4.2 instructions when the CPU has them, a table otherwise. */
uint32_t shale_crc32c(uint32_t crc, const uint8_t *p, size_t n);

/* CPython entry points: returns a new reference to the tuple (frame_record, frame_put)
 * of CPython functions, as a void pointer because cffi declarations cannot name
 * PyObject. Called once at import; takes the GIL itself.
 *   frame_record(seqno, commit_ts_us, count, body) -> bytes: one WAL record of a batch
 *   frame_put(seqno, commit_ts_us, keyspace_id, key, value) -> bytes: the record of a
 *       batch holding one put
 * Integers must fit their fields (u64, u64, u32; keyspace id u32): OverflowError
 * otherwise, TypeError for non-bytes. */
void *shale_wal_functions(void);

#endif
