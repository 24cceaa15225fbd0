/* k-way merge of sorted runs with version resolution, bloom filters and block
 * search. The contract is in merge.h; the semantics, including every tie-break,
 * are specified by the pure-Python twin engine/codec/merge.py, which property
 * tests hold this file to.
 *
 * Design notes:
 *  - All state lives in the shale_run array, so shale_merge_step rebuilds its
 *    loser tree of run heads on every call (O(nruns), amortised over out_cap
 *    outputs). The tree costs one key comparison per level per entry, and
 *    20+ runs stay fast.
 *  - Each head caches its key pointer and length, so matches touch no run
 *    memory but the keys; keys compare eight bytes at a time as big-endian words.
 *  - COMPACT mode resolves stripes in place in the output arrays (the capacity
 *    check guarantees nsnapshots + 1 free slots), so no allocation per group.
 *  - The only allocation is the tree itself when nruns exceeds HEAP_STACK_RUNS;
 *    if it fails shale_merge_step returns -1 and changes no run.
 *  - Every u32/u64 array is little-endian and possibly unaligned: memcpy loads. */
#include <stdlib.h>
#include <string.h>

#include "shale_native.h"
#include "shale_bytes.h"

#define HEAP_STACK_RUNS 64
#define NO_RUN UINT32_MAX

static inline const uint8_t *entry_key(const shale_run *run, int64_t i, uint32_t *len) {
    uint32_t start = load_u32(run->offs + 4 * (size_t)i);
    uint32_t end = load_u32(run->offs + 4 * (size_t)i + 4);
    *len = end - start;
    return run->keys + start;
}

static inline uint64_t entry_trailer(const shale_run *run, int64_t i) {
    return load_u64(run->trailers + 8 * (size_t)i);
}

static inline int run_exhausted(const shale_run *run, int32_t reverse) {
    return reverse ? run->next < run->lo : run->next >= run->hi;
}

/* A run's head as the tournament sees it: its current key, or dead when the
 * run is exhausted (dead heads lose to every live one). */
typedef struct {
    const uint8_t *key;
    uint32_t len;
    uint32_t dead;
} head;

/* Whether run a's head goes before run b's: smaller key forward, larger key in
 * reverse; ties (equal keys, or both dead) go to the lower run index so that the
 * tree is deterministic. */
static inline int beats(const head *h, uint32_t a, uint32_t b, int32_t reverse) {
    if (h[a].dead | h[b].dead) return h[b].dead && (!h[a].dead || a < b);
    int c = key_cmp(h[a].key, h[a].len, h[b].key, h[b].len);
    if (c == 0) return a < b;
    return reverse ? c > 0 : c < 0;
}

/* Loser tree over n runs: leaf r sits at position n + r, node i (1 <= i < n)
 * keeps the loser of the match between its subtrees, and tree[0] the overall
 * winner. Replaying a leaf costs one comparison per level, half a binary heap's
 * sift-down. build uses win[0 .. 2n) as scratch. */
static void tree_build(uint32_t *tree, uint32_t *win, const head *h, uint32_t n,
                       int32_t reverse) {
    for (uint32_t r = 0; r < n; r++) win[n + r] = r;
    for (uint32_t i = n; i-- > 1;) {
        uint32_t a = win[2 * i], b = win[2 * i + 1];
        if (beats(h, a, b, reverse)) {
            win[i] = a;
            tree[i] = b;
        } else {
            win[i] = b;
            tree[i] = a;
        }
    }
    tree[0] = n > 1 ? win[1] : 0;
}

static inline void tree_replay(uint32_t *tree, const head *h, uint32_t n, uint32_t r,
                               int32_t reverse) {
    uint32_t winner = r;
    for (uint32_t i = (n + r) >> 1; i >= 1; i >>= 1) {
        if (beats(h, tree[i], winner, reverse)) {
            uint32_t t = tree[i];
            tree[i] = winner;
            winner = t;
        }
    }
    tree[0] = winner;
}

