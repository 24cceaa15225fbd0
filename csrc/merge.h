/* k-way merge of sorted runs with version resolution, bloom filters and block
 * search: the hot loops under engine/storage. Semantics are specified in
 * engine/codec/merge.py (the pure-Python twin, which is the oracle in tests). */
#ifndef SHALE_MERGE_H
#define SHALE_MERGE_H

#include <stdint.h>

/* One run as the merge sees it: a chunk of a sorted source (memtable, SSTable
 * block, ...). Entries are ordered by user key ascending, then seqno descending,
 * and a chunk never splits the versions of one user key (group-aligned).
 *   keys:     key bytes area; key i is keys[offs[i] .. offs[i+1])
 *   offs:     count+1 u32 offsets into keys (little-endian, read with memcpy)
 *   trailers: count u64, seqno << 8 | kind (kind 0 = tombstone, 1 = value)
 *   lo, hi:   the usable index range [lo, hi)
 *   next:     next index to consume; forward: lo..hi-1 upward (exhausted when
 *             next >= hi); reverse: hi-1..lo downward (exhausted when next < lo)
 *   finished: 1 when no further chunk follows this one in the source */
typedef struct {
    const uint8_t *keys;
    const uint8_t *offs;
    const uint8_t *trailers;
    int64_t lo;
    int64_t hi;
    int64_t next;
    int32_t finished;
} shale_run;

/* Status codes of shale_merge_step. */
#define SHALE_MERGE_DONE 0
#define SHALE_MERGE_NEED_REFILL 1
#define SHALE_MERGE_OUT_FULL 2

/* Modes. */
#define SHALE_MERGE_READ 0
#define SHALE_MERGE_COMPACT 1

int shale_merge_step(shale_run *runs, uint32_t nruns, int32_t reverse, int32_t mode,
                     const uint64_t *snapshots, uint32_t nsnapshots, int32_t drop_tombstones,
                     uint32_t *out_run, int64_t *out_idx, uint32_t out_cap, uint32_t *out_n,
                     uint32_t *refill_run);

int64_t shale_lower_bound(const uint8_t *keys, const uint8_t *offs, int64_t lo, int64_t hi,
                          const uint8_t *key, uint32_t keylen);

uint64_t shale_bloom_hash(const uint8_t *key, uint32_t keylen);
void shale_bloom_add(uint8_t *bits, uint64_t nbits, uint32_t k, uint64_t hash);
int shale_bloom_may_contain(const uint8_t *bits, uint64_t nbits, uint32_t k, uint64_t hash);
void shale_bloom_build(uint8_t *bits, uint64_t nbits, uint32_t k, const uint8_t *keys,
                       const uint8_t *offs, uint64_t count);

#endif
