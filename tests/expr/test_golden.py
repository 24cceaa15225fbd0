"""Golden case tables of the expression language (see tests/expr/expr_golden.py for the format)."""

from __future__ import annotations

import expr_golden as golden
import pytest

FILES = sorted(p.name for p in golden.TESTDATA.glob("*.txt"))

if golden.REWRITE:
    for _name in FILES:
        golden.rewrite(_name)

CASES = [c for name in FILES for c in golden.load(name)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case):
    assert golden.run(case) == case.expected
