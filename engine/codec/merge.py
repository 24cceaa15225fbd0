"""Merge of sorted runs, bloom filters and block search: the pure-Python twin.

This module is the specification of csrc/merge.c. The native code must behave
exactly as written here; property tests drive both with the same inputs and
compare every output. It favours clarity over speed.

Runs. A run is one chunk of a sorted source (memtable, SSTable block, ...) laid
out in a buffer as three areas at byte offsets ``keys_at``, ``offs_at`` and
``trailers_at``:

    keys     := key bytes, concatenated; key i is keys[offs[i] .. offs[i+1])
    offs     := (count + 1) x u32 LE, offsets into keys
    trailers := count x u64 LE, seqno << 8 | kind (kind 0 = tombstone, 1 = value)

Arrays may be unaligned. Entries are ordered by user key ascending (bytewise:
memcmp, then a proper prefix first), then seqno descending. A chunk never splits
the versions of one user key (it is group-aligned), so all versions of a key that
a run holds are in its current chunk. Each run has a usable range [lo, hi), a
cursor ``next`` and a ``finished`` flag (1 when no chunk follows this one).
Forward iteration consumes ``next`` upward from lo to hi-1 (exhausted when
next >= hi); reverse iteration consumes it downward from hi-1 to lo (exhausted
when next < lo). A new merger's runs are empty, unfinished and exhausted, so its
first steps ask for every run to be filled.

One step (``step``) loops over key groups:

 1. If any unfinished run is exhausted, return NEED_REFILL naming the lowest such
    run. The caller loads that run's next chunk, or marks it finished with an
    empty range, and steps again. All state lives in the runs: nothing else
    carries across steps.
 2. If every run is exhausted (so all are finished), return DONE.
 3. If fewer than ``needed`` output slots are free, return OUT_FULL; ``needed``
    is 1 in READ mode and len(snapshots) + 1 in COMPACT mode. The output lists
    hold only what this step produced.
 4. K is the smallest head key among non-exhausted runs (forward) or the largest
    (reverse). Every run whose head key is K consumes all its entries with key K.
 5. The consumed versions are ordered newest first: seqno descending, then run
    index ascending, then entry index ascending (equal seqnos for one key never
    occur in valid data; the tie-break only keeps behaviour deterministic).
    READ mode (snapshot = snapshots[0]): the first version with seqno <= snapshot
    is visible; emit it if its kind is KIND_VALUE, else (tombstone, no visible
    version) emit nothing.
    COMPACT mode (snapshots = live snapshot seqnos ascending, maybe none): the
    stripes (-inf, s1], (s1, s2], ..., (sn, +inf) each keep their newest
    version. With drop_tombstones, while the oldest kept version is a tombstone
    it is dropped. The kept versions are emitted newest first.
 6. Continue with the next group.

An output is the pair (run index, physical entry index within the run's chunk).

Bloom filters. hash = 64-bit FNV-1a of the key (offset basis
0xcbf29ce484222325, prime 0x100000001b3); h1 = hash & 0xffffffff,
h2 = (hash >> 32) | 1; probe i in 0..k-1 uses bit b = (h1 + i*h2) mod nbits,
stored in byte b >> 3 under mask 1 << (b & 7). A filter is the bit array
(nbits = max(64, count * bits_per_key) rounded up to a multiple of 8) followed by
one byte k = max(1, min(30, int(bits_per_key * 0.69))).

Thread-safety: a merger is owned by one thread at a time. The module functions
are pure and may be called from any thread.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Sequence
from itertools import accumulate, pairwise

from ._buffers import check_run_args, needed_slots

MERGE_DONE = 0
MERGE_NEED_REFILL = 1
MERGE_OUT_FULL = 2
MERGE_READ = 0
MERGE_COMPACT = 1
KIND_TOMBSTONE = 0
KIND_VALUE = 1

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


class _Run:
    """One run of a PyMerger: decoded keys and trailers of its range [lo, hi)."""

    __slots__ = ("buf", "finished", "hi", "keys", "lo", "next", "trailers")

    def __init__(self, reverse: bool) -> None:
        self.buf: object = None
        self.keys: list[bytes] = []
        self.trailers: tuple[int, ...] = ()
        self.lo = 0
        self.hi = 0
        self.next = -1 if reverse else 0
        self.finished = 0


class PyMerger:
    """Pure-Python twin of Merger: the specification of the native merge.

    Args:
        nruns: number of runs, each set later with set_run.
        reverse: iterate keys descending instead of ascending.
        mode: MERGE_READ (snapshots holds exactly the read snapshot) or
            MERGE_COMPACT (snapshots holds the live snapshots, ascending).
        snapshots: seqnos as described for mode.
        drop_tombstones: COMPACT only: drop tombstones that are the oldest kept
            versions of a key (the output is the bottom of the tree).
        out_cap: maximum number of outputs per step.

    Raises:
        ValueError: out_cap below the slots one key group may need, snapshots
            out of order or of the wrong length, or an unknown mode.
    """

    def __init__(
        self,
        nruns: int,
        *,
        reverse: bool,
        mode: int,
        snapshots: Sequence[int],
        drop_tombstones: bool = False,
        out_cap: int = 1024,
    ) -> None:
        self._needed = needed_slots(nruns, mode, snapshots, out_cap)
        self._reverse = bool(reverse)
        self._mode = mode
        self._snapshots = list(snapshots)
        self._drop_tombstones = bool(drop_tombstones)
        self._out_cap = out_cap
        self._runs = [_Run(self._reverse) for _ in range(nruns)]

    def set_run(
        self,
        i: int,
        buf: object,
        keys_at: int,
        offs_at: int,
        trailers_at: int,
        lo: int,
        hi: int,
        next_: int,
        finished: bool | int,
    ) -> None:
        """Point run i at entries [lo, hi) of buf, with cursor next_.

        REQUIRES: the offsets stored in buf lie inside its key area. The merger
        keeps a reference to buf until the run is set again.

        Raises:
            IndexError: i is not a run index.
            ValueError: an area or the range lies outside buf, or next_ is
                outside [lo, hi] (forward) or [lo - 1, hi - 1] (reverse).
        """
        mv = memoryview(buf).cast("B")  # type: ignore[arg-type]
        check_run_args(
            len(self._runs),
            i,
            mv.nbytes,
            keys_at,
            offs_at,
            trailers_at,
            lo,
            hi,
            next_,
            self._reverse,
        )
        run = self._runs[i]
        n = hi - lo
        if n > 0:
            offs = struct.unpack_from(f"<{n + 1}I", mv, offs_at + 4 * lo)
            run.keys = [bytes(mv[keys_at + a : keys_at + b]) for a, b in pairwise(offs)]
            run.trailers = struct.unpack_from(f"<{n}Q", mv, trailers_at + 8 * lo)
        else:
            run.keys, run.trailers = [], ()
        run.buf = buf
        run.lo, run.hi, run.next, run.finished = lo, hi, next_, int(bool(finished))

    def next_index(self, i: int) -> int:
        """Return run i's cursor: the next entry index it will consume."""
        return self._runs[i].next

    def _exhausted(self, run: _Run) -> bool:
        return run.next < run.lo if self._reverse else run.next >= run.hi

    def step(self) -> tuple[int, list[int], list[int], int]:
        """Merge until a run needs a refill, the output is full, or all is done.

        Returns:
            (status, out_runs, out_idx, refill_run): the status (MERGE_DONE,
            MERGE_NEED_REFILL or MERGE_OUT_FULL), the outputs of this step as
            parallel lists of run index and entry index, and the run to refill
            (-1 unless the status is MERGE_NEED_REFILL).
        """
        out_runs: list[int] = []
        out_idx: list[int] = []
        runs = self._runs
        reverse = self._reverse
        while True:
            for r, run in enumerate(runs):
                if not run.finished and self._exhausted(run):
                    return MERGE_NEED_REFILL, out_runs, out_idx, r
            live = [r for r, run in enumerate(runs) if not self._exhausted(run)]
            if not live:
                return MERGE_DONE, out_runs, out_idx, -1
            if self._out_cap - len(out_runs) < self._needed:
                return MERGE_OUT_FULL, out_runs, out_idx, -1
            heads = [runs[r].keys[runs[r].next - runs[r].lo] for r in live]
            k = max(heads) if reverse else min(heads)
            # (seqno, run index, entry index, kind) of every consumed version.
            versions: list[tuple[int, int, int, int]] = []
            for r, head in zip(live, heads, strict=True):
                if head != k:
                    continue
                run = runs[r]
                while not self._exhausted(run) and run.keys[run.next - run.lo] == k:
                    trailer = run.trailers[run.next - run.lo]
                    versions.append((trailer >> 8, r, run.next, trailer & 0xFF))
                    run.next += -1 if reverse else 1
            versions.sort(key=lambda v: (-v[0], v[1], v[2]))
            for _, r, i, _ in self._resolve(versions):
                out_runs.append(r)
                out_idx.append(i)

    def _resolve(
        self, versions: list[tuple[int, int, int, int]]
    ) -> list[tuple[int, int, int, int]]:
        """Return the versions of one key to emit, given all of them newest first."""
        if self._mode == MERGE_READ:
            snapshot = self._snapshots[0]
            for v in versions:
                if v[0] <= snapshot:
                    return [v] if v[3] == KIND_VALUE else []
            return []
        kept: list[tuple[int, int, int, int]] = []
        last_stripe = -1
        for v in versions:
            # Stripe j is (s_j, s_j+1]: the number of snapshots below the seqno.
            stripe = sum(1 for s in self._snapshots if s < v[0])
            if stripe != last_stripe:
                kept.append(v)
                last_stripe = stripe
        if self._drop_tombstones:
            while kept and kept[-1][3] == KIND_TOMBSTONE:
                kept.pop()
        return kept


