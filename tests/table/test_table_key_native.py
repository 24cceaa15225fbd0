"""engine.codec.table_key (the native half of storage_key) against the Python rules: a key it
encodes is the key they encode, and every key they refuse it leaves to them."""

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.codec import table_key
from engine.errors import ValidationException
from engine.table.schema import TableDef, py_storage_key, storage_key


def table(hash_type, range_type):
    return TableDef(
        name="t",
        table_id="id",
        keyspace="t",
        hash_key="h",
        range_key=None if range_type is None else "r",
        attributes={"h": hash_type, **({} if range_type is None else {"r": range_type})},
        created_s=0.0,
    )


numbers = st.sampled_from(["0", "1", "-1", "3.5", "10000000000", "-0.001", "12345678901234567890"])
texts = st.one_of(st.text(max_size=6), st.text(min_size=1020, max_size=1030).map(lambda s: s * 2))
blobs = st.one_of(
    st.binary(max_size=6), st.binary(min_size=1020, max_size=1030).map(lambda b: b * 2)
)
value = st.one_of(
    st.builds(lambda s: {"S": s}, texts),
    st.builds(lambda n: {"N": n}, numbers),
    st.builds(lambda b: {"B": b}, blobs),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.builds(lambda s, n: {"S": s, "N": n}, st.text(max_size=3), numbers),
)
types = st.sampled_from("SNB")


@settings(max_examples=500)
@given(types, st.none() | types, st.dictionaries(st.sampled_from(["h", "r", "x"]), value))
def test_table_key_agrees_with_the_python_rules(hash_type, range_type, item):
    d = table(hash_type, range_type)
    try:
        want = py_storage_key(d, item)
    except ValidationException:
        want = None
    got = table_key(d.attributes, d.hash_key, d.range_key, item)
    if got is not None:
        assert got == want
    if want is None:
        assert got is None
    assert storage_key(d, item) == want if want is not None else True


def test_plain_keys_take_the_native_path():
    d = table("S", "N")
    item = {"h": {"S": "user"}, "r": {"N": "42"}, "other": {"S": "x"}}
    assert table_key(d.attributes, d.hash_key, d.range_key, item) == py_storage_key(d, item)
    d = table("B", None)
    assert table_key(d.attributes, "h", None, {"h": {"B": b"\x00\xff"}}) == py_storage_key(
        d, {"h": {"B": b"\x00\xff"}}
    )
