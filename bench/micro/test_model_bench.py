"""Microbenchmarks of the model layer: item codec (against orjson and msgpack in the same run),
key encoding, expression parsing (cache miss and hit), condition evaluation, update application.

Run: ``python -m pytest bench/micro/test_model_bench.py --benchmark-enable -p no:cacheprovider``
Targets (issue 3): item encode <= 1 us; item decode <= orjson.loads of the wire JSON; key encode
<= 0.5 us; cached parse <= 1 us; a three-clause condition <= 5 us. Timings are reported, never
asserted.

Issue 4 (write, read and update rates) adds before/after pairs on YCSB's 1 KB item (10 fields
of 100 characters): the Python twins, or the call sequences of issue 4's start (slice, then
decode; size packed separately) ("before") against the fused native paths of
csrc/itemcodec.c ("after"), the model work of a PutItem as two call
sequences, and prepare() of an UpdateItem's expressions with and without its plan cached.
"""

from __future__ import annotations

import random
import struct

import msgpack
import orjson
import pytest

import engine.codec.keys as twin_keys
import engine.codec.native_keys as native_keys
import engine.expr.request as expr_request
from engine.expr import CONDITION, UPDATE, parse, prepare
from engine.expr.parser import parse as _parse_cached
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
from engine.model.size import item_size_py
from engine.model.values import validate_item_py

# A typical item: about 300 bytes of wire JSON, 6 attributes.
ITEM = validate_item(
    {
        "pk": {"S": "user#000123"},
        "sk": {"S": "order#2024-01-15#0001"},
        "status": {"S": "SHIPPED"},
        "total": {"N": "129.95"},
        "tags": {"SS": ["gift", "priority", "fragile"]},
        "address": {
            "M": {
                "street": {"S": "123 Main Street"},
                "city": {"S": "Springfield"},
                "zip": {"S": "12345"},
                "country": {"S": "US"},
            }
        },
    }
)
WIRE_JSON = orjson.dumps(ITEM)
MSGPACK = msgpack.packb(ITEM)
ENCODED = encode_item(ITEM)

CONDITION_TEXT = "#st = :s AND #tot BETWEEN :lo AND :hi AND contains(tags, :t)"
NAMES = {"#st": "status", "#tot": "total"}
VALUES = {
    ":s": {"S": "SHIPPED"},
    ":lo": {"N": "100"},
    ":hi": {"N": "200"},
    ":t": {"S": "gift"},
}
UPDATE_TEXT = "SET #tot = #tot + :d, #st = :s REMOVE address.zip ADD tags :t"
UPDATE_VALUES = {":d": {"N": "5"}, ":s": {"S": "DELIVERED"}, ":t": {"SS": ["late"]}}


def test_sizes_are_typical():
    # About 300 bytes of wire JSON and 6 attributes; orjson can encode it (no B values).
    assert 250 <= len(WIRE_JSON) <= 350 and len(ITEM) == 6
    assert len(ENCODED) < len(MSGPACK) < len(WIRE_JSON)


@pytest.mark.benchmark(group="item-decode")
def test_item_decode_shaledb(benchmark):
    assert benchmark(decode_item, ENCODED) == ITEM


@pytest.mark.benchmark(group="item-decode")
def test_item_decode_orjson_wire_json(benchmark):
    benchmark(orjson.loads, WIRE_JSON)


@pytest.mark.benchmark(group="item-decode")
def test_item_decode_msgpack(benchmark):
    benchmark(msgpack.unpackb, MSGPACK)


@pytest.mark.benchmark(group="item-encode")
def test_item_encode_shaledb(benchmark):
    benchmark(encode_item, ITEM)


@pytest.mark.benchmark(group="item-encode")
def test_item_encode_orjson_wire_json(benchmark):
    benchmark(orjson.dumps, ITEM)


@pytest.mark.benchmark(group="item-encode")
def test_item_encode_msgpack(benchmark):
    benchmark(msgpack.packb, ITEM)


@pytest.mark.benchmark(group="item-validate")
def test_item_validate(benchmark):
    benchmark(validate_item, ITEM)


@pytest.mark.benchmark(group="key")
def test_key_encode_native(benchmark):
    benchmark(native_keys.encode_primary_key, "S", "user#000123", "S", "order#2024-01-15#0001")


@pytest.mark.benchmark(group="key")
def test_key_encode_native_number_sort_key(benchmark):
    benchmark(native_keys.encode_primary_key, "S", "user#000123", "N", "129.95")


@pytest.mark.benchmark(group="key")
def test_key_encode_twin(benchmark):
    benchmark(twin_keys.encode_primary_key, "S", "user#000123", "S", "order#2024-01-15#0001")


@pytest.mark.benchmark(group="key")
def test_key_decode_native(benchmark):
    key = native_keys.encode_primary_key("S", "user#000123", "S", "order#2024-01-15#0001")
    benchmark(native_keys.decode_primary_key, key, "S", "S")


@pytest.mark.benchmark(group="parse")
def test_parse_cache_miss(benchmark):
    benchmark(_parse_cached.__wrapped__, CONDITION, CONDITION_TEXT)


@pytest.mark.benchmark(group="parse")
def test_parse_cache_hit(benchmark):
    parse(CONDITION, CONDITION_TEXT)
    benchmark(parse, CONDITION, CONDITION_TEXT)


