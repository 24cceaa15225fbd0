"""The expression package's public surface, its caches, and invariants of evaluation."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.expr as expr
import engine.model as model
from engine.errors import ValidationException
from engine.expr import CONDITION, PROJECTION, UPDATE, bind, parse, prepare


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("package", [expr, model])
def test_all_is_sorted_and_resolvable(package):
    assert package.__all__ == sorted(package.__all__, key=_isort_key)
    for name in package.__all__:
        assert hasattr(package, name), name


def test_parse_is_cached_by_kind_and_text():
    a = parse(CONDITION, "a = :v")
    assert parse(CONDITION, "a = :v") is a
    assert parse("FilterExpression", "a = :v") is not a


def test_bind_is_cached_by_the_names_an_expression_uses():
    a = bind(CONDITION, "#x = :v", {"#x": "a", "#unused": "b"})
    assert bind(CONDITION, "#x = :v", {"#x": "a"}) is a
    b = bind(CONDITION, "#x = :v", {"#x": "c"})
    assert b is not a and b.root.left.elements == ("c",)


def test_a_syntax_error_is_raised_again_from_the_cache():
    for _ in range(2):
        with pytest.raises(ValidationException, match="Syntax error"):
            parse(CONDITION, "a = = b")


def test_all_parameters_together_and_shared_values():
    p = prepare(
        names={"#n": "name"},
        values={":v": {"N": "1"}},
        condition="attribute_exists(#n) AND n = :v",
        update="SET n = n + :v",
        projection="#n, n",
    )
    item = {"name": {"S": "x"}, "n": {"N": "1"}, "other": {"S": "y"}}
    assert p.check_condition(item)
    new = p.apply_update(item)
    assert p.project(new) == {"name": {"S": "x"}, "n": {"N": "2"}}


def test_a_name_used_only_in_the_projection_counts_as_used():
    prepare(names={"#n": "name"}, values={":v": {"N": "1"}}, condition="a = :v", projection="#n")


def test_values_only_in_a_projection_request_are_rejected():
    with pytest.raises(ValidationException, match="can only be specified when using expressions"):
        prepare(values={":v": {"N": "1"}}, projection="a")


def test_key_attributes_cannot_be_updated():
    p = prepare(values={":v": {"S": "x"}}, update="SET pk = :v")
    with pytest.raises(ValidationException) as exc:
        expr.check_key_not_updated(p.update.root, ("pk", "sk"))
    assert exc.value.message == (
        "One or more parameter values were invalid: Cannot update attribute pk. "
        "This attribute is part of the key"
    )


def test_operator_count_limit():
    text = " AND ".join(["a = :v"] * 151)  # 151 comparisons + 150 ANDs = 301 operators
    with pytest.raises(ValidationException, match="too many operators"):
        parse(CONDITION, text)


def test_projection_of_nested_lists_keeps_structure():
    item = {"l": {"L": [{"L": [{"N": "1"}, {"N": "2"}]}, {"N": "3"}]}}
    p = prepare(projection="l[0][1]")
    assert p.project(item) == {"l": {"L": [{"L": [{"N": "2"}]}]}}
    assert prepare(projection="l[1], l[0][0]").project(item) == {
        "l": {"L": [{"L": [{"N": "1"}]}, {"N": "3"}]}
    }


_scalar = st.one_of(
    st.integers(-5, 5).map(lambda i: {"N": str(i)}),
    st.sampled_from(["a", "b", ""]).map(lambda s: {"S": s}),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2).map(lambda v: {"M": v}),
    ),
    max_leaves=6,
)
_items = st.dictionaries(st.sampled_from(["a", "b", "c", "l", "m"]), _value, max_size=5)
_updates = st.sampled_from(
    [
        "SET a = :v",
        "SET m.x = :v",
        "SET l[0] = :v",
        "SET l[5] = :v REMOVE a",
        "REMOVE l[0], l[1], m.y",
        "SET b = if_not_exists(b, :v)",
        "REMOVE a, b, c",
    ]
)


@given(item=_items, update=_updates, v=_value)
@settings(max_examples=200)
def test_updates_never_mutate_the_input_item(item, update, v):
    before = copy.deepcopy(item)
    p = prepare(values={":v": v} if ":v" in update else None, update=update)
    try:
        p.apply_update(item)
    except ValidationException:
        pass
    assert item == before


@given(item=_items, v=_scalar)
@settings(max_examples=200)
def test_not_inverts_every_condition(item, v):
    for text in ("a = :v", "a < :v", "contains(l, :v)", "attribute_exists(m.x)", "a IN (:v)"):
        values = {":v": v} if ":v" in text else None
        pos = prepare(values=values, condition=text)
        neg = prepare(values=values, condition=f"NOT ({text})")
        assert pos.check_condition(item) != neg.check_condition(item)


def test_kinds_are_named_as_dynamodb_names_the_parameters():
    assert (CONDITION, UPDATE, PROJECTION) == (
        "ConditionExpression",
        "UpdateExpression",
        "ProjectionExpression",
    )


def test_updated_old_and_new_are_projections_on_the_updated_paths():
    # API Reference, UpdateItem ReturnValues: UPDATED_OLD / UPDATED_NEW return only the updated
    # attributes, before and after the update.
    old = {"pk": {"S": "k"}, "n": {"N": "1"}, "m": {"M": {"a": {"S": "x"}, "b": {"S": "y"}}}}
    p = prepare(values={":one": {"N": "1"}, ":z": {"S": "z"}}, update="SET n = n + :one, m.a = :z")
    new = p.apply_update(old)
    paths = expr.updated_paths(p.update.root)
    assert expr.project(old, paths) == {"n": {"N": "1"}, "m": {"M": {"a": {"S": "x"}}}}
    assert expr.project(new, paths) == {"n": {"N": "2"}, "m": {"M": {"a": {"S": "z"}}}}
