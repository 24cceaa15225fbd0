"""Golden scripts of shale-inspect's human output: command, `----`, expected output.

A script file holds cases. A case is `# comment` lines, one command line (the arguments
after DATA_DIR, split like a shell would), then the expected output between two
`----`/`----` pairs (so the output may hold blank lines):

    # the tables of the golden directory
    tables
    ----
    ----
    Tables (1)
      ...
    ----
    ----

Output is normalised before comparing, so the scripts hold what does not change from run
to run: the directory path becomes DATA_DIR, each table or index id (32 hex digits) the
same-length `ID1_____...` in order of appearance, times `2000-01-01T00:00:00.000000Z`
(cut to the same length) and pids `PID`. Run `SHALE_REWRITE_GOLDEN=1 pytest tests/tools`
to rewrite the expected output from the current behaviour, then review the diff: the
scripts are the specification of what an operator sees.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

TESTDATA = Path(__file__).parent / "testdata"
REWRITE = os.environ.get("SHALE_REWRITE_GOLDEN") == "1"
SEPARATOR = "----\n----\n"

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_PID = re.compile(r"\bpid \d+")
_EPOCH = "2000-01-01T00:00:00.000000Z"


@dataclass
class Case:
    line: int
    comment: str
    command: str
    expected: str


def load(path: Path) -> list[Case]:
    text = path.read_text()
    cases = []
    pos = 0
    line = 1
    while True:
        start = text.find("----\n----\n", pos)
        if start < 0:
            break
        head = text[pos:start].strip("\n").splitlines()
        comments = [h for h in head if h.startswith("#")]
        commands = [h for h in head if h.strip() and not h.startswith("#")]
        assert len(commands) == 1, f"{path}:{line}: one command per case, got {commands}"
        body = start + len(SEPARATOR)
        end = body if text.startswith(SEPARATOR, body) else text.index("\n" + SEPARATOR, body) + 1
        cases.append(Case(line, "\n".join(comments), commands[0], text[body:end]))
        pos = end + len(SEPARATOR)
        line = text.count("\n", 0, pos) + 1
    return cases


def dump(path: Path, cases: list[Case]) -> None:
    parts = []
    for case in cases:
        head = (case.comment + "\n" if case.comment else "") + case.command + "\n"
        parts.append(head + SEPARATOR + case.expected + SEPARATOR)
    path.write_text("\n".join(parts))


def normalise(text: str, data_dir: str) -> str:
    text = text.replace(data_dir, "DATA_DIR")
    ids: dict[str, str] = {}

    def same_length_id(m: re.Match) -> str:
        token = ids.setdefault(m.group(0), f"ID{len(ids) + 1}")
        return token.ljust(32, "_")

    text = _ID.sub(same_length_id, text)
    text = _TIME.sub(lambda m: _EPOCH[: len(m.group(0)) - 1] + "Z", text)
    text = _PID.sub("pid PID", text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
