"""How shale-inspect shows things to a person: aligned tables, byte sizes, UTC times,
keys that may be binary, and a progress bar on stderr.

Every command builds a JSON-able dict first (what `--json` prints) and renders its human
form from that dict alone, so the two outputs cannot say different things. Nothing here
touches the data directory.
"""

import sys
import time
from datetime import UTC, datetime
from typing import TextIO

PREVIEW_BYTES = 24


def fmt_bytes(n: int) -> str:
    """`n` bytes for people: `812 B`, `15.9 KiB`, `1.20 GiB`."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


def iso_utc(ts_us: int | None) -> str | None:
    """Microseconds since the epoch as ISO 8601 UTC (`2024-05-01T14:03:07.123456Z`)."""
    if not ts_us:
        return None
    return datetime.fromtimestamp(ts_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def printable(data: bytes, limit: int | None = None) -> str:
    """Bytes as text: printable ASCII as is, anything else as \\xNN; `limit` bytes at
    most, then an ellipsis."""
    cut = data if limit is None or len(data) <= limit else data[:limit]
    text = "".join(
        chr(b) if 0x20 <= b < 0x7F and b != 0x5C else "\\\\" if b == 0x5C else f"\\x{b:02x}"
        for b in cut
    )
    return text + ("…" if len(cut) < len(data) else "")


def key_json(data: bytes) -> dict:
    """A key for --json: its printable form and its exact hex."""
    return {"text": printable(data), "hex": data.hex()}


def fmt_range(low: object, high: object) -> str:
    if low is None and high is None:
        return "-"
    return str(low) if low == high else f"{low}..{high}"


def table(headers: list[str], rows: list[list[object]], *, indent: int = 0) -> str:
    """Rows as aligned columns; a column whose cells are all numbers aligns right."""
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float) or row[i] in (None, "") for row in rows)
        for i in range(len(headers))
    ]
    pad = " " * indent

    def line(row: list[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return (pad + "  ".join(parts)).rstrip()

    return "\n".join([line(headers), *(line(row) for row in cells)])


def section(title: str, body: str) -> str:
    return f"{title}\n{body}" if body else title


def fields(pairs: list[tuple[str, object]], *, indent: int = 2) -> str:
    """`name  value` lines with the values aligned."""
    width = max((len(name) for name, _ in pairs), default=0)
    pad = " " * indent
    return "\n".join(f"{pad}{name.ljust(width)}  {'-' if v is None else v}" for name, v in pairs)


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second.

    Shown only when `enabled`; `verify` enables it on a terminal for large directories
    (or with --progress). Not thread-safe: one command drives it.
    """

    def __init__(
        self, total_bytes: int, *, enabled: bool, label: str, stream: TextIO | None = None
    ) -> None:
        self.total_bytes = max(total_bytes, 1)
        self.done_bytes = 0
        self.enabled = enabled
        self.label = label
        self.stream = stream or sys.stderr
        self._drawn_at = 0.0

    def advance(self, n: int, what: str = "") -> None:
        self.done_bytes += n
        if self.enabled and time.monotonic() - self._drawn_at >= 0.1:
            self._draw(what)

    def _draw(self, what: str) -> None:
        self._drawn_at = time.monotonic()
        fraction = min(1.0, self.done_bytes / self.total_bytes)
        filled = int(fraction * 30)
        bar = "#" * filled + "." * (30 - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {fraction:4.0%} {fmt_bytes(self.done_bytes)}"
            f" / {fmt_bytes(self.total_bytes)} {what:<14}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.done_bytes = max(self.done_bytes, self.total_bytes)
            self._draw("done")
            self.stream.write("\n")
            self.stream.flush()


class Result:
    """What a command produced: the dict `--json` prints, its human rendering and the
    exit status."""

    __slots__ = ("data", "exit_code", "text")

    def __init__(self, data: dict, text: str, exit_code: int = 0) -> None:
        self.data = data
        self.text = text
        self.exit_code = exit_code