def _key_at(mv: memoryview, keys_at: int, offs_at: int, i: int) -> bytes:
    a, b = struct.unpack_from("<2I", mv, offs_at + 4 * i)
    return bytes(mv[keys_at + a : keys_at + b])


def py_lower_bound(buf: object, keys_at: int, offs_at: int, lo: int, hi: int, key: bytes) -> int:
    """Return the first index i in [lo, hi) whose key is >= key, or hi if none.

    REQUIRES: keys [lo, hi) of the run in buf are ascending.
    """
    mv = memoryview(buf).cast("B")  # type: ignore[arg-type]
    while lo < hi:
        mid = (lo + hi) // 2
        if _key_at(mv, keys_at, offs_at, mid) < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def bloom_hash(key: bytes) -> int:
    """Return the 64-bit FNV-1a hash of key, as the bloom filter uses it."""
    h = _FNV_OFFSET
    for byte in key:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def bloom_geometry(count: int, bits_per_key: int) -> tuple[int, int]:
    """Return (nbits, k) of a filter over count keys at bits_per_key."""
    nbits = max(64, count * bits_per_key)
    nbits = (nbits + 7) // 8 * 8
    k = max(1, min(30, int(bits_per_key * 0.69)))
    return nbits, k


def _probes(h: int, nbits: int, k: int) -> list[int]:
    h1 = h & 0xFFFFFFFF
    h2 = (h >> 32) | 1
    return [(h1 + i * h2) % nbits for i in range(k)]


