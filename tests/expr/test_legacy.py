"""Legacy conditional parameters: translation to the expression tree and DynamoDB's errors.

Semantics follow the Developer Guide's "Legacy conditional parameters" pages: Expected
(Value / Exists / ComparisonOperator), AttributeUpdates (PUT, ADD, DELETE; ADD of a list appends),
KeyConditions, QueryFilter/ScanFilter with ConditionalOperator, AttributesToGet.
"""

from __future__ import annotations

import pytest

from engine.errors import ValidationException
from engine.expr import analyze_key_condition, check_not_mixed, prepare, prepare_legacy

ITEM = {
    "a": {"N": "1"},
    "s": {"S": "hello"},
    "ss": {"SS": ["x", "y"]},
    "l": {"L": [{"S": "p"}]},
    "n": {"N": "10"},
}
P = "One or more parameter values were invalid: "


def _av(*values):
    return {"AttributeValueList": list(values)}


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    [
        ("EQ", [{"N": "10"}], True),
        ("NE", [{"N": "10"}], False),
        ("LT", [{"N": "11"}], True),
        ("LE", [{"N": "10"}], True),
        ("GT", [{"N": "10"}], False),
        ("GE", [{"N": "10"}], True),
        ("IN", [{"N": "1"}, {"N": "10"}], True),
        ("BETWEEN", [{"N": "1"}, {"N": "9"}], False),
        ("NOT_NULL", [], True),
        ("NULL", [], False),
    ],
)
def test_scan_filter_operators_on_numbers(op, args, expected):
    p = prepare_legacy(scan_filter={"n": {"ComparisonOperator": op, **_av(*args)}})
    assert p.matches_filter(ITEM) is expected


@pytest.mark.parametrize(
    ("attr", "op", "arg", "expected"),
    [
        ("s", "CONTAINS", {"S": "ell"}, True),
        ("ss", "CONTAINS", {"S": "x"}, True),
        ("ss", "NOT_CONTAINS", {"S": "x"}, False),
        ("l", "CONTAINS", {"S": "p"}, True),
        ("s", "BEGINS_WITH", {"S": "he"}, True),
        ("gone", "NOT_CONTAINS", {"S": "x"}, True),
    ],
)
def test_scan_filter_string_functions(attr, op, arg, expected):
    p = prepare_legacy(scan_filter={attr: {"ComparisonOperator": op, **_av(arg)}})
    assert p.matches_filter(ITEM) is expected


def test_conditional_operator_or():
    filters = {
        "n": {"ComparisonOperator": "EQ", **_av({"N": "0"})},
        "s": {"ComparisonOperator": "EQ", **_av({"S": "hello"})},
    }
    assert prepare_legacy(query_filter=filters, conditional_operator="OR").matches_filter(ITEM)
    assert not prepare_legacy(query_filter=filters, conditional_operator="AND").matches_filter(ITEM)


def test_expected_value_exists_and_operator_forms():
    assert prepare_legacy(expected={"a": {"Value": {"N": "1"}}}).check_condition(ITEM)
    assert prepare_legacy(expected={"a": {"Value": {"N": "1"}, "Exists": True}}).check_condition(
        ITEM
    )
    assert prepare_legacy(expected={"gone": {"Exists": False}}).check_condition(ITEM)
    assert not prepare_legacy(expected={"a": {"Exists": False}}).check_condition(ITEM)
    assert prepare_legacy(
        expected={"n": {"ComparisonOperator": "GT", **_av({"N": "5"})}}
    ).check_condition(ITEM)
    # No item at all: only "does not exist" holds.
    assert prepare_legacy(expected={"a": {"Exists": False}}).check_condition(None)


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        (
            {"a": {"Exists": False, "Value": {"N": "1"}}},
            P + "Value cannot be used when Exists is false for Attribute: a",
        ),
        (
            {"a": {"Exists": True}},
            P + "Value must be provided when Exists is true for Attribute: a",
        ),
        (
            {"a": {"Exists": True, "ComparisonOperator": "EQ", **_av({"N": "1"})}},
            P + "Exists and ComparisonOperator cannot be used together for Attribute: a",
        ),
        (
            {"a": {"ComparisonOperator": "EQ"}},
            P + "Invalid number of argument(s) for the EQ ComparisonOperator",
        ),
        (
            {"a": {"ComparisonOperator": "LT", **_av({"SS": ["x"]})}},
            P + "ComparisonOperator LT is not valid for SS AttributeValue type",
        ),
    ],
)
def test_expected_errors(expected, message):
    with pytest.raises(ValidationException) as exc:
        prepare_legacy(expected=expected)
    assert exc.value.message == message


