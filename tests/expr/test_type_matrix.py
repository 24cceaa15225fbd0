"""Every comparator and function over every pair of types.

Developer Guide, "Comparison operator and function reference": = and <> apply to all types
(values of different types are never equal); <, <=, >, >= and BETWEEN apply to S, N and B only,
between values of one type; size applies to S, B, sets, L and M. A comparison that does not apply
evaluates to false (<> to true), never to an error.
"""

from __future__ import annotations

import pytest

from engine.errors import ValidationException
from engine.expr import analyze_key_condition, key_condition_values, prepare

SAMPLES = {
    "S": {"S": "b"},
    "N": {"N": "2"},
    "B": {"B": b"b"},
    "BOOL": {"BOOL": True},
    "NULL": {"NULL": True},
    "SS": {"SS": ["b"]},
    "NS": {"NS": ["2"]},
    "BS": {"BS": [b"b"]},
    "L": {"L": [{"S": "b"}]},
    "M": {"M": {"k": {"S": "b"}}},
}
ORDERED = {"S", "N", "B"}
PAIRS = [(a, b) for a in SAMPLES for b in SAMPLES]


def _eval(text: str, attr: dict, value: dict) -> bool:
    return prepare(values={":v": value}, condition=text).check_condition({"a": attr})


@pytest.mark.parametrize(("ta", "tb"), PAIRS)
def test_equality_across_types(ta, tb):
    assert _eval("a = :v", SAMPLES[ta], SAMPLES[tb]) is (ta == tb)
    assert _eval("a <> :v", SAMPLES[ta], SAMPLES[tb]) is (ta != tb)


@pytest.mark.parametrize(("ta", "tb"), PAIRS)
def test_ordering_only_within_s_n_b(ta, tb):
    applies = ta == tb and ta in ORDERED
    assert _eval("a <= :v", SAMPLES[ta], SAMPLES[tb]) is applies
    assert _eval("a >= :v", SAMPLES[ta], SAMPLES[tb]) is applies
    assert _eval("a < :v", SAMPLES[ta], SAMPLES[tb]) is False


@pytest.mark.parametrize("t", list(SAMPLES))
def test_size_applies_to_strings_binaries_sets_lists_and_maps(t):
    has_size = t not in ("N", "BOOL", "NULL")
    assert _eval("size(a) = :v", SAMPLES[t], {"N": "1"}) is has_size


def test_key_condition_values_are_checked_against_the_schema():
    p = prepare(
        values={":p": {"S": "x"}, ":s": {"S": "1"}},
        key_condition="pk = :p AND begins_with(sk, :s)",
    )
    kc = analyze_key_condition(p.key_condition.root, "pk", "sk")
    assert key_condition_values(kc, p.values, "S", "S") == ({"S": "x"}, ({"S": "1"},))
    with pytest.raises(ValidationException, match="does not match schema type"):
        key_condition_values(kc, p.values, "N", "S")
    with pytest.raises(ValidationException, match="does not match schema type"):
        key_condition_values(kc, p.values, "S", "N")