@pytest.mark.benchmark(group="parse")
def test_prepare_request_cached(benchmark):
    """A whole request's expression handling with a warm cache: value validation, binding,
    use checks."""
    benchmark(prepare, names=NAMES, values=VALUES, condition=CONDITION_TEXT)


@pytest.mark.benchmark(group="evaluate")
def test_condition_three_clauses(benchmark):
    p = prepare(names=NAMES, values=VALUES, condition=CONDITION_TEXT)
    assert benchmark(p.check_condition, ITEM) is True


@pytest.mark.benchmark(group="evaluate")
def test_update_application(benchmark):
    p = prepare(names=NAMES, values=UPDATE_VALUES, update=UPDATE_TEXT)
    out = benchmark(p.apply_update, ITEM)
    assert out["total"] == {"N": "134.95"}


# --- issue 4: before/after on YCSB's 1 KB item -------------------------------------------------

_rng = random.Random(7)
YCSB = {"pk": {"S": "user100000"}, "sk": {"N": "10000000"}}
for _i in range(10):
    YCSB[f"field{_i}"] = {"S": _rng.randbytes(50).hex()}
YCSB_ENCODED = encode_item(YCSB)
YCSB_VALUE = encode_sized_item(YCSB, item_size(YCSB))
_SIZE = struct.Struct("<I")


@pytest.mark.benchmark(group="ycsb-decode")
def test_ycsb_decode_before_slice_then_decode(benchmark):
    assert benchmark(lambda v: (decode_item(v[4:]), _SIZE.unpack_from(v)[0]), YCSB_VALUE)[0] == YCSB


@pytest.mark.benchmark(group="ycsb-decode")
def test_ycsb_decode_after_decode_item_at_offset(benchmark):
    assert benchmark(decode_item, YCSB_VALUE, 4) == YCSB


@pytest.mark.benchmark(group="ycsb-decode")
def test_ycsb_decode_after_decode_sized_item(benchmark):
    assert benchmark(decode_sized_item, YCSB_VALUE) == (YCSB, item_size(YCSB))


@pytest.mark.benchmark(group="ycsb-validate")
def test_ycsb_validate_before_python(benchmark):
    benchmark(validate_item_py, YCSB)


@pytest.mark.benchmark(group="ycsb-validate")
def test_ycsb_validate_after_native(benchmark):
    assert benchmark(validate_item, YCSB) == YCSB


@pytest.mark.benchmark(group="ycsb-size")
def test_ycsb_size_before_python(benchmark):
    benchmark(item_size_py, YCSB)


@pytest.mark.benchmark(group="ycsb-size")
def test_ycsb_size_after_native(benchmark):
    assert benchmark(item_size, YCSB) == item_size_py(YCSB)


def _put_model_work_before(item: dict) -> bytes:
    # engine/api/items.py build_put + engine/table/table.py encode_value, as of issue 4's start
    item = validate_item_py(item)
    size = item_size_py(item)
    return _SIZE.pack(size) + encode_item(item)


def _put_model_work_after(item: dict) -> bytes:
    item, size = validate_sized_item(item)
    return encode_sized_item(item, size)


@pytest.mark.benchmark(group="ycsb-put-model-work")
def test_ycsb_put_model_work_before(benchmark):
    assert benchmark(_put_model_work_before, YCSB) == YCSB_VALUE


@pytest.mark.benchmark(group="ycsb-put-model-work")
def test_ycsb_put_model_work_after_fused(benchmark):
    assert benchmark(_put_model_work_after, YCSB) == YCSB_VALUE


_UPDATE_REQUEST = {
    "condition": "attribute_exists(pk)",
    "update": "SET field1 = :v",
    "values": {":v": {"S": "c" * 100}},
    "value_kinds": (UPDATE, CONDITION),
}


def _prepare_without_plan() -> None:
    expr_request._PLANS.clear()
    prepare(**_UPDATE_REQUEST)


@pytest.mark.benchmark(group="ycsb-update-prepare")
def test_ycsb_update_prepare_before_no_plan_cache(benchmark):
    benchmark(_prepare_without_plan)


@pytest.mark.benchmark(group="ycsb-update-prepare")
def test_ycsb_update_prepare_after_plan_cached(benchmark):
    prepare(**_UPDATE_REQUEST)
    benchmark(prepare, **_UPDATE_REQUEST)


_PAGE_ROWS = [(b"key%03d" % i, YCSB_VALUE) for i in range(100)]


def _read_page_loop_before(rows: list) -> list:
    # engine/table/read.py read_page's loop (no filter, no limit), as of issue 4's start
    decode = decode_item
    unpack = _SIZE.unpack_from
    items = []
    scanned = size = 0
    for _skey, data in rows:
        item = decode(data[4:])
        scanned += 1  # noqa: SIM113 (the loop being measured counts this way)
        size += unpack(data)[0]
        items.append(item)
        if size >= 1 << 20:
            break
    return items


@pytest.mark.benchmark(group="ycsb-page-of-100")
def test_ycsb_page_of_100_before_python_loop(benchmark):
    assert len(benchmark(_read_page_loop_before, _PAGE_ROWS)) == 100


@pytest.mark.benchmark(group="ycsb-page-of-100")
def test_ycsb_page_of_100_after_decode_page(benchmark):
    out = benchmark(lambda rows: decode_page(iter(rows), None, 1 << 20, None, True), _PAGE_ROWS)
    assert out[1] == 100