/* Stripe of a seqno: the number of snapshots strictly below it, so stripe j is
 * (s_j, s_{j+1}] with s_0 = -inf and s_{n+1} = +inf. */
static inline uint32_t stripe_of(uint64_t seq, const uint64_t *snaps, uint32_t n) {
    if (n == 0 || seq > snaps[n - 1]) return n;
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (snaps[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether version (seq, r, i) precedes (bseq, br, bi) in the total order
 * seqno descending, then run index ascending, then entry index ascending. */
static inline int version_newer(uint64_t seq, uint32_t r, int64_t i, uint64_t bseq, uint32_t br,
                                int64_t bi) {
    if (seq != bseq) return seq > bseq;
    if (r != br) return r < br;
    return i < bi;
}

int shale_merge_step(shale_run *runs, uint32_t nruns, int32_t reverse, int32_t mode,
                     const uint64_t *snapshots, uint32_t nsnapshots, int32_t drop_tombstones,
                     uint32_t *out_run, int64_t *out_idx, uint32_t out_cap, uint32_t *out_n,
                     uint32_t *refill_run) {
    *out_n = 0;
    *refill_run = NO_RUN;
    for (uint32_t r = 0; r < nruns; r++) {
        if (!runs[r].finished && run_exhausted(&runs[r], reverse)) {
            *refill_run = r;
            return SHALE_MERGE_NEED_REFILL;
        }
    }

    const int compact = mode == SHALE_MERGE_COMPACT;
    const uint64_t needed = compact ? (uint64_t)nsnapshots + 1 : 1;
    const uint64_t read_snapshot = nsnapshots ? snapshots[0] : UINT64_MAX;

    if (nruns == 0) return SHALE_MERGE_DONE;
    head stack_heads[HEAP_STACK_RUNS];
    uint32_t stack_tree[3 * HEAP_STACK_RUNS];
    head *heads = stack_heads;
    uint32_t *tree = stack_tree;
    if (nruns > HEAP_STACK_RUNS) {
        heads = malloc(sizeof(head) * nruns);
        tree = malloc(sizeof(uint32_t) * 3 * (size_t)nruns);
        if (heads == NULL || tree == NULL) {
            free(heads);
            free(tree);
            return -1;
        }
    }
    uint32_t live = 0;
    for (uint32_t r = 0; r < nruns; r++) {
        heads[r].dead = run_exhausted(&runs[r], reverse);
        if (heads[r].dead) continue;
        heads[r].key = entry_key(&runs[r], runs[r].next, &heads[r].len);
        live++;
    }
    tree_build(tree, tree + nruns, heads, nruns, reverse);

    uint32_t produced = 0;
    int status;
    for (;;) {
        if (live == 0) {
            status = SHALE_MERGE_DONE;
            break;
        }
        if ((uint64_t)(out_cap - produced) < needed) {
            status = SHALE_MERGE_OUT_FULL;
            break;
        }
        const uint8_t *k = heads[tree[0]].key;
        const uint32_t klen = heads[tree[0]].len;
        uint32_t refill = NO_RUN;

        /* READ: the best visible version so far. */
        int found = 0;
        uint64_t best_seq = 0, best_trailer = 0;
        uint32_t best_run = 0;
        int64_t best_idx = 0;
        /* COMPACT: slot base + (nsnapshots - stripe) holds the newest version of
         * that stripe, so slots run newest stripe first. */
        const uint32_t base = produced;
        if (compact) {
            for (uint32_t s = 0; s <= nsnapshots; s++) out_run[base + s] = NO_RUN;
        }

        do {
            const uint32_t r = tree[0];
            shale_run *run = &runs[r];
            int64_t i = run->next;
            const int64_t step = reverse ? -1 : 1;
            for (;;) {
                const uint64_t trailer = entry_trailer(run, i);
                const uint64_t seq = trailer >> 8;
                if (!compact) {
                    if (seq <= read_snapshot &&
                        (!found || version_newer(seq, r, i, best_seq, best_run, best_idx))) {
                        found = 1;
                        best_seq = seq;
                        best_trailer = trailer;
                        best_run = r;
                        best_idx = i;
                    }
                } else {
                    const uint32_t slot = base + nsnapshots - stripe_of(seq, snapshots, nsnapshots);
                    const uint32_t sr = out_run[slot];
                    if (sr == NO_RUN ||
                        version_newer(seq, r, i, entry_trailer(&runs[sr], out_idx[slot]) >> 8, sr,
                                      out_idx[slot])) {
                        out_run[slot] = r;
                        out_idx[slot] = i;
                    }
                }
                i += step;
                if (reverse ? i < run->lo : i >= run->hi) break;
                uint32_t len;
                const uint8_t *key = entry_key(run, i, &len);
                if (!key_eq(key, len, k, klen)) break;
            }
            run->next = i;
            if (run_exhausted(run, reverse)) {
                if (!run->finished && r < refill) refill = r;
                heads[r].dead = 1;
                live--;
            } else {
                heads[r].key = entry_key(run, i, &heads[r].len);
            }
            tree_replay(tree, heads, nruns, r, reverse);
        } while (live > 0 && key_eq(heads[tree[0]].key, heads[tree[0]].len, k, klen));

        if (!compact) {
            if (found && (best_trailer & 0xff) == 1) {
                out_run[produced] = best_run;
                out_idx[produced] = best_idx;
                produced++;
            }
        } else {
            uint32_t w = base;
            for (uint32_t s = base; s <= base + nsnapshots; s++) {
                if (out_run[s] == NO_RUN) continue;
                out_run[w] = out_run[s];
                out_idx[w] = out_idx[s];
                w++;
            }
            if (drop_tombstones) {
                while (w > base && (entry_trailer(&runs[out_run[w - 1]], out_idx[w - 1]) & 0xff) == 0)
                    w--;
            }
            produced = w;
        }

        if (refill != NO_RUN) {
            *refill_run = refill;
            status = SHALE_MERGE_NEED_REFILL;
            break;
        }
    }
    *out_n = produced;
    if (heads != stack_heads) {
        free(heads);
        free(tree);
    }
    return status;
}

int64_t shale_lower_bound(const uint8_t *keys, const uint8_t *offs, int64_t lo, int64_t hi,
                          const uint8_t *key, uint32_t keylen) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        uint32_t start = load_u32(offs + 4 * (size_t)mid);
        uint32_t end = load_u32(offs + 4 * (size_t)mid + 4);
        if (key_cmp(keys + start, end - start, key, keylen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t shale_bloom_hash(const uint8_t *key, uint32_t keylen) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint32_t i = 0; i < keylen; i++) {
        h ^= key[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void shale_bloom_add(uint8_t *bits, uint64_t nbits, uint32_t k, uint64_t hash) {
    if (nbits == 0) return;
    const uint64_t h1 = hash & 0xffffffffULL;
    const uint64_t h2 = (hash >> 32) | 1;
    for (uint32_t i = 0; i < k; i++) {
        uint64_t b = (h1 + i * h2) % nbits;
        bits[b >> 3] |= (uint8_t)(1u << (b & 7));
    }
}

int shale_bloom_may_contain(const uint8_t *bits, uint64_t nbits, uint32_t k, uint64_t hash) {
    if (nbits == 0) return 1; /* an empty filter rules nothing out */
    const uint64_t h1 = hash & 0xffffffffULL;
    const uint64_t h2 = (hash >> 32) | 1;
    for (uint32_t i = 0; i < k; i++) {
        uint64_t b = (h1 + i * h2) % nbits;
        if (!(bits[b >> 3] & (1u << (b & 7)))) return 0;
    }
    return 1;
}

void shale_bloom_build(uint8_t *bits, uint64_t nbits, uint32_t k, const uint8_t *keys,
                       const uint8_t *offs, uint64_t count) {
    for (uint64_t i = 0; i < count; i++) {
        uint32_t start = load_u32(offs + 4 * i);
        uint32_t end = load_u32(offs + 4 * i + 4);
        shale_bloom_add(bits, nbits, k, shale_bloom_hash(keys + start, end - start));
    }
}
