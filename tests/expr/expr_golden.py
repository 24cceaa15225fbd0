"""Golden case tables for expressions: input, ``----``, expected result or exact error.

A case file holds cases separated by blank lines. A case is ``# comment`` lines (cite the
documentation page a subtle case follows), then ``key value`` lines, then ``----`` and the
expected output on one line. Keys:

- one of ``condition``, ``filter``, ``update``, ``projection``, ``keycondition``: the expression
- ``names``, ``values``, ``item``: JSON in DynamoDB's wire shape (B values in base64)
- ``schema``: ``hash [range]`` for key conditions

Expected output is ``true``/``false`` (conditions), the resulting item as JSON (updates,
projections; ``-`` for no item), the key condition as text, or ``Code: message`` for an error.
Run ``SHALE_REWRITE_GOLDEN=1 pytest tests/expr`` to rewrite the expected lines from the current
behaviour (then review the diff: the tables are the specification).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from engine.errors import DynamoDBError
from engine.expr import analyze_key_condition, prepare

TESTDATA = Path(__file__).parent / "testdata"
REWRITE = os.environ.get("SHALE_REWRITE_GOLDEN") == "1"


def _from_wire(v: object) -> object:
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k == "B" and isinstance(x, str):
                out[k] = base64.b64decode(x)
            elif k == "BS" and isinstance(x, list):
                out[k] = [base64.b64decode(m) for m in x]
            else:
                out[k] = _from_wire(x)
        return out
    if isinstance(v, list):
        return [_from_wire(x) for x in v]
    return v


def _to_wire(v: object) -> object:
    if isinstance(v, dict):
        return {k: _to_wire(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_to_wire(x) for x in v]
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v


class Case:
    def __init__(self, file: str, line: int, fields: dict[str, str], expected: str) -> None:
        self.file = file
        self.line = line
        self.fields = fields
        self.expected = expected

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def load(name: str) -> list[Case]:
    path = TESTDATA / name
    cases = []
    block: list[tuple[int, str]] = []
    for i, raw in enumerate([*path.read_text().splitlines(), ""], 1):
        if raw.strip():
            block.append((i, raw))
            continue
        if not block:
            continue
        fields: dict[str, str] = {}
        expected = None
        start = block[0][0]
        for j, (_, line) in enumerate(block):
            if line.startswith("#"):
                continue
            if line == "----":
                expected = block[j + 1][1] if j + 1 < len(block) else ""
                break
            key, _, value = line.partition(" ")
            fields[key] = value
        if expected is None:
            raise ValueError(f"{name}:{start}: case without ----")
        cases.append(Case(name, start, fields, expected))
        block = []
    return cases


def run(case: Case) -> str:
    f = case.fields
    names = json.loads(f["names"]) if "names" in f else None
    values = _from_wire(json.loads(f["values"])) if "values" in f else None
    item = _from_wire(json.loads(f["item"])) if "item" in f else None
    try:
        if "keycondition" in f:
            p = prepare(names=names, values=values, key_condition=f["keycondition"])
            schema = f.get("schema", "pk sk").split()
            kc = analyze_key_condition(
                p.key_condition.root, schema[0], schema[1] if len(schema) > 1 else None
            )
            text = f"{kc.partition_key} = {kc.partition_value.name}"
            if kc.sort_key:
                text += f"; {kc.sort_key} {kc.sort_op} " + " ".join(v.name for v in kc.sort_values)
            return text
        if "update" in f:
            p = prepare(names=names, values=values, update=f["update"])
            return json.dumps(_to_wire(p.apply_update(item)), sort_keys=True)
        if "projection" in f:
            p = prepare(names=names, projection=f["projection"])
            return json.dumps(_to_wire(p.project(item or {})), sort_keys=True)
        if "filter" in f:
            p = prepare(names=names, values=values, filter=f["filter"])
            return "true" if p.matches_filter(item or {}) else "false"
        p = prepare(names=names, values=values, condition=f["condition"])
        return "true" if p.check_condition(item) else "false"
    except DynamoDBError as exc:
        return f"{exc.code}: {exc.message}"


def rewrite(name: str) -> None:
    """Replace every expected line of a case file with the current output."""
    path = TESTDATA / name
    lines = path.read_text().splitlines()
    for case in load(name):
        for k in range(case.line - 1, len(lines)):
            if lines[k] == "----":
                lines[k + 1] = run(case)
                break
    path.write_text("\n".join(lines) + "\n")
