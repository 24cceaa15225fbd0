"""A progress bar for long benchmark runs, on stderr, with no dependency.

    bar = ProgressBar(total=1_000_000, label="[shale] ycsb-a")
    for i in range(total):
        ...
        if i & 1023 == 0:
            bar.update(i)
    bar.close()                      # final line: count, seconds, rate

The bar redraws in place (`\\r`) at most ten times a second, so updating it costs next to
nothing inside a timed loop; it shows the fraction done, the count, the current rate and
the time left. It draws only on a terminal (or when forced: `--progress`, or
SHALE_BENCH_PROGRESS=1); otherwise `close()` prints one summary line and nothing else,
so logs and CI output stay short. Not thread-safe: one loop drives it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

__all__ = ["ProgressBar", "progress_enabled"]

WIDTH = 28


def progress_enabled(stream: TextIO | None = None, forced: bool | None = None) -> bool:
    """Whether bars should draw: `forced` if given, else SHALE_BENCH_PROGRESS, else
    whether `stream` (stderr) is a terminal."""
    if forced is not None:
        return forced
    env = os.environ.get("SHALE_BENCH_PROGRESS")
    if env is not None:
        return env not in ("", "0")
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


class ProgressBar:
    def __init__(
        self,
        total: int,
        label: str,
        *,
        unit: str = "ops",
        enabled: bool | None = None,
        stream: TextIO | None = None,
        summary: bool = True,
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = progress_enabled(self.stream, enabled)
        self.summary = summary  # False: close() only clears the bar (the caller reports)
        self.done = 0
        self.started = time.perf_counter()
        self._drawn_at = 0.0
        self._closed = False

    def update(self, done: int) -> None:
        """Record that `done` of `total` are finished (absolute, not a delta)."""
        self.done = done
        if self.enabled:
            now = time.perf_counter()
            if now - self._drawn_at >= 0.1:
                self._drawn_at = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        fraction = min(1.0, self.done / self.total)
        filled = int(fraction * WIDTH)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = f"{left:5.0f} s left" if left != float("inf") else "  ? s left"
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {fraction:4.0%}"
            f" {self.done:,}/{self.total:,} {self.unit}, {rate:,.0f}/s, {eta}  "
        )
        self.stream.flush()

    def close(self, note: str = "") -> None:
        """Finish the bar with one summary line (always printed)."""
        if self._closed:
            return
        self._closed = True
        if not self.summary:
            if self.enabled:
                self.stream.write("\r" + " " * 100 + "\r")
                self.stream.flush()
            return
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        line = (
            f"{self.label}: {self.done:,} {self.unit} in {elapsed:.2f} s"
            f" = {self.done / elapsed:,.0f} {self.unit}/s"
        )
        if note:
            line += f" {note}"
        prefix = "\r" if self.enabled else ""
        pad = " " * 20 if self.enabled else ""
        self.stream.write(f"{prefix}{line}{pad}\n")
        self.stream.flush()
