"""The native halves of index maintenance against the Python rules they shortcut:
engine.codec.index_entries against entry_key and encode_entry, index_keys_plausible
against the full key check (engine/index/entries.py)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.codec import index_entries, index_keys_plausible
from engine.errors import ValidationException
from engine.index.entries import _refuse, check_index_keys, encode_entry, entry_key, kept_names
from engine.model import item_size
from engine.table import IndexDef, TableDef, encode_value

ATTRS = {"pk": "S", "sk": "N", "a": "S", "b": "N", "c": "B"}
TABLE = TableDef(
    name="t",
    table_id="id",
    keyspace="t",
    hash_key="pk",
    range_key="sk",
    attributes=ATTRS,
    created_s=0.0,
    indexes=tuple(
        IndexDef(
            name=f"ix{i}",
            is_global=True,
            hash_keys=(h,),
            range_keys=r,
            projection=proj,
            non_key=("x", "c") if proj == "INCLUDE" else (),
            keyspace=f"ks{i}",
        )
        for i, (h, r, proj) in enumerate(
            [
                ("a", (), "ALL"),
                ("a", ("b",), "KEYS_ONLY"),
                ("b", ("c",), "INCLUDE"),
                ("c", ("a",), "ALL"),
                ("pk", ("a",), "INCLUDE"),
                ("b", ("sk",), "KEYS_ONLY"),
            ]
        )
    ),
)

numbers = st.sampled_from(
    ["0", "1", "-1", "3.5", "10000000000", "-0.001", "99999999999"]
)  # canonical
values = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=8)),
    st.builds(lambda n: {"N": n}, numbers),
    st.builds(lambda b: {"B": b}, st.binary(max_size=8)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
)
items = st.fixed_dictionaries(
    {"pk": st.builds(lambda s: {"S": s}, st.text(min_size=1, max_size=5))},
    optional={name: values for name in ("a", "b", "c", "x")},
)


def plan():
    out = []
    for ix in TABLE.indexes:
        h, r = ix.hash_keys[0], (ix.range_keys[0] if ix.range_keys else None)
        rt = None if r is None else ATTRS[r]
        out.append((ix.name, ix.keyspace, h, ATTRS[h], r, rt, kept_names(TABLE, ix)))
    return tuple(out)


@settings(max_examples=300)
@given(items, st.binary(min_size=1, max_size=20))
def test_index_entries_stage_what_entry_key_and_encode_entry_give(item, skey):
    size = item_size(item)
    value = encode_value(item, size)
    ops, changes = {}, {}
    staged = index_entries(plan(), item, skey, value, size, ops, changes, item_size, encode_value)
    want_ops, want_changes = {}, {}
    for ix in TABLE.indexes:
        nk = entry_key(TABLE, ix, item, skey)
        if nk is not None:
            ev, esize = encode_entry(TABLE, ix, item, size)
            want_ops[(ix.keyspace, nk)] = ev
            want_changes[ix.name] = (1, esize, float(-(-esize // 1024) or 1))
    assert ops == want_ops
    assert staged == len(want_ops)
    assert changes == want_changes


def full_rules_pass(checks, item) -> bool:
    try:
        _refuse(checks, item, None)
    except ValidationException:
        return False
    return True


@settings(max_examples=300)
@given(items)
def test_index_keys_plausible_passes_exactly_what_the_full_rules_pass(item):
    checks = tuple((n, ATTRS[n], "ix") for n in ("a", "b", "c"))
    assert index_keys_plausible(checks, item) == full_rules_pass(checks, item)
    try:
        check_index_keys(TABLE, item)
        refused = False
    except ValidationException:
        refused = True
    assert refused == (not full_rules_pass(checks, item))
