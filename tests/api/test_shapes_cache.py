"""Request validation remembers request shapes that passed: what it remembers must never
let through a request that the full walk refuses."""

import pytest

from engine.api import shapes
from engine.errors import SerializationException, ValidationException

KEY = {"pk": {"S": "a"}}


def refusal(operation, params):
    try:
        shapes.validate(operation, params)
    except (ValidationException, SerializationException) as exc:
        return type(exc).__name__, exc.message
    return None


@pytest.fixture(autouse=True)
def empty_cache():
    shapes._valid.clear()
    yield
    shapes._valid.clear()


def test_a_remembered_shape_still_refuses_its_invalid_neighbours():
    good = {"TableName": "abc", "Key": KEY, "ConsistentRead": True}
    assert refusal("GetItem", good) is None
    assert shapes._shape_key("GetItem", good) in shapes._valid
    assert refusal("GetItem", good) is None  # from memory
    # the same members with other values: each is walked, and refused as before
    assert refusal("GetItem", dict(good, TableName="ab"))[0] == "ValidationException"
    assert refusal("GetItem", dict(good, TableName="a b c"))[0] == "ValidationException"
    assert refusal("GetItem", dict(good, ConsistentRead=1))[0] == "SerializationException"
    assert refusal("GetItem", dict(good, Key=None))[0] == "ValidationException"
    assert refusal("GetItem", {"TableName": "abc"})[0] == "ValidationException"


def test_true_and_one_are_remembered_apart():
    assert refusal("Scan", {"TableName": "abc", "Limit": 1}) is None
    assert refusal("Scan", {"TableName": "abc", "Limit": True})[0] == "SerializationException"
    assert refusal("Scan", {"TableName": "abc", "ConsistentRead": True}) is None
    assert refusal("Scan", {"TableName": "abc", "ConsistentRead": 1})[0] == (
        "SerializationException"
    )


def test_requests_with_structured_members_are_not_remembered():
    params = {"TableName": "abc", "Key": KEY, "ExpressionAttributeNames": {"#a": "a"}}
    assert refusal("GetItem", params) is None
    assert shapes._shape_key("GetItem", params) is None
    assert not shapes._valid


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(shapes, "VALID_CACHE_ENTRIES", 8)
    for i in range(50):
        assert refusal("GetItem", {"TableName": f"table{i}", "Key": KEY}) is None
        assert len(shapes._valid) <= 8


def _writes(n, table="abc"):
    return {table: [{"PutRequest": {"Item": {"pk": {"S": str(i)}}}} for i in range(n)]}


BATCH_WRITES = [
    {"RequestItems": _writes(3)},
    {"RequestItems": _writes(25)},
    {"RequestItems": _writes(26)},
    {"RequestItems": _writes(0)},
    {"RequestItems": {}},
    {"RequestItems": _writes(3, "ab")},
    {"RequestItems": _writes(3, "a b c")},
    {"RequestItems": {**_writes(2), **_writes(2, "xyz")}},
    {"RequestItems": {"abc": [{"DeleteRequest": {"Key": KEY}}]}},
    {"RequestItems": {"abc": [{"DeleteRequest": {"Item": KEY}}]}},
    {"RequestItems": {"abc": [{"PutRequest": {"Key": KEY}}]}},
    {"RequestItems": {"abc": [{"PutRequest": {"Item": KEY}, "DeleteRequest": {"Key": KEY}}]}},
    {"RequestItems": {"abc": [{"PutRequest": {"Item": "x"}}]}},
    {"RequestItems": {"abc": [{"PutRequest": {"Item": KEY, "Extra": 1}}]}},
    {"RequestItems": {"abc": [{"PutRequest": None}]}},
    {"RequestItems": {"abc": [{}]}},
    {"RequestItems": {"abc": ["x"]}},
    {"RequestItems": {"abc": {"PutRequest": {"Item": KEY}}}},
    {"RequestItems": _writes(3), "ReturnConsumedCapacity": "TOTAL"},
    {"RequestItems": _writes(3), "ReturnConsumedCapacity": "ALL"},
    {"RequestItems": _writes(3), "ReturnItemCollectionMetrics": 1},
]


@pytest.mark.parametrize("params", BATCH_WRITES, ids=range(len(BATCH_WRITES)))
def test_remembered_batch_writes_refuse_exactly_what_the_walk_refuses(params):
    """Every variant's outcome, with the cache holding all the others that passed, is the
    outcome of a walk from an empty cache."""
    walked = refusal("BatchWriteItem", params)
    for other in BATCH_WRITES:
        refusal("BatchWriteItem", other)
    if walked is None:
        assert shapes._shape_key("BatchWriteItem", params) in shapes._valid or (
            shapes._shape_key("BatchWriteItem", params) is None
        )
    assert refusal("BatchWriteItem", params) == walked


def test_plain_batch_writes_are_remembered_by_table_and_count():
    assert refusal("BatchWriteItem", {"RequestItems": _writes(25)}) is None
    key = shapes._shape_key("BatchWriteItem", {"RequestItems": _writes(25)})
    assert key == ("BatchWriteItem", (("abc", 25),))
    assert key in shapes._valid
    mixed = {"abc": [{"DeleteRequest": {"Key": KEY}}] * 25}
    assert shapes._shape_key("BatchWriteItem", {"RequestItems": mixed}) in shapes._valid
