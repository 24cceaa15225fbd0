"""Microbenchmarks of the model layer: item codec (against orjson and msgpack in the same run),
key encoding, expression parsing (cache miss and hit), condition evaluation, update application.

Run: ``python -m pytest bench/micro/test_model_bench.py --benchmark-enable -p no:cacheprovider``
Targets (issue 3): item encode <= 1 us; item decode <= orjson.loads of the wire JSON; key encode
<= 0.5 us; cached parse <= 1 us; a three-clause condition <= 5 us. Timings are reported, never
asserted.
"""

from __future__ import annotations

import msgpack
import orjson
import pytest

import engine.codec.keys as twin_keys
import engine.codec.native_keys as native_keys
from engine.expr import CONDITION, parse, prepare
from engine.expr.parser import parse as _parse_cached
from engine.model import decode_item, encode_item, validate_item

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
