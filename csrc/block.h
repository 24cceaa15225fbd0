/* Point lookup inside one decompressed SSTable data block (docs/FORMAT.md "Data block").
 * The pure-Python twin is engine/codec/block.py. */
#ifndef SHALE_BLOCK_H
#define SHALE_BLOCK_H

#include <stdint.h>

/* Find the newest version of `key` with seqno <= `seqno` in the block.
 * Returns -1 when the block holds no such version (look further down the tree),
 * -2 when the block is malformed, else (value_offset << 32) | (value_length << 1) | is_value,
 * value_offset being absolute within the block. */
int64_t shale_block_get(const uint8_t *block, uint64_t block_len, const uint8_t *key,
                        uint32_t keylen, uint64_t seqno);

/* Bloom probe in one call: hash `key` (64-bit FNV-1a) and test the k probes of the
 * filter `filter` (bit array followed by k as its last byte; docs/FORMAT.md "Bloom
 * block"). Returns 0 when the key is certainly absent, 1 when it may be present
 * (also for filters shorter than 2 bytes, which rule nothing out). */
int shale_bloom_check(const uint8_t *filter, uint64_t filter_len, const uint8_t *key,
                      uint32_t keylen);

#endif
