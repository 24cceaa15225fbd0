"""prepare()'s plan cache: a repeated request (same texts, names, value keys) answers exactly
what a cold preparation answers, results and errors alike, whatever its values are."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.expr.request as request
from engine.errors import DynamoDBError
from engine.expr import prepare

_TEXTS = {
    "condition": [
        None,
        "attribute_exists(pk)",
        "#a = :v",
        "a > :v AND size(b) < :n",
        "contains(#a, :v)",
        "a = :v OR a = :w",
        "a BETWEEN :v AND :w",
        "a = ",
    ],
    "update": [
        None,
        "SET field1 = :v",
        "SET #a = #a + :n",
        "ADD c :n",
        "SET l = list_append(l, :v) REMOVE #a",
        "DELETE s :v",
        "SET",
    ],
    "projection": [None, "a, #a", "b"],
}
_NAMES = [None, {}, {"#a": "x"}, {"#a": "x", "#b": "y"}, {"#a": 1}, {"#a": True}]
_VALUE = st.sampled_from(
    [
        {"S": "s"},
        {"N": "1"},
        {"N": "1e3"},
        {"N": "x"},
        {"SS": ["a"]},
        {"SS": []},
        {"L": [{"S": "a"}]},
        {"NULL": False},
        {},
        "s",
    ]
)
_VALUES = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from([":v", ":w", ":n", "v", ":x"]), _VALUE, max_size=3),
)


def _outcome(kwargs: dict):
    try:
        p = prepare(**kwargs)
    except DynamoDBError as exc:
        return type(exc).__name__, exc.message
    except TypeError as exc:
        return "TypeError", str(exc)
    fields = ("condition", "filter", "key_condition", "update", "projection")
    return "ok", p.values, {f: getattr(p, f) and getattr(p, f).root for f in fields}


@given(
    st.sampled_from(_TEXTS["condition"]),
    st.sampled_from(_TEXTS["update"]),
    st.sampled_from(_TEXTS["projection"]),
    st.sampled_from(_NAMES),
    _VALUES,
    _VALUES,
)
@settings(max_examples=1500, deadline=None)
def test_a_cached_request_answers_as_a_cold_one(condition, update, projection, names, v1, v2):
    # The first request warms the cache (when it succeeds); the second has the same texts and
    # names, and values with the same keys but any contents.
    if v1 is not None and v2 is not None:
        v2 = {k: v2.get(k, v) for k, v in v1.items()}
    else:
        v2 = v1
    first = {
        "condition": condition,
        "update": update,
        "projection": projection,
        "names": names,
        "values": v1,
    }
    second = dict(first, values=v2)
    request._PLANS.clear()
    cold = _outcome(second)
    request._PLANS.clear()
    _outcome(first)
    assert _outcome(second) == cold
    assert _outcome(second) == cold  # and again, from the cache for sure


def test_a_repeat_reuses_the_bound_expressions():
    request._PLANS.clear()
    kw = {"condition": "attribute_exists(pk)", "update": "SET a = :v"}
    a = prepare(values={":v": {"S": "x"}}, **kw)
    b = prepare(values={":v": {"N": "01"}}, **kw)
    assert b.update is a.update and b.condition is a.condition
    assert b.values == {":v": {"N": "1"}}


def test_a_repeat_with_a_bad_value_names_it():
    request._PLANS.clear()
    kw = {"update": "SET a = :v, b = :w"}
    prepare(values={":v": {"S": "x"}, ":w": {"S": "y"}}, **kw)
    with pytest.raises(DynamoDBError, match=r"for key :w$"):
        prepare(values={":v": {"S": "x"}, ":w": {"N": "x"}}, **kw)


def test_names_that_are_not_text_are_never_cached():
    request._PLANS.clear()
    try:
        prepare(condition="#a = :v", names={"#a": 1}, values={":v": {"S": "x"}})
    except DynamoDBError:
        pass
    assert not request._PLANS


_VALID = [
    {"condition": "attribute_exists(pk)", "update": "SET field1 = :v", "values": {":v": 0}},
    {"condition": "#a = :v", "names": {"#a": "x"}, "values": {":v": 0}},
    {"condition": "a > :v AND size(b) < :n", "values": {":v": 0, ":n": 0}},
    {"condition": "contains(#a, :v)", "names": {"#a": "x"}, "values": {":v": 0}},
    {"condition": "a BETWEEN :v AND :w", "projection": "a, b", "values": {":v": 0, ":w": 0}},
    {"update": "SET #a = #a + :n", "names": {"#a": "x"}, "values": {":n": 0}},
    {"update": "ADD c :n", "values": {":n": 0}},
    {"update": "SET l = list_append(l, :v) REMOVE #a", "names": {"#a": "x"}, "values": {":v": 0}},
    {"update": "DELETE s :v", "values": {":v": 0}},
    {
        "update": "SET a = if_not_exists(a, :v)",
        "condition": "a <> :w",
        "values": {":v": 0, ":w": 0},
    },
]
_GOOD = ({"S": "s"}, {"N": "1"}, {"SS": ["a"]}, {"L": []})


@given(st.sampled_from(_VALID), st.data())
@settings(max_examples=1000, deadline=None)
def test_a_repeat_of_a_valid_request_with_other_values_answers_as_a_cold_one(base, data):
    request._PLANS.clear()
    for good in _GOOD:  # a first request of this shape that succeeds, and so is cached
        first = dict(base, values=dict.fromkeys(base["values"], good))
        if _outcome(first)[0] == "ok":
            break
    assert request._PLANS
    second = dict(base, values={k: data.draw(_VALUE) for k in base["values"]})
    request._PLANS.clear()
    cold = _outcome(second)
    request._PLANS.clear()
    _outcome(first)
    assert _outcome(second) == cold


# --- apply_update's fast path (top-level SETs of values) ------------------------------------------

_UPDATES = [
    "SET a = :v",
    "SET a = :v, b = :w",
    "SET #n = :v",
    "SET a = :v, b = a",
    "SET a = :w REMOVE b",
    "SET a.b = :v",
    "SET l[0] = :v",
    "ADD n :x",
]
_ITEMS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"a": st.just({"S": "old"})},
        optional={
            "b": st.just({"N": "2"}),
            "n": st.just({"N": "1"}),
            "l": st.just({"L": [{"S": "x"}]}),
            "x": st.just({"M": {"b": {"S": "y"}}}),
        },
    ),
)


@given(st.sampled_from(_UPDATES), _ITEMS)
@settings(max_examples=300, deadline=None)
def test_apply_update_fast_path_equals_the_general_one(text, item):
    from engine.expr.update import apply_update, apply_update_general

    values = {":v": {"S": "new"}, ":w": {"N": "5"}, ":x": {"N": "1"}}
    names = {"#n": "b"} if "#n" in text else None
    used = {k: v for k, v in values.items() if k in text}
    p = prepare(update=text, names=names, values=used)
    actions = p.update.root
    before = None if item is None else {k: dict(v) for k, v in item.items()}

    def run(fn):
        try:
            return fn(actions, item, p.values)
        except DynamoDBError as exc:
            return type(exc).__name__, exc.message

    assert run(apply_update) == run(apply_update_general)
    assert run(apply_update) == run(apply_update_general)  # the plan is cached now
    assert item == before  # the input is never mutated
