"""The native merge, bloom filter and block search against their pure-Python twin.

Merger and PyMerger are driven in lockstep through the same refill loop and must
agree on every step (status, outputs, refill run); their output must also equal
a brute-force oracle that knows nothing about runs, chunks or heaps.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import subprocess
import sys
from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.codec as codec
from engine.codec import (
    KIND_TOMBSTONE,
    KIND_VALUE,
    MERGE_COMPACT,
    MERGE_DONE,
    MERGE_NEED_REFILL,
    MERGE_OUT_FULL,
    MERGE_READ,
    Merger,
    PyMerger,
    bloom_build,
    bloom_may_contain,
    lower_bound,
    make_run_buffer,
    py_bloom_build,
    py_bloom_may_contain,
    py_lower_bound,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A small alphabet so that key groups collide across runs; b"" and prefixes
# exercise the shorter-first rule.
KEYS = st.binary(min_size=0, max_size=3).map(lambda b: bytes(x % 3 + 0x61 for x in b))


@st.composite
def merge_cases(draw: st.DrawFn, allow_equal_seqnos: bool = False) -> dict:
    nruns = draw(st.integers(0, 5))
    seqnos = iter(draw(st.permutations(range(1, 200))))
    runs = []
    for _ in range(nruns):
        keys = sorted(draw(st.sets(KEYS, max_size=6)))
        entries = []
        for key in keys:
            nversions = draw(st.integers(1, 6))
            if allow_equal_seqnos:
                seqs = draw(st.lists(st.integers(1, 8), min_size=nversions, max_size=nversions))
            else:
                seqs = [next(seqnos) for _ in range(nversions)]
            for seq in sorted(seqs, reverse=True):
                kind = draw(st.sampled_from([KIND_TOMBSTONE, KIND_VALUE]))
                entries.append((key, seq << 8 | kind))
        # Group-aligned chunk boundaries, as entry indexes; an empty chunk is allowed.
        starts = [i for i in range(len(entries)) if i == 0 or entries[i][0] != entries[i - 1][0]]
        cuts = sorted(draw(st.lists(st.sampled_from([*starts, len(entries)]), max_size=4)))
        bounds = [0, *cuts, len(entries)]
        chunks = list(itertools.pairwise(bounds))
        runs.append(
            {
                "entries": entries,
                "chunks": chunks,
                "pad": draw(st.integers(0, 7)),
                "wrap": draw(st.sampled_from([bytes, bytearray, memoryview])),
                "finish_late": draw(st.booleans()),
            }
        )
    mode = draw(st.sampled_from([MERGE_READ, MERGE_COMPACT]))
    if mode == MERGE_READ:
        snapshots = [draw(st.integers(0, 210))]
    else:
        snapshots = sorted(draw(st.lists(st.integers(0, 210), max_size=4)))
    needed = 1 if mode == MERGE_READ else len(snapshots) + 1
    return {
        "runs": runs,
        "reverse": draw(st.booleans()),
        "mode": mode,
        "snapshots": snapshots,
        "drop_tombstones": draw(st.booleans()),
        "out_cap": draw(st.sampled_from([needed, needed + 1, needed + 3, 1024])),
    }


def lay_out(run: dict) -> tuple[object, int, int, int]:
    """The whole run in one buffer behind `pad` junk bytes, so areas are unaligned."""
    buf, keys_at, offs_at, trailers_at = make_run_buffer(run["entries"])
    pad = run["pad"]
    return run["wrap"](b"\xee" * pad + buf), keys_at + pad, offs_at + pad, trailers_at + pad


def drive(case: dict) -> list[tuple[int, int]]:
    """Run Merger and PyMerger in lockstep; assert they agree; return the outputs."""
    kwargs = {k: case[k] for k in ("reverse", "mode", "snapshots", "drop_tombstones", "out_cap")}
    runs = case["runs"]
    reverse = case["reverse"]
    mergers = [Merger(len(runs), **kwargs), PyMerger(len(runs), **kwargs)]
    layouts = [lay_out(run) for run in runs]
    pending = [list(reversed(run["chunks"])) if reverse else list(run["chunks"]) for run in runs]
    out: list[tuple[int, int]] = []
    for _ in range(10_000):
        native, twin = (m.step() for m in mergers)
        assert native == twin
        status, out_runs, out_idx, refill = native
        assert len(out_runs) <= case["out_cap"]
        out.extend(zip(out_runs, out_idx, strict=True))
        if status == MERGE_DONE:
            assert refill == -1
            return out
        if status == MERGE_OUT_FULL:
            assert out_runs, "OUT_FULL must make progress"
            continue
        assert status == MERGE_NEED_REFILL
        if pending[refill]:
            lo, hi = pending[refill].pop(0)
            finished = not pending[refill] and not runs[refill]["finish_late"]
            args = (*layouts[refill], lo, hi, hi - 1 if reverse else lo, finished)
        else:
            args = (b"", 0, 0, 0, 0, 0, -1 if reverse else 0, True)
        for m in mergers:
            m.set_run(refill, *args)
            assert m.next_index(refill) == args[6]
    raise AssertionError("merge did not terminate")


def oracle(case: dict) -> list[tuple[int, int]]:
    """Brute force: all versions of each key, resolved without runs or chunks."""
    by_key: dict[bytes, list[tuple[int, int, int, int]]] = {}
    for r, run in enumerate(case["runs"]):
        for i, (key, trailer) in enumerate(run["entries"]):
            by_key.setdefault(key, []).append((trailer >> 8, r, i, trailer & 0xFF))
    snapshots = case["snapshots"]
    out = []
    for key in sorted(by_key, reverse=case["reverse"]):
        versions = sorted(by_key[key], key=lambda v: (-v[0], v[1], v[2]))
        if case["mode"] == MERGE_READ:
            visible = [v for v in versions if v[0] <= snapshots[0]]
            if visible and visible[0][3] == KIND_VALUE:
                out.append(visible[0][1:3])
            continue
        newest: dict[int, tuple[int, int, int, int]] = {}
        for v in versions:
            newest.setdefault(bisect.bisect_left(snapshots, v[0]), v)
        kept = [newest[s] for s in sorted(newest, reverse=True)]
        if case["drop_tombstones"]:
            while kept and kept[-1][3] == KIND_TOMBSTONE:
                kept.pop()
        out.extend(v[1:3] for v in kept)
    return out


@SETTINGS
@given(merge_cases())
def test_merge_matches_twin_and_oracle(case: dict) -> None:
    assert drive(case) == oracle(case)


@settings(max_examples=150, deadline=None)
@given(merge_cases(allow_equal_seqnos=True))
def test_equal_seqnos_resolve_identically(case: dict) -> None:
    # Invalid data (equal seqnos for one key), but both sides must still agree.
    drive(case)


def test_many_runs_use_the_heap_beyond_the_stack_buffer() -> None:
    runs = []
    for r in range(100):
        entries = [(b"k%03d" % (i * 7 % 101), (r * 1000 + i) << 8 | KIND_VALUE) for i in range(30)]
        entries.sort(key=lambda e: (e[0], -e[1]))
        runs.append(
            {
                "entries": entries,
                "chunks": [(0, 10), (10, 20), (20, 30)],
                "pad": r % 5,
                "wrap": bytes,
                "finish_late": False,
            }
        )
    for reverse in (False, True):
        for mode, snapshots in ((MERGE_READ, [50_000]), (MERGE_COMPACT, [10_000, 60_000])):
            case = {
                "runs": runs,
                "reverse": reverse,
                "mode": mode,
                "snapshots": snapshots,
                "drop_tombstones": True,
                "out_cap": 7,
            }
            assert drive(case) == oracle(case)


@pytest.mark.parametrize("cls", [Merger, PyMerger])
def test_bad_arguments_are_rejected_alike(cls: type) -> None:
    with pytest.raises(ValueError):
        cls(2, reverse=False, mode=MERGE_COMPACT, snapshots=[1, 2], out_cap=2)
    with pytest.raises(ValueError):
        cls(2, reverse=False, mode=MERGE_READ, snapshots=[])
    with pytest.raises(ValueError):
        cls(2, reverse=False, mode=MERGE_COMPACT, snapshots=[5, 3])
    with pytest.raises(ValueError):
        cls(2, reverse=False, mode=7, snapshots=[])
    m = cls(2, reverse=True, mode=MERGE_READ, snapshots=[9])
    buf, keys_at, offs_at, trailers_at = make_run_buffer([(b"a", 1 << 8 | 1), (b"b", 2 << 8 | 1)])
    with pytest.raises(IndexError):
        m.set_run(2, buf, keys_at, offs_at, trailers_at, 0, 2, 1, True)
    with pytest.raises(ValueError):  # reverse cursor must be in [lo - 1, hi - 1]
        m.set_run(0, buf, keys_at, offs_at, trailers_at, 0, 2, 2, True)
    with pytest.raises(ValueError):  # trailers past the end of the buffer
        m.set_run(0, buf, keys_at, offs_at, trailers_at + 1, 0, 2, 1, True)
    assert m.next_index(0) == -1  # a new reverse run is empty and exhausted
    assert m.step() == (MERGE_NEED_REFILL, [], [], 0)


def test_merger_keeps_its_buffers_alive() -> None:
    m = Merger(1, reverse=False, mode=MERGE_READ, snapshots=[10])
    m.set_run(0, *make_run_buffer([(b"x" * 40, 3 << 8 | 1)]), 0, 1, 0, True)  # buf unreferenced
    gc.collect()
    _ = [bytes(64) for _ in range(1000)]
    assert m.step() == (MERGE_DONE, [0], [0], -1)


@st.composite
def sorted_runs(draw: st.DrawFn) -> tuple[list[bytes], int, int, bytes]:
    keys = sorted(draw(st.lists(KEYS, max_size=40)))
    lo = draw(st.integers(0, len(keys)))
    hi = draw(st.integers(lo, len(keys)))
    return keys, lo, hi, draw(KEYS)


@SETTINGS
@given(sorted_runs(), st.integers(0, 5))
def test_lower_bound_matches_twin_and_bisect(run: tuple, pad: int) -> None:
    keys, lo, hi, probe = run
    buf, keys_at, offs_at, _ = make_run_buffer([(k, 0) for k in keys])
    buf = b"\0" * pad + buf
    want = bisect.bisect_left(keys, probe, lo, hi)
    assert lower_bound(buf, keys_at + pad, offs_at + pad, lo, hi, probe) == want
    assert py_lower_bound(buf, keys_at + pad, offs_at + pad, lo, hi, probe) == want


@SETTINGS
@given(st.lists(st.binary(max_size=20), max_size=60), st.integers(1, 24), st.binary(max_size=20))
def test_bloom_matches_twin_without_false_negatives(keys: list, bits_per_key: int, probe) -> None:
    buf, keys_at, offs_at, _ = make_run_buffer([(k, 0) for k in keys])
    native = bloom_build(buf, keys_at, offs_at, len(keys), bits_per_key)
    assert native == py_bloom_build(buf, keys_at, offs_at, len(keys), bits_per_key)
    assert len(native) == max(64, len(keys) * bits_per_key + 7) // 8 + 1
    assert native[-1] == max(1, min(30, int(bits_per_key * 0.69)))
    for key in keys:
        assert bloom_may_contain(native, key)
    assert bloom_may_contain(native, probe) == py_bloom_may_contain(native, probe)


def test_bloom_hash_is_fnv1a_64() -> None:
    # FNV-1a test vectors: "" -> the offset basis, "a" -> 0xaf63dc4c8601ec8c. With
    # one probe bit of a 64-bit filter, the set bit is h1 mod 64.
    for key, h in ((b"", 0xCBF29CE484222325), (b"a", 0xAF63DC4C8601EC8C)):
        buf, keys_at, offs_at, _ = make_run_buffer([(key, 0)])
        filt = bloom_build(buf, keys_at, offs_at, 1, 1)
        bit = (h & 0xFFFFFFFF) % 64
        assert int.from_bytes(filt[:8], "little") == 1 << bit
        assert filt[8] == 1


def test_bloom_false_positive_rate_is_near_one_percent_at_ten_bits_per_key() -> None:
    keys = [b"user#%08d" % i for i in range(20_000)]
    buf, keys_at, offs_at, _ = make_run_buffer([(k, 0) for k in keys])
    filt = bloom_build(buf, keys_at, offs_at, len(keys), 10)
    absent = [b"user#%08d" % i for i in range(1_000_000, 1_050_000)]
    rate = sum(map(lambda k: bloom_may_contain(filt, k), absent)) / len(absent)
    assert 0.004 < rate < 0.02, rate
    # The twin agrees on a sample of the probes.
    assert all(bloom_may_contain(filt, k) == py_bloom_may_contain(filt, k) for k in absent[:500])


def test_short_filters_rule_nothing_out() -> None:
    for filt in (b"", b"\x06"):
        assert bloom_may_contain(filt, b"k") and py_bloom_may_contain(filt, b"k")


def test_make_run_buffer_lays_out_keys_offsets_and_trailers() -> None:
    buf, keys_at, offs_at, trailers_at = make_run_buffer([(b"ab", 7 << 8 | 1), (b"c", 5 << 8)])
    assert (keys_at, offs_at, trailers_at) == (0, 3, 15)
    assert buf[:3] == b"abc"
    assert array("I", buf[offs_at:trailers_at]).tolist() == [0, 2, 3]
    assert array("Q", buf[trailers_at:]).tolist() == [7 << 8 | 1, 5 << 8]


def test_public_surface_is_sorted_and_has_the_merge_api() -> None:
    assert codec.__all__ == sorted(codec.__all__)
    assert set(codec.__all__) >= {
        "KIND_TOMBSTONE", "KIND_VALUE", "MERGE_COMPACT", "MERGE_DONE", "MERGE_NEED_REFILL",
        "MERGE_OUT_FULL", "MERGE_READ", "Merger", "PyMerger", "bloom_build",
        "bloom_may_contain", "lower_bound", "make_run_buffer", "py_bloom_build",
        "py_bloom_may_contain", "py_lower_bound",
    }  # fmt: skip


def test_missing_native_extension_fails_import_with_build_hint() -> None:
    code = (
        "import sys; sys.modules['engine._native'] = None\n"
        "try:\n    import engine.codec\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install -e ." in result.stdout
