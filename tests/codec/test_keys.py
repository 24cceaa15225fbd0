"""Key codec: order preservation, round trips and native-versus-twin agreement."""

from __future__ import annotations

import zlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.codec.keys as twin
import engine.codec.native_keys as native
from engine.model import normalize_number

CODECS = [pytest.param(twin, id="twin"), pytest.param(native, id="native")]

# Numbers across DynamoDB's whole range: up to 38 significant digits, exponent -130..+125.
numbers = st.builds(
    lambda sign, digits, exp: normalize_number(f"{sign}{digits}E{exp}"),
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**38 - 1).map(str),
    st.integers(min_value=-130, max_value=125 - 37),
)
strings = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
binaries = st.binary(max_size=40)


def _utf8(s: str) -> bytes:
    return s.encode("utf-8")


@pytest.mark.parametrize("codec", CODECS)
@given(a=numbers, b=numbers)
@settings(max_examples=300)
def test_number_order_is_numeric_order(codec, a, b):
    ea, eb = codec.encode_key_value("N", a), codec.encode_key_value("N", b)
    assert (ea < eb) == (Decimal(a) < Decimal(b))
    assert (ea == eb) == (Decimal(a) == Decimal(b))


@pytest.mark.parametrize("codec", CODECS)
@given(a=strings, b=strings)
def test_string_order_is_utf8_byte_order(codec, a, b):
    ea, eb = codec.encode_key_value("S", a), codec.encode_key_value("S", b)
    assert (ea < eb) == (_utf8(a) < _utf8(b))


@pytest.mark.parametrize("codec", CODECS)
@given(a=binaries, b=binaries)
def test_binary_order_is_unsigned_byte_order(codec, a, b):
    ea, eb = codec.encode_key_value("B", a), codec.encode_key_value("B", b)
    assert (ea < eb) == (a < b)


@pytest.mark.parametrize("codec", CODECS)
@given(
    st.one_of(
        numbers.map(lambda v: ("N", v)),
        strings.map(lambda v: ("S", v)),
        binaries.map(lambda v: ("B", v)),
    )
)
def test_decode_inverts_encode(codec, tv):
    tag, value = tv
    enc = codec.encode_key_value(tag, value)
    assert codec.decode_key_value(tag, enc + b"tail") == (value, len(enc))


@given(
    st.one_of(
        numbers.map(lambda v: ("N", v)),
        strings.map(lambda v: ("S", v)),
        binaries.map(lambda v: ("B", v)),
    )
)
@settings(max_examples=300)
def test_native_equals_twin(tv):
    tag, value = tv
    assert native.encode_key_value(tag, value) == twin.encode_key_value(tag, value)


@given(
    pk=st.one_of(strings.map(lambda v: ("S", v)), numbers.map(lambda v: ("N", v))),
    sk=st.one_of(st.none(), binaries.map(lambda v: ("B", v)), numbers.map(lambda v: ("N", v))),
)
def test_primary_key_native_equals_twin_and_round_trips(pk, sk):
    sk_tag, sk_value = sk if sk else (None, None)
    a = twin.encode_primary_key(pk[0], pk[1], sk_tag, sk_value)
    b = native.encode_primary_key(pk[0], pk[1], sk_tag, sk_value)
    assert a == b
    assert twin.decode_primary_key(a, pk[0], sk_tag) == (pk[1], sk_value)
    assert native.decode_primary_key(a, pk[0], sk_tag) == (pk[1], sk_value)


@given(st.binary(max_size=64))
def test_hash_is_fmix_of_zlib_crc32(data):
    assert native.partition_hash(data) == twin.partition_hash(data)
    h = zlib.crc32(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    assert twin.partition_hash(data) == h ^ (h >> 16)


@pytest.mark.parametrize("codec", CODECS)
def test_equal_numbers_however_written_encode_equal(codec):
    encodings = {
        codec.encode_key_value("N", normalize_number(t)) for t in ("1000", "1e3", "1000.0", "01000")
    }
    assert len(encodings) == 1


@pytest.mark.parametrize("codec", CODECS)
def test_range_extremes_round_trip_and_sort(codec):
    extremes = [
        "-9.9999999999999999999999999999999999999E+125",
        "-1E-130",
        "0",
        "1E-130",
        "9.9999999999999999999999999999999999999E+125",
    ]
    values = [normalize_number(t) for t in extremes]
    encoded = [codec.encode_key_value("N", v) for v in values]
    assert encoded == sorted(encoded)
    assert [codec.decode_key_value("N", e)[0] for e in encoded] == values


@pytest.mark.parametrize("codec", CODECS)
def test_worked_example_bytes(codec):
    # -3.25 = -0.325 x 10^1: tag 0x01, ~(1+129)=0x7D, ~(0x43 0x60) = 0xBC 0x9F.
    assert codec.encode_key_value("N", "-3.25").hex() == "017dbc9f"
    assert codec.encode_key_value("S", "a\x00b").hex() == "6100ff620001"
    assert codec.encode_primary_key("S", "a\x00b", "N", "-3.25").hex() == (
        "079a74bc6100ff620001017dbc9f"
    )


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("bad", [b"\x00", b"ab", b"a\x00\x05", b"\x04\x80"])
def test_malformed_bytes_raise_value_error(codec, bad):
    with pytest.raises(ValueError):
        codec.decode_key_values(["S"], bad)
    if bad[:1] != b"\x02":
        with pytest.raises(ValueError):
            codec.decode_key_values(["N"], bad)


@pytest.mark.parametrize("codec", CODECS)
def test_non_canonical_number_rejected(codec):
    with pytest.raises(ValueError):
        codec.encode_key_value("N", "1E+200")
