"""The native model paths (csrc/itemcodec.c) against their pure-Python twins.

validate_item, validate_sized_item and item_size take C fast paths for common shapes and hand
everything else to Python; these properties feed them valid and invalid requests alike and
require the same result, or the same exception with the same message, as the twins.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from item_strategies import normalised_items

from engine.errors import DynamoDBError, InternalServerError
from engine.model import (
    decode_item,
    decode_page,
    decode_sized_item,
    encode_item,
    encode_sized_item,
    item_size,
    validate_item,
    validate_sized_item,
)
from engine.model.itemcodec import decode_item_py, decode_page_py, encode_item_py
from engine.model.size import item_size_py
from engine.model.values import validate_item_py

_number_text = st.one_of(
    st.text(alphabet="-0123456789.eE+", max_size=12),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers().map(str),
    st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{0,40})?", fullmatch=True),
)
_text = st.text(max_size=12)  # includes non-ASCII and lone surrogates
_raw_scalars = st.one_of(
    _text.map(lambda s: {"S": s}),
    _number_text.map(lambda s: {"N": s}),
    st.binary(max_size=8).map(lambda b: {"B": b}),
    st.binary(max_size=8).map(lambda b: {"B": bytearray(b)}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.booleans().map(lambda b: {"NULL": b}),
    st.lists(_text, max_size=3).map(lambda v: {"SS": v}),
    st.lists(_number_text, max_size=3).map(lambda v: {"NS": v}),
    st.lists(st.binary(max_size=3), max_size=3).map(lambda v: {"BS": v}),
    # the wrong Python types, empty and double values, unknown tags
    st.sampled_from(
        [
            {},
            {"S": "a", "N": "1"},
            {"S": 1},
            {"N": 1},
            {"B": "x"},
            {"BOOL": 1},
            {"NULL": None},
            {"X": "1"},
            {"SS": "a"},
            "S",
            None,
            {"L": "x"},
            {"M": []},
        ]
    ),
)
_raw_values = st.recursive(
    _raw_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(_text, inner, max_size=3).map(lambda v: {"M": v}),
    ),
    max_leaves=8,
)
_raw_items = st.one_of(
    st.dictionaries(st.one_of(_text, st.integers(0, 3)), _raw_values, max_size=6),
    st.sampled_from([None, [], "item"]),
)


def _outcome(fn, arg):
    try:
        return "ok", fn(arg)
    except DynamoDBError as exc:
        return type(exc).__name__, exc.message


@given(_raw_items)
@settings(max_examples=1500, deadline=None)
def test_native_validation_equals_the_python_twin(item):
    want = _outcome(validate_item_py, item)
    assert _outcome(validate_item, item) == want
    got_sized = _outcome(validate_sized_item, item)
    if want[0] == "ok":
        assert got_sized == ("ok", (want[1], item_size_py(want[1])))
    else:
        assert got_sized == want


@given(_number_text)
@settings(max_examples=1500, deadline=None)
def test_canonical_number_fast_path_agrees_with_normalize_number(text):
    item = {"n": {"N": text}}
    assert _outcome(validate_item, item) == _outcome(validate_item_py, item)


@given(_raw_items)
@settings(max_examples=500, deadline=None)
def test_native_item_size_equals_the_python_twin(item):
    try:
        normal = validate_item_py(item)
    except DynamoDBError:
        return
    assert item_size(normal) == item_size_py(normal)


def test_item_size_of_odd_shapes_is_the_python_answer():
    # Shapes a normalised item never has still get the twin's answer, not a crash.
    for odd in (
        {"a": {}},
        {"a": {"X": 1, "S": "abc"}},
        {"a": {"S": 5}},
        {"a": {"M": {"b": {"S": "x"}, 3: {"S": "y"}}}},
        {"a": {"L": [{"S": "x"}, {"N": "12"}]}},
        {"a": {"SS": ["é", "\ud800"]}},
    ):
        try:
            want = item_size_py(odd)
        except Exception as exc:  # the twin may fail on garbage: the native must fail alike
            with pytest.raises(type(exc)):
                item_size(odd)
        else:
            assert item_size(odd) == want


def test_fast_paths_share_unchanged_values_and_normalise_the_rest():
    s = {"S": "x"}
    out = validate_item({"s": s, "n": {"N": "1e3"}, "k": {"N": "12.5"}})
    assert out["s"] is s
    assert out == {"s": {"S": "x"}, "n": {"N": "1000"}, "k": {"N": "12.5"}}


def test_sizes_count_utf8_bytes_of_names_and_strings():
    item = {"é": {"S": "日本"}, "x": {"SS": ["\U0001f600", "\ud800"]}}
    assert item_size(item) == item_size_py(item) == 2 + 6 + 1 + 4 + 3
    assert validate_sized_item(item) == (item, 16)


# --- the codec entry points ---------------------------------------------------------------------

_items = normalised_items(
    _number_text.filter(lambda t: _outcome(validate_item_py, {"x": {"N": t}})[0] == "ok").map(
        lambda t: validate_item_py({"x": {"N": t}})["x"]
    ),
    max_attributes=14,
)


@given(_items, st.integers(0, 2**32 - 1), st.binary(max_size=6))
@settings(max_examples=500, deadline=None)
def test_sized_items_and_offsets_round_trip_like_the_twin(item, size, prefix):
    data = encode_item_py(item)
    assert encode_item(item) == data
    assert decode_item(prefix + data, len(prefix)) == item == decode_item_py(data)
    value = encode_sized_item(item, size)
    assert value == struct.pack("<I", size) + data
    assert decode_sized_item(value) == (item, size)


@given(st.binary(max_size=60))
@settings(max_examples=1000, deadline=None)
def test_sized_decoder_and_offsets_survive_arbitrary_bytes(data):
    try:
        twin = decode_item_py(b"\x01" + data)
    except InternalServerError:
        twin = None
    for decode in (
        lambda: decode_item(b"\x01" + data),
        lambda: decode_item(b"xyz\x01" + data, 3),
        lambda: decode_sized_item(b"\x07\x00\x00\x00\x01" + data)[0],
    ):
        try:
            native = decode()
        except InternalServerError as exc:
            assert str(exc).startswith("item codec: ")
            native = None
        assert native == twin


def test_decode_errors_are_internal_server_errors():
    for bad in (b"", b"\x02", b"\x01\x05", b"\x01\x01\x01a\x01\x05\xff\xfe"):
        with pytest.raises(InternalServerError, match=r"^item codec: "):
            decode_item(bad)
    with pytest.raises(InternalServerError):
        decode_sized_item(b"\x01\x00")
    with pytest.raises(InternalServerError):
        decode_item(b"\x01\x00", 2)
    with pytest.raises(OverflowError):
        encode_sized_item({}, 2**32)


# --- decode_page ----------------------------------------------------------------------------------


def _page_outcome(fn, rows, limit, max_bytes, accept, keep):
    try:
        return fn(iter(rows), limit, max_bytes, accept, keep)
    except InternalServerError:
        return "InternalServerError"
    except ZeroDivisionError:
        return "ZeroDivisionError"


@given(
    st.lists(st.tuples(_items, st.integers(0, 2000)), max_size=12),
    st.one_of(st.none(), st.integers(1, 14)),
    st.integers(0, 8000),
    st.sampled_from(["none", "even", "raises"]),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 12)),
)
@settings(max_examples=500, deadline=None)
def test_decode_page_equals_the_python_twin(items, limit, max_bytes, accept, keep, corrupt):
    rows = [(b"k%d" % i, encode_sized_item(it, size)) for i, (it, size) in enumerate(items)]
    if corrupt is not None and corrupt < len(rows):
        rows[corrupt] = (rows[corrupt][0], rows[corrupt][1][:5])  # a truncated value
    fn = {
        "none": None,
        "even": lambda item: len(item) % 2 == 0,
        "raises": lambda item: 1 / len(item),
    }[accept]
    want = _page_outcome(decode_page_py, rows, limit, max_bytes, fn, keep)
    assert _page_outcome(decode_page, rows, limit, max_bytes, fn, keep) == want


def test_decode_page_stops_at_the_limit_and_names_the_last_row():
    rows = [(b"k%d" % i, encode_sized_item({"a": {"N": str(i)}}, 100)) for i in range(5)]
    items, count, scanned, size, key, value = decode_page(iter(rows), 2, 10**6, None, True)
    assert (items, count, scanned, size) == ([{"a": {"N": "0"}}, {"a": {"N": "1"}}], 2, 2, 200)
    assert (key, value) == rows[1]
    assert decode_page(iter(rows), None, 250, None, False) == ([], 3, 3, 300, *rows[2])
    assert decode_page(iter(rows), None, 10**6, None, False)[4:] == (None, None)
    with pytest.raises(TypeError):
        decode_page(iter([(b"k", "not bytes")]), None, 10, None, True)


# --- key values -----------------------------------------------------------------------------------


def _key_outcome(value, expected, is_pk):
    from engine.model import validate_key_value

    try:
        validate_key_value("k", value, expected, is_pk)
    except DynamoDBError as exc:
        return type(exc).__name__, exc.message
    return "ok"


def _key_outcome_reference(value, expected, is_pk):
    # validate_key_value's general path, as it was before its fast path (the specification)
    from engine.errors import ValidationException, msg_key_empty
    from engine.model import value_type
    from engine.model.size import number_size

    try:
        tag = value_type(value)
        if tag != expected:
            raise ValidationException(
                "One or more parameter values were invalid: "
                f"Type mismatch for key k expected: {expected} actual: {tag}"
            )
        v = value[tag]
        if tag == "S":
            size = len(v.encode("utf-8", "surrogatepass"))
            if not size:
                raise ValidationException(msg_key_empty("string", "k"))
        elif tag == "B":
            size = len(v)
            if not size:
                raise ValidationException(msg_key_empty("binary", "k"))
        else:
            size = number_size(v)
        if is_pk and size > 2048:
            raise ValidationException(
                "One or more parameter values were invalid: "
                "Size of hashkey has exceeded the maximum size limit of2048 bytes"
            )
        if not is_pk and size > 1024:
            raise ValidationException(
                "One or more parameter values were invalid: "
                "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
            )
    except DynamoDBError as exc:
        return type(exc).__name__, exc.message
    return "ok"


_key_texts = st.one_of(
    st.text(max_size=4),
    st.integers(0, 1100).map(lambda n: "x" * n),
    st.integers(1000, 2100).map(lambda n: "é" * (n // 2)),
    st.integers(0, 40).map(lambda n: "1" * n + "3"),
)


@given(
    st.one_of(
        _key_texts.map(lambda s: {"S": s}),
        _key_texts.map(lambda s: {"N": s}),
        st.binary(max_size=3).map(lambda b: {"B": b}),
        st.integers(0, 2100).map(lambda n: {"B": b"x" * n}),
        st.sampled_from([{"S": "a", "N": "1"}, {"BOOL": True}]),
    ),
    st.sampled_from(["S", "N", "B"]),
    st.booleans(),
)
@settings(max_examples=800, deadline=None)
def test_key_value_fast_path_agrees_with_the_general_one(value, expected, is_pk):
    assert _key_outcome(value, expected, is_pk) == _key_outcome_reference(value, expected, is_pk)


def test_values_a_json_parser_made_are_validated_natively():
    """json.loads makes its own "S" and "BOOL" keys (not the interned tags): the native
    validator must still recognise them rather than hand every value to Python."""
    import json

    from engine.codec import native_items
    from engine.model.size import item_size_py
    from engine.model.values import validate_value

    calls = []

    def counting(value, depth=0):
        calls.append(value)
        return validate_value(value, depth)

    item = json.loads(
        '{"a": {"S": "x"}, "b": {"N": "1.5"}, "c": {"BOOL": true}, "d": {"NULL": true},'
        ' "e": {"B": "AA=="}}'
    )
    item["e"] = {"B": b"\x00"}  # JSON has no bytes; the wire layer decodes base64
    native_items.configure(InternalServerError, counting, validate_item_py, item_size_py)
    try:
        out, size = validate_sized_item(item)
    finally:
        native_items.configure(InternalServerError, validate_value, validate_item_py, item_size_py)
    assert calls == []
    assert out == item and size == item_size_py(item)