def test_attribute_updates_put_add_delete():
    p = prepare_legacy(
        attribute_updates={
            "new": {"Action": "PUT", "Value": {"S": "v"}},
            "n": {"Action": "ADD", "Value": {"N": "5"}},
            "ss": {"Action": "DELETE", "Value": {"SS": ["x"]}},
            "s": {"Action": "DELETE"},
            "l": {"Action": "ADD", "Value": {"L": [{"S": "q"}]}},
            "fresh": {"Action": "ADD", "Value": {"L": [{"S": "r"}]}},
        }
    )
    out = p.apply_update(ITEM)
    assert out == {
        "a": {"N": "1"},
        "new": {"S": "v"},
        "n": {"N": "15"},
        "ss": {"SS": ["y"]},
        "l": {"L": [{"S": "p"}, {"S": "q"}]},
        "fresh": {"L": [{"S": "r"}]},
    }


def test_attribute_updates_errors():
    with pytest.raises(ValidationException, match="Only DELETE action is allowed"):
        prepare_legacy(attribute_updates={"a": {"Action": "PUT"}})
    with pytest.raises(ValidationException, match="Action DELETE is not supported for the type N"):
        prepare_legacy(attribute_updates={"a": {"Action": "DELETE", "Value": {"N": "1"}}})


def test_key_conditions_translate_to_the_same_key_condition_as_the_expression():
    legacy = prepare_legacy(
        key_conditions={
            "pk": {"ComparisonOperator": "EQ", **_av({"S": "x"})},
            "sk": {"ComparisonOperator": "BEGINS_WITH", **_av({"S": "ab"})},
        }
    )
    expr = prepare(
        values={":p": {"S": "x"}, ":s": {"S": "ab"}},
        key_condition="pk = :p AND begins_with(sk, :s)",
    )
    a = analyze_key_condition(legacy.key_condition.root, "pk", "sk")
    b = analyze_key_condition(expr.key_condition.root, "pk", "sk")
    assert (a.sort_op, legacy.values[a.partition_value.name]) == (
        b.sort_op,
        expr.values[b.partition_value.name],
    )


def test_key_conditions_reject_non_indexable_operators():
    with pytest.raises(ValidationException, match="not an indexable operation"):
        prepare_legacy(key_conditions={"pk": {"ComparisonOperator": "NE", **_av({"S": "x"})}})


def test_attributes_to_get_projects():
    p = prepare_legacy(attributes_to_get=["a", "s", "gone"])
    assert p.project(ITEM) == {"a": {"N": "1"}, "s": {"S": "hello"}}
    with pytest.raises(ValidationException, match="Duplicate value in attribute name: a"):
        prepare_legacy(attributes_to_get=["a", "a"])


def test_mixing_legacy_and_expression_parameters_is_rejected():
    check_not_mixed({"Expected", "Key"})
    check_not_mixed({"ConditionExpression", "ExpressionAttributeValues"})
    with pytest.raises(ValidationException) as exc:
        check_not_mixed({"AttributesToGet", "ProjectionExpression"})
    assert exc.value.message == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet} Expression parameters: "
        "{ProjectionExpression}"
    )


def test_conditional_operator_needs_two_conditions():
    with pytest.raises(ValidationException, match="two or more"):
        prepare_legacy(
            scan_filter={"a": {"ComparisonOperator": "NOT_NULL"}}, conditional_operator="OR"
        )
