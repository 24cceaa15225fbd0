"""Argument checks shared by the native merger and its twin.

Both front-ends must reject exactly the same inputs with exactly the same
exceptions, so the checks live here once. They are O(1): the contents of a run
(offsets inside the key area, key order) are trusted, as the callers read them
from checksummed blocks or build them in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

_U32 = 1 << 32
_U64 = 1 << 64
_READ = 0
_COMPACT = 1


def needed_slots(nruns: int, mode: int, snapshots: Sequence[int], out_cap: int) -> int:
    """Validate a merger's parameters; return the output slots one key group needs.

    Raises:
        ValueError: nruns or out_cap out of range, an unknown mode, READ mode
            without exactly one snapshot, snapshots not ascending or not u64.
    """
    if not 0 <= nruns < _U32:
        raise ValueError(f"nruns must be in [0, 2**32), got {nruns}")
    if mode not in (_READ, _COMPACT):
        raise ValueError(f"unknown merge mode {mode}")
    if mode == _READ and len(snapshots) != 1:
        raise ValueError(f"READ mode takes exactly one snapshot, got {len(snapshots)}")
    prev = 0
    for s in snapshots:
        if not prev <= s < _U64:
            raise ValueError(f"snapshots must be ascending u64 seqnos, got {list(snapshots)}")
        prev = s
    needed = 1 if mode == _READ else len(snapshots) + 1
    if not needed <= out_cap < _U32:
        raise ValueError(f"out_cap must be in [{needed}, 2**32), got {out_cap}")
    return needed


def check_run_args(
    nruns: int,
    i: int,
    nbytes: int,
    keys_at: int,
    offs_at: int,
    trailers_at: int,
    lo: int,
    hi: int,
    next_: int,
    reverse: bool,
) -> None:
    """Validate set_run's arguments against a buffer of nbytes bytes.

    Raises:
        IndexError: i is not a run index.
        ValueError: the range or an area lies outside the buffer, or next_ lies
            outside [lo, hi] (forward) or [lo - 1, hi - 1] (reverse).
    """
    if not 0 <= i < nruns:
        raise IndexError(f"run index {i} out of range for {nruns} runs")
    if not 0 <= lo <= hi:
        raise ValueError(f"bad run range [{lo}, {hi})")
    if reverse:
        if not lo - 1 <= next_ <= hi - 1:
            raise ValueError(f"reverse cursor {next_} outside [{lo - 1}, {hi - 1}]")
    elif not lo <= next_ <= hi:
        raise ValueError(f"forward cursor {next_} outside [{lo}, {hi}]")
    if hi > lo and not (
        0 <= keys_at <= nbytes
        and offs_at >= 0
        and offs_at + 4 * (hi + 1) <= nbytes
        and trailers_at >= 0
        and trailers_at + 8 * hi <= nbytes
    ):
        raise ValueError(
            f"run areas (keys_at={keys_at}, offs_at={offs_at}, trailers_at={trailers_at},"
            f" hi={hi}) exceed a buffer of {nbytes} bytes"
        )


def check_keys_area(nbytes: int, keys_at: int, offs_at: int, lo: int, hi: int) -> None:
    """Validate a key area holding keys [lo, hi) in a buffer of nbytes bytes.

    Raises:
        ValueError: the range is inverted or the areas exceed the buffer.
    """
    if not 0 <= lo <= hi:
        raise ValueError(f"bad key range [{lo}, {hi})")
    if hi > lo and not (0 <= keys_at <= nbytes and offs_at >= 0 and offs_at + 4 * hi + 4 <= nbytes):
        raise ValueError(
            f"key areas (keys_at={keys_at}, offs_at={offs_at}, hi={hi})"
            f" exceed a buffer of {nbytes} bytes"
        )
