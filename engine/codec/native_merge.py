"""Native merge, bloom filter and block search: thin cffi wrappers over csrc/merge.c.

Behaviour and signatures are identical to the pure-Python twin in
engine/codec/merge.py, which documents the semantics. The wrappers validate
arguments with the same checks as the twin (engine/codec/_buffers.py) and keep
per-call work small: a Merger builds every cdata argument of shale_merge_step
once, so a step is one native call and two ffi.unpack calls.

Thread-safety: a Merger is owned by one thread at a time; the functions are
pure. The native calls do not release the GIL (they run for microseconds).
"""

from __future__ import annotations

from collections.abc import Sequence

from engine._native import ffi, lib

from ._buffers import check_keys_area, check_run_args, needed_slots
from .merge import MERGE_COMPACT, MERGE_DONE, MERGE_NEED_REFILL, MERGE_OUT_FULL, MERGE_READ
from .merge import bloom_geometry as _bloom_geometry

if (lib.SHALE_MERGE_DONE, lib.SHALE_MERGE_NEED_REFILL, lib.SHALE_MERGE_OUT_FULL) != (
    MERGE_DONE,
    MERGE_NEED_REFILL,
    MERGE_OUT_FULL,
) or (lib.SHALE_MERGE_READ, lib.SHALE_MERGE_COMPACT) != (MERGE_READ, MERGE_COMPACT):
    raise ImportError(
        "engine._native is stale (its merge constants differ from engine.codec):"
        " rebuild it with `pip install -e .`"
    )

_merge_step = lib.shale_merge_step
_lower_bound = lib.shale_lower_bound
_bloom_hash = lib.shale_bloom_hash
_bloom_may_contain = lib.shale_bloom_may_contain
_from_buffer = ffi.from_buffer
_unpack = ffi.unpack


class Merger:
    """Native k-way merge of sorted runs with version resolution.

    Same contract as engine.codec.PyMerger, which documents the arguments,
    set_run, next_index and step.
    """

    __slots__ = (
        "_args",
        "_bufs",
        "_nruns",
        "_out_idx",
        "_out_n",
        "_out_run",
        "_refill",
        "_reverse",
        "_runs",
    )

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
        needed_slots(nruns, mode, snapshots, out_cap)
        self._nruns = nruns
        self._reverse = bool(reverse)
        self._runs = ffi.new("shale_run[]", nruns)
        if self._reverse:
            for i in range(nruns):
                self._runs[i].next = -1
        self._bufs: list[object] = [None] * nruns
        self._out_run = ffi.new("uint32_t[]", out_cap)
        self._out_idx = ffi.new("int64_t[]", out_cap)
        self._out_n = ffi.new("uint32_t *")
        self._refill = ffi.new("uint32_t *")
        snaps = ffi.new("uint64_t[]", list(snapshots))
        self._args = (
            self._runs,
            nruns,
            int(self._reverse),
            mode,
            snaps,
            len(snapshots),
            int(bool(drop_tombstones)),
            self._out_run,
            self._out_idx,
            out_cap,
            self._out_n,
            self._refill,
        )

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
        """Point run i at entries [lo, hi) of buf, with cursor next_ (see PyMerger)."""
        cd = _from_buffer("uint8_t[]", buf)
        check_run_args(
            self._nruns, i, len(cd), keys_at, offs_at, trailers_at, lo, hi, next_, self._reverse
        )
        run = self._runs[i]
        if hi > lo:
            run.keys = cd + keys_at
            run.offs = cd + offs_at
            run.trailers = cd + trailers_at
        else:
            run.keys = run.offs = run.trailers = cd
        run.lo = lo
        run.hi = hi
        run.next = next_
        run.finished = 1 if finished else 0
        self._bufs[i] = cd  # keeps buf alive while the run points into it

    def next_index(self, i: int) -> int:
        """Return run i's cursor: the next entry index it will consume."""
        if not 0 <= i < self._nruns:
            raise IndexError(f"run index {i} out of range for {self._nruns} runs")
        return self._runs[i].next

    def step(self) -> tuple[int, list[int], list[int], int]:
        """Merge until a run needs a refill, the output is full, or all is done (see PyMerger)."""
        status = _merge_step(*self._args)
        if status < 0:
            raise MemoryError("shale_merge_step could not allocate its heap")
        n = self._out_n[0]
        refill = self._refill[0] if status == MERGE_NEED_REFILL else -1
        return status, _unpack(self._out_run, n), _unpack(self._out_idx, n), refill


def lower_bound(buf: object, keys_at: int, offs_at: int, lo: int, hi: int, key: bytes) -> int:
    """Return the first index i in [lo, hi) whose key is >= key, or hi if none.

    REQUIRES: keys [lo, hi) are ascending and their offsets lie in the key area.

    Raises:
        ValueError: the range is inverted or the areas exceed buf.
    """
    cd = _from_buffer(buf)
    # check_keys_area, inlined: this is on the path of every point read.
    if not 0 <= lo < hi or not (0 <= keys_at <= len(cd) and 0 <= offs_at <= len(cd) - 4 * hi - 4):
        check_keys_area(len(cd), keys_at, offs_at, lo, hi)
        return lo
    if type(key) is not bytes:
        key = bytes(key)
    return _lower_bound(cd + keys_at if keys_at else cd, cd + offs_at, lo, hi, key, len(key))


def bloom_build(buf: object, keys_at: int, offs_at: int, count: int, bits_per_key: int) -> bytes:
    """Return a bloom filter over keys 0..count-1 of the run in buf.

    Raises:
        ValueError: count is negative, bits_per_key is below 1, or the areas
            exceed buf.
    """
    if count < 0 or bits_per_key < 1:
        raise ValueError(f"bad bloom parameters: count={count}, bits_per_key={bits_per_key}")
    cd = _from_buffer("uint8_t[]", buf)
    check_keys_area(len(cd), keys_at, offs_at, 0, count)
    nbits, k = _bloom_geometry(count, bits_per_key)
    bits = ffi.new("uint8_t[]", nbits // 8)
    if count:
        lib.shale_bloom_build(bits, nbits, k, cd + keys_at, cd + offs_at, count)
    return ffi.buffer(bits)[:] + bytes((k,))


def bloom_may_contain(filter: bytes, key: bytes) -> bool:
    """Return False if key is certainly not in the filter, True if it may be.

    The hot path of point reads: pass bytes for both arguments (other buffers
    are accepted at the cost of a copy).
    """
    n = len(filter)
    if n < 2:
        return True
    try:
        return _bloom_may_contain(filter, (n - 1) << 3, filter[-1], _bloom_hash(key, len(key))) != 0
    except TypeError:
        return (
            _bloom_may_contain(
                bytes(filter), (n - 1) << 3, filter[-1], _bloom_hash(bytes(key), len(key))
            )
            != 0
        )
