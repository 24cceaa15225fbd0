"""AttributeValue validation with DynamoDB's messages; item size; the item codec."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from item_strategies import normalised_items

from engine.errors import SerializationException, ValidationException
from engine.model import (
    MAX_ITEM_SIZE_BYTES,
    check_item_size,
    compare_values,
    decode_item,
    encode_item,
    item_size,
    validate_item,
    validate_key_value,
    values_equal,
)
from engine.model.itemcodec import decode_item_py, encode_item_py

P = "One or more parameter values were invalid: "


def test_valid_item_is_normalised():
    item = {
        "n": {"N": "1e3"},
        "ns": {"NS": ["1.50", "2"]},
        "m": {"M": {"l": {"L": [{"N": "010"}, {"S": ""}, {"B": b""}]}}},
        "t": {"BOOL": False},
        "z": {"NULL": True},
    }
    out = validate_item(item)
    assert out["n"] == {"N": "1000"}
    assert out["ns"] == {"NS": ["1.5", "2"]}
    assert out["m"]["M"]["l"]["L"][0] == {"N": "10"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {},
            P + "Supplied AttributeValue is empty, must contain exactly one of the supported "
            "datatypes",
        ),
        (
            {"S": "a", "N": "1"},
            P + "Supplied AttributeValue has more than one datatypes set, "
            "must contain exactly one of the supported datatypes",
        ),
        ({"SS": []}, P + "An string set  may not be empty"),
        ({"NS": []}, P + "An number set  may not be empty"),
        ({"BS": []}, P + "An binary set  may not be empty"),
        ({"SS": ["a", "a"]}, P + "Input collection [a, a] contains duplicates."),
        ({"NS": ["1000", "1e3"]}, P + "Input collection [1000, 1e3] contains duplicates."),
        ({"BS": [b"x", b"x"]}, P + "Input collection [eA==, eA==] contains duplicates."),
        ({"NULL": False}, P + "Null attribute value types must have the value of true"),
        (
            {"N": "1e999"},
            "Number overflow. Attempting to store a number with magnitude larger "
            "than supported range",
        ),
    ],
)
def test_invalid_values_raise_dynamodbs_message(value, message):
    with pytest.raises(ValidationException) as exc:
        validate_item({"a": value})
    assert exc.value.message == message


@pytest.mark.parametrize(
    "value", [{"S": 1}, {"N": 1}, {"B": "x"}, {"BOOL": "true"}, {"X": "1"}, "S"]
)
def test_wrong_python_types_are_serialization_errors(value):
    with pytest.raises(SerializationException):
        validate_item({"a": value})


def _nested(levels: int) -> dict:
    v: dict = {"S": "leaf"}
    for i in range(levels):
        v = {"M": {"k": v}} if i % 2 else {"L": [v]}
    return v


def test_nesting_up_to_32_levels_is_allowed_and_33_is_not():
    validate_item({"a": _nested(32)})
    with pytest.raises(ValidationException, match="Nesting Levels have exceeded supported limits"):
        validate_item({"a": _nested(33)})


def test_empty_strings_and_binaries_are_allowed_outside_keys():
    validate_item({"s": {"S": ""}, "b": {"B": b""}})


@pytest.mark.parametrize(
    ("value", "typ", "is_pk", "message"),
    [
        (
            {"S": ""},
            "S",
            True,
            "One or more parameter values are not valid. The AttributeValue "
            "for a key attribute cannot contain an empty string value. Key: k",
        ),
        (
            {"B": b""},
            "B",
            False,
            "One or more parameter values are not valid. The AttributeValue "
            "for a key attribute cannot contain an empty binary value. Key: k",
        ),
        ({"N": "1"}, "S", True, P + "Type mismatch for key k expected: S actual: N"),
        (
            {"S": "x" * 2049},
            "S",
            True,
            P + "Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ),
        (
            {"S": "x" * 1025},
            "S",
            False,
            P + "Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ),
    ],
)
def test_key_values(value, typ, is_pk, message):
    with pytest.raises(ValidationException) as exc:
        validate_key_value("k", value, typ, is_pk)
    assert exc.value.message == message


def test_key_size_limits_are_inclusive():
    validate_key_value("k", {"S": "x" * 2048}, "S", True)
    validate_key_value("k", {"B": b"x" * 1024}, "B", False)


# Sizes follow the Developer Guide, "Item sizes and formats" (and capacity unit pages):
# names count; M/L cost 3 bytes plus 1 per element; BOOL/NULL cost 1 byte.
@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"a": {"S": "abc"}}, 4),
        ({"é": {"S": "é"}}, 4),
        ({"a": {"N": "12345"}}, 1 + 4),
        ({"a": {"N": "-1.5"}}, 1 + 3),
        ({"a": {"BOOL": True}, "b": {"NULL": True}}, 4),
        ({"a": {"B": b"\x00\x01"}}, 3),
        ({"a": {"SS": ["x", "yz"]}}, 4),
        ({"a": {"L": []}}, 4),
        ({"a": {"M": {"k": {"S": "v"}}}}, 1 + 3 + 1 + 1 + 1),
        ({"a": {"L": [{"S": "v"}, {"N": "1"}]}}, 1 + 3 + 2 + 3),
    ],
)
def test_item_size_follows_dynamodb_rules(item, size):
    assert item_size(item) == size


def test_400kb_limit_uses_dynamodbs_message():
    ok = {"a": {"S": "x" * (MAX_ITEM_SIZE_BYTES - 1)}}
    assert check_item_size(ok) == MAX_ITEM_SIZE_BYTES
    with pytest.raises(
        ValidationException, match=r"^Item size has exceeded the maximum allowed size$"
    ):
        check_item_size({"ab": {"S": "x" * (MAX_ITEM_SIZE_BYTES - 1)}})


def test_equality_and_ordering():
    assert values_equal({"SS": ["a", "b"]}, {"SS": ["b", "a"]})
    assert not values_equal({"S": "1"}, {"N": "1"})
    assert compare_values({"N": "10"}, {"N": "9"}) == 1
    assert compare_values({"S": "10"}, {"S": "9"}) == -1
    assert compare_values({"B": b"\xff"}, {"B": b"\x01"}) == 1
    assert compare_values({"S": "a"}, {"N": "1"}) is None
    assert compare_values({"BOOL": True}, {"BOOL": True}) is None


# --- the item codec -----------------------------------------------------------------------------

_items = normalised_items(
    # at most 34 significant digits: DynamoDB's limit is 38 and validate_item enforces it
    st.decimals(min_value=-(10**30), max_value=10**30, places=3).map(
        lambda d: validate_item({"x": {"N": str(d)}})["x"]
    ),
    max_attributes=8,
)


@given(_items)
@settings(max_examples=300)
def test_item_codec_round_trips_every_type_and_native_equals_twin(item):
    data = encode_item(item)
    assert data == encode_item_py(item)
    assert decode_item(data) == item
    assert decode_item_py(data) == item


def test_item_codec_worked_example():
    # engine/model/itemcodec.py: {"a": {"N": "1"}} -> 01 01 01 61 02 01 31
    assert encode_item({"a": {"N": "1"}}).hex() == "01010161020131"


def test_item_codec_keeps_lone_surrogates_and_empty_values():
    item = {"s": {"S": "x\ud800"}, "e": {"S": ""}, "b": {"B": b""}, "f": {"BOOL": False}}
    assert decode_item(encode_item(item)) == item
    assert decode_item_py(encode_item_py(item)) == item


@pytest.mark.parametrize(
    "bad", [b"", b"\x02", b"\x01", b"\x01\x01", b"\x01\x01\x01a\x0c", b"\x01\x00\x00"]
)
def test_item_codec_rejects_garbage(bad):
    from engine.errors import InternalServerError

    with pytest.raises(InternalServerError):
        decode_item(bad)
    with pytest.raises(InternalServerError):
        decode_item_py(bad)


def test_item_codec_rejects_unnormalised_shapes():
    for bad in ({"a": {"X": "1"}}, {"a": {"S": 1}}, {"a": {}}, {"a": {"NULL": False}}):
        with pytest.raises(TypeError):
            encode_item(bad)


@given(st.binary(max_size=200))
@settings(max_examples=500)
def test_native_decoder_survives_arbitrary_bytes(data):
    from engine.errors import InternalServerError

    try:
        native = decode_item(b"\x01" + data)
    except InternalServerError:
        native = None
    try:
        twin = decode_item_py(b"\x01" + data)
    except InternalServerError:
        twin = None
    assert native == twin


@given(_items, st.data())
@settings(max_examples=200)
def test_native_decoder_survives_corrupted_items(item, data):
    from engine.errors import InternalServerError

    raw = bytearray(encode_item(item))
    i = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[i] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=1, max_value=len(raw)))
    for blob in (bytes(raw), bytes(raw[:cut])):
        try:
            decode_item(blob)
        except InternalServerError:
            pass
