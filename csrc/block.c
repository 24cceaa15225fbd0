/* Point lookup in a decompressed data block, read in place.
 *
 * data := count u32 | flags u32 | key_offs[count+1] u32 | value_offs[count+1] u32 |
 *         trailers[count] u64 | key area | value area
 * Entries sort by key ascending then seqno descending; all versions of a key are in
 * one block. Every offset is bounds-checked against block_len, so a malformed block
 * (one that passed its CRC but was written wrongly) yields -2, never a wild read. */
#include <string.h>

#include "block.h"
#include "shale_bytes.h"
#include "merge.h"

int64_t shale_block_get(const uint8_t *block, uint64_t block_len, const uint8_t *key,
                        uint32_t keylen, uint64_t seqno) {
    if (block_len < 8) return -2;
    uint64_t count = load_u32(block);
    uint64_t koffs_at = 8;
    uint64_t voffs_at = koffs_at + 4 * (count + 1);
    uint64_t trailers_at = voffs_at + 4 * (count + 1);
    uint64_t keys_at = trailers_at + 8 * count;
    if (keys_at > block_len) return -2;
    uint64_t key_area = load_u32(block + koffs_at + 4 * count);
    uint64_t values_at = keys_at + key_area;
    if (values_at > block_len) return -2;
    const uint8_t *koffs = block + koffs_at;

    /* lower bound */
    uint64_t lo = 0, hi = count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint32_t a = load_u32(koffs + 4 * mid), b = load_u32(koffs + 4 * mid + 4);
        if (b < a || b > key_area) return -2;
        if (key_cmp(block + keys_at + a, b - a, key, keylen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (uint64_t i = lo; i < count; i++) {
        uint32_t a = load_u32(koffs + 4 * i), b = load_u32(koffs + 4 * i + 4);
        if (b < a || b > key_area) return -2;
        if (key_cmp(block + keys_at + a, b - a, key, keylen) != 0) return -1;
        uint64_t trailer = load_u64(block + trailers_at + 8 * i);
        if ((trailer >> 8) > seqno) continue;
        uint32_t va = load_u32(block + voffs_at + 4 * i), vb = load_u32(block + voffs_at + 4 * i + 4);
        uint64_t vstart = values_at + va;
        if (vb < va || values_at + vb > block_len || vstart >= (1ULL << 31) ||
            (uint64_t)(vb - va) >= (1ULL << 30))
            return -2;
        return (int64_t)((vstart << 32) | ((uint64_t)(vb - va) << 1) | ((trailer & 0xFF) ? 1 : 0));
    }
    return -1;
}

int shale_bloom_check(const uint8_t *filter, uint64_t filter_len, const uint8_t *key,
                      uint32_t keylen) {
    if (filter_len < 2) return 1;
    return shale_bloom_may_contain(filter, (filter_len - 1) << 3, filter[filter_len - 1],
                                   shale_bloom_hash(key, keylen));
}
