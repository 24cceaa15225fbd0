/* Small inline helpers shared by the C sources: unaligned little-endian loads and the
 * bytewise key order of docs/FORMAT.md "Internal key" (a proper prefix sorts first). */
#ifndef SHALE_BYTES_H
#define SHALE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t load_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Bytewise order, a proper prefix sorting first (memcmp then shorter-first). */
static inline int key_cmp(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen) {
    uint32_t n = alen < blen ? alen : blen;
    while (n >= 8) {
        uint64_t x = __builtin_bswap64(load_u64(a));
        uint64_t y = __builtin_bswap64(load_u64(b));
        if (x != y) return x < y ? -1 : 1;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n > 0) {
        if (*a != *b) return *a < *b ? -1 : 1;
        a++;
        b++;
        n--;
    }
    return (alen > blen) - (alen < blen);
}

static inline int key_eq(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

#endif
