"""The compiled shape predicates (shapes._passer) let a request skip the validation walk:
one they pass must be one the walk accepts without a word. Held to the walk over the
fuzz's guided requests for every operation, and over boundary values."""

import random

import pytest

from engine.api import service_model, shapes
from engine.errors import SerializationException, ValidationException
from tests.server.test_fuzz import guided

OPERATIONS = sorted(n for n, op in service_model()["operations"].items() if "input" in op)


def walk(shape_name: str, params: object) -> list[str] | str:
    """The walk's verdict: its errors, or the exception it raises."""
    errors: list[str] = []
    try:
        shapes._check(shape_name, params, "", errors)
    except (ValidationException, SerializationException) as exc:
        return type(exc).__name__
    return errors


@pytest.mark.parametrize("seed", range(4))
def test_what_the_predicate_passes_the_walk_accepts(seed):
    rng = random.Random(seed)
    passed = 0
    for _ in range(5000):
        op = rng.choice(OPERATIONS)
        shape_name = service_model()["operations"][op]["input"]["shape"]
        params = guided(rng, shape_name)
        if shapes._passer(shape_name)(params):
            passed += 1
            assert walk(shape_name, params) == [], (op, params)
    assert passed > 200  # the guided requests are valid often enough to test something


BOUNDS = (
    [
        ("DescribeTable", {"TableName": name})
        for name in (
            "ab",
            "abc",
            "a" * 255,
            "a" * 256,
            "a b",
            "arn:aws:dynamodb:x:1:table/t",
            "t.-_",
        )
    ]
    + [
        ("Scan", {"TableName": "abc", "Limit": limit})
        for limit in (0, 1, True, 1.0, -1, 2**31, "1")
    ]
    + [
        ("Scan", {"TableName": "abc", "Segment": 0, "TotalSegments": n})
        for n in (0, 1, 1000000, 1000001)
    ]
    + [("Scan", {"TableName": "abc", "Select": s}) for s in ("COUNT", "count", "", None, 1)]
    + [
        ("BatchGetItem", {"RequestItems": {"abc": {"Keys": [{"pk": {"S": "a"}}] * n}}})
        for n in (0, 1, 100, 101)
    ]
    + [
        ("BatchWriteItem", {"RequestItems": {"abc": [{"PutRequest": {"Item": {}}}] * n}})
        for n in (0, 1, 25, 26)
    ]
    + [
        ("BatchGetItem", {"RequestItems": {t: {"Keys": [{"pk": {"S": "a"}}]} for t in range(1)}}),
        ("TransactWriteItems", {"TransactItems": []}),
        (
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "abc", "Item": {}}}] * 100},
        ),
        (
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "abc", "Item": {}}}] * 101},
        ),
        ("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "ab", "Item": {}}}]}),
        ("TransactWriteItems", {"TransactItems": [{"Put": {"Item": {}}}]}),
        ("TransactWriteItems", {"TransactItems": [{"Put": None}]}),
        (
            "TransactWriteItems",
            {
                "TransactItems": [{"Put": {"TableName": "abc", "Item": {}}}],
                "ClientRequestToken": "x" * 37,
            },
        ),
        (
            "GetItem",
            {"TableName": "abc", "Key": {}, "ExpressionAttributeNames": {"#a": "a", 1: "b"}},
        ),
        ("GetItem", {"TableName": "abc", "Key": {}, "AttributesToGet": []}),
        ("GetItem", {"TableName": "abc", "Key": {}, "AttributesToGet": ["a"]}),
        (
            "Query",
            {
                "TableName": "abc",
                "KeyConditions": {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": []}},
            },
        ),
        ("Query", {"TableName": "abc", "KeyConditions": {"pk": {"ComparisonOperator": "XX"}}}),
        ("Query", {"TableName": "abc", "ExclusiveStartKey": {"pk": {"S": "a"}}, "Limit": 5}),
        ("CreateTable", {"TableName": "abc", "KeySchema": [], "AttributeDefinitions": []}),
        ("TagResource", {"ResourceArn": "x", "Tags": [{"Key": "k", "Value": "v"}] * 51}),
    ]
)


@pytest.mark.parametrize("operation,params", BOUNDS, ids=range(len(BOUNDS)))
def test_boundary_values_pass_only_where_the_walk_accepts_them(operation, params):
    shape_name = service_model()["operations"][operation]["input"]["shape"]
    verdict = walk(shape_name, params)
    if shapes._passer(shape_name)(params):
        assert verdict == [], verdict
    if verdict == []:  # and the fast path is taken where it can be: it exists for speed
        assert shapes._passer(shape_name)(params), params


def test_every_pattern_of_the_model_compiles_with_its_java_meaning():
    """The model's patterns are Java's: two of them would not compile in Python as they
    are, and a request reaching them would have been an internal error."""
    model = service_model()["shapes"]
    for shape in model.values():
        if "pattern" in shape:
            shapes._pattern(shape["pattern"])
    role = shapes._pattern(model["AutoScalingRoleArn"]["pattern"])
    assert role.fullmatch("arn:aws:iam::123:role/r\U0001f642\t")
    assert not role.fullmatch("\x00")
    printable = shapes._pattern(model["AutoScalingPolicyName"]["pattern"])
    assert printable.fullmatch("policy name ~!")
    assert not printable.fullmatch("caf\u00e9") and not printable.fullmatch("")