def py_bloom_build(buf: object, keys_at: int, offs_at: int, count: int, bits_per_key: int) -> bytes:
    """Return a bloom filter over keys 0..count-1 of the run in buf.

    Raises:
        ValueError: count is negative or bits_per_key is below 1.
    """
    if count < 0 or bits_per_key < 1:
        raise ValueError(f"bad bloom parameters: count={count}, bits_per_key={bits_per_key}")
    nbits, k = bloom_geometry(count, bits_per_key)
    bits = bytearray(nbits // 8)
    mv = memoryview(buf).cast("B")  # type: ignore[arg-type]
    for i in range(count):
        for b in _probes(bloom_hash(_key_at(mv, keys_at, offs_at, i)), nbits, k):
            bits[b >> 3] |= 1 << (b & 7)
    return bytes(bits) + bytes([k])


def py_bloom_may_contain(filter: bytes, key: bytes) -> bool:
    """Return False if key is certainly not in the filter, True if it may be.

    A filter too short to hold any bit (fewer than 2 bytes) rules nothing out.
    """
    nbits = (len(filter) - 1) * 8
    if nbits <= 0:
        return True
    return all(filter[b >> 3] >> (b & 7) & 1 for b in _probes(bloom_hash(key), nbits, filter[-1]))


def make_run_buffer(entries: Sequence[tuple[bytes, int]]) -> tuple[bytes, int, int, int]:
    """Lay out (key, trailer) pairs, already in run order, as one run buffer.

    Returns:
        (buf, keys_at, offs_at, trailers_at) as set_run takes them: the key
        area at 0, then the count + 1 u32 offsets, then the count u64 trailers.
    """
    keys = [e[0] for e in entries]
    blob = b"".join(keys)
    offs = array("I", accumulate(map(len, keys), initial=0))
    trailers = array("Q", [e[1] for e in entries])
    if sys.byteorder != "little":
        offs.byteswap()
        trailers.byteswap()
    offs_at = len(blob)
    trailers_at = offs_at + 4 * len(offs)
    return blob + offs.tobytes() + trailers.tobytes(), 0, offs_at, trailers_at


assert array("I").itemsize == 4 and array("Q").itemsize == 8
