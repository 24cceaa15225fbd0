"""engine.table on its own: key ranges, segments, locks, counters, the registry."""

import threading

import pytest

from engine.codec import encode_primary_key
from engine.errors import (
    ConditionalCheckFailedException,
    ResourceInUseException,
    TransactionConflictException,
    ValidationException,
)
from engine.model import item_size
from engine.storage import Store
from engine.table import (
    Cancelled,
    KeyLocks,
    TableDef,
    Tables,
    TxnAction,
    WriteGroup,
    decode_value,
    encode_value,
    key_of,
    read_page,
    segment_range,
    successor,
    transact_write,
)


def definition(name="t"):
    return TableDef(
        name=name,
        table_id="",
        keyspace="",
        hash_key="pk",
        range_key="sk",
        attributes={"pk": "S", "sk": "N"},
        created_s=0.0,
    )


@pytest.fixture
def store(tmp_path):
    s = Store.open(str(tmp_path / "db"), durability="off")
    yield s
    s.close()


def test_successor():
    assert successor(b"ab") == b"ac"
    assert successor(b"a\xff\xff") == b"b"
    assert successor(b"\xff") is None


def test_segments_tile_the_hash_space():
    for total in (1, 2, 3, 1000):
        bounds = [segment_range(i, total) for i in range(total)]
        assert bounds[0][0] is None and bounds[-1][1] is None
        for (_, end), (start, _) in zip(bounds, bounds[1:], strict=False):
            assert end == start


def test_key_round_trip(store):
    tables = Tables(store)
    t = tables.create(definition())
    key = {"pk": {"S": "x"}, "sk": {"N": "-1.5"}}
    skey = t.key(key)
    assert skey == encode_primary_key("S", "x", "N", "-1.5")
    assert key_of(t.defn, skey) == key


def test_registry_persists_and_refuses_duplicates(store, tmp_path):
    tables = Tables(store)
    tables.create(definition("one"))
    with pytest.raises(ResourceInUseException):
        tables.create(definition("one"))
    tables.create(definition("two"))
    tables._check()
    assert Tables(store).names() == ["one", "two"]
    dropped = tables.delete("one")
    assert dropped is not None and dropped.keyspace not in store.list_keyspaces()
    assert Tables(store).names() == ["two"]
    tables._check()


def test_counters_are_exact_when_writes_race_the_first_count(store):
    t = Tables(store).create(definition())

    def writer(p):
        for i in range(300):
            item = {"pk": {"S": p}, "sk": {"N": str(i)}}
            t.mutate(t.key(item), lambda old, item=item: item if old is None else old)

    threads = [threading.Thread(target=writer, args=(p,)) for p in "abc"]
    for th in threads:
        th.start()
    t.counters()  # the first count runs while writers commit
    for th in threads:
        th.join()
    count, size = t.counters()
    assert count == 900
    sizes = [decode_value(v) for _, v in t.iter_items(None, None)]
    assert size == sum(item_size(item) for item, _ in sizes) == sum(n for _, n in sizes)


def test_read_page_limit_and_resume(store):
    t = Tables(store).create(definition())
    for i in range(5):
        item = {"pk": {"S": "a"}, "sk": {"N": str(i)}}
        t.mutate(t.key(item), lambda old, item=item: item)
    page = read_page(t, None, None, limit=2)
    assert page.scanned == 2 and page.last_key is not None
    rest = read_page(t, None, None, after=page.last_key)
    assert [i["sk"]["N"] for i in rest.items] == ["2", "3", "4"] and rest.last_key is None


def test_failed_transaction_writes_nothing(store):
    tables = Tables(store)
    t = tables.create(definition())
    a = t.key({"pk": {"S": "a"}, "sk": {"N": "1"}})
    b = t.key({"pk": {"S": "b"}, "sk": {"N": "1"}})

    def fail(old):
        raise ConditionalCheckFailedException()

    with pytest.raises(Cancelled) as e:
        transact_write(
            tables.locks,
            [
                TxnAction(t, a, lambda old: {"pk": {"S": "a"}, "sk": {"N": "1"}}),
                TxnAction(t, b, fail),
            ],
        )
    assert [r and r.code for r in e.value.reasons] == [None, "ConditionalCheckFailed"]
    assert t.get(a) is None
    tables.locks._check()


def test_locks_order_and_claims():
    locks = KeyLocks(stripes=8)
    keys = [("ks", bytes([i])) for i in range(20)]
    with locks.hold(keys):
        pass
    locks._check()
    me, other = object(), object()
    assert locks.claim(keys[:3], me) == []
    assert locks.claim(keys[2:5], other) == [0]
    assert locks.is_claimed("ks", keys[0][1], other)
    assert not locks.is_claimed("ks", keys[0][1], me)
    locks.release_claims(keys[:3], me)
    assert locks.claim(keys[2:5], other) == []


def test_item_size_fast_path_matches_the_per_value_rules():
    from engine.model import value_size

    item = {
        "ascii": {"S": "abc"},
        "ünï": {"S": "ünïcode €"},
        "n": {"N": "-12.5"},
        "m": {"M": {"é": {"S": "x"}, "l": {"L": [{"N": "1"}, {"NULL": True}]}}},
        "ss": {"SS": ["a", "ß"]},
        "b": {"B": b"\x00\x01"},
    }
    expected = sum(len(k.encode()) + value_size(v) for k, v in item.items())
    assert item_size(item) == expected


def test_format_doc_example_of_a_table_value():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md").read_text()
    body = re.search(r"```text table-value\n(.*?)```", doc, re.S).group(1)
    raw = bytes.fromhex(body.replace("\n", " "))
    item = {"a": {"N": "1"}}
    assert encode_value(item, item_size(item)) == raw
    assert decode_value(raw) == (item, 3)


class ShadowHook:
    """A toy index: mirrors every item's key into keyspace "shadow"; refuses items with
    attribute "bad" the way an index refuses a wrongly typed index key (in check, and in
    stage as the WriteHook protocol asks); records the seqno of every committed write it
    staged."""

    def __init__(self):
        self.committed_seqnos = []

    def check(self, table, m):
        if m.new is not None and "bad" in m.new:
            raise ValidationException("bad item")

    def stage(self, table, batch, skey, m):
        self.check(table, m)
        if m.new is None:
            batch.delete("shadow", skey)
        else:
            batch.put("shadow", skey, b"1")

    def committed(self, table, m):
        self.committed_seqnos.append(m.seqno)


def shadowed(store):
    """(registry, table "t", its ShadowHook): a table whose writes mirror into "shadow"."""
    tables = Tables(store)
    t = tables.create(definition())
    store.create_keyspace("shadow")
    hook = ShadowHook()
    t.add_hook(hook)
    return tables, t, hook


def test_write_hooks_commit_with_the_item_or_refuse_it(store):
    tables, t, hook = shadowed(store)
    a = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    b = {"pk": {"S": "b"}, "sk": {"N": "1"}}
    t.mutate(t.key(a), lambda old: a)
    assert store.get("shadow", t.key(a)) == b"1"
    with pytest.raises(ValidationException):
        t.mutate(t.key(b), lambda old: dict(b, bad={"S": "x"}))
    assert t.get(t.key(b)) is None and store.get("shadow", t.key(b)) is None
    transact_write(tables.locks, [TxnAction(t, t.key(b), lambda old: b)])
    assert store.get("shadow", t.key(b)) == b"1"
    with pytest.raises(Cancelled) as e:
        transact_write(
            tables.locks,
            [
                TxnAction(t, t.key(a), lambda old: None),
                TxnAction(t, t.key(b), lambda old: dict(b, bad={"S": "x"})),
            ],
        )
    assert [r and r.code for r in e.value.reasons] == [None, "ValidationError"]
    assert t.get(t.key(a)) == a and store.get("shadow", t.key(a)) == b"1"
    t.mutate(t.key(a), lambda old: None)
    assert store.get("shadow", t.key(a)) is None
    # committed() saw the three writes that landed, in order, and none that was refused
    assert len(hook.committed_seqnos) == 3
    assert hook.committed_seqnos == sorted(hook.committed_seqnos)


def test_write_group_commits_each_write_as_its_own_batch_in_one_group(store):
    tables, t, hook = shadowed(store)
    items = [{"pk": {"S": "g"}, "sk": {"N": str(i)}} for i in range(5)]
    keys = [t.key(item) for item in items]
    t.mutate(keys[4], lambda old: items[4])
    before = store.stats()
    with WriteGroup([(t, k) for k in keys]) as group:
        staged = [group.mutate(t, k, lambda old, item=item: item) for k, item in zip(keys, items)]
        assert t.get(keys[0]) is None  # nothing is committed before the block ends
    after = store.stats()
    assert after["write_groups"] == before["write_groups"] + 1
    assert after["batches_written"] == before["batches_written"] + 4  # keys[4]: unchanged
    assert [m.seqno for m in staged[:4]] == list(range(staged[0].seqno, staged[0].seqno + 4))
    assert staged[4].seqno == 0 and staged[4].old == items[4]
    assert [t.get(k) for k in keys] == items
    assert all(store.get("shadow", k) == b"1" for k in keys)
    assert hook.committed_seqnos[-4:] == [m.seqno for m in staged[:4]]
    assert t.counters() == (5, sum(item_size(i) for i in items))
    tables.locks._check()


def test_write_group_keeps_what_was_staged_before_a_refusal(store):
    """A refused write (a hook's ValidationException, a transaction's claim) ends the
    group as calling Table.mutate for each would: the writes before it are committed."""
    tables, t, _ = shadowed(store)
    a, b, c = ({"pk": {"S": p}, "sk": {"N": "1"}} for p in "abc")
    with (
        pytest.raises(ValidationException),
        WriteGroup([(t, t.key(a)), (t, t.key(b)), (t, t.key(c))]) as group,
    ):
        group.mutate(t, t.key(a), lambda old: a)
        group.mutate(t, t.key(b), lambda old: dict(b, bad={"S": "x"}))
        group.mutate(t, t.key(c), lambda old: c)
    assert t.get(t.key(a)) == a and store.get("shadow", t.key(a)) == b"1"
    assert t.get(t.key(b)) is None and t.get(t.key(c)) is None
    owner = object()
    assert tables.locks.claim([(t.keyspace, t.key(c))], owner) == []
    with (
        pytest.raises(TransactionConflictException),
        WriteGroup([(t, t.key(b)), (t, t.key(c))]) as group,
    ):
        group.mutate(t, t.key(b), lambda old: b)
        group.mutate(t, t.key(c), lambda old: c)
    tables.locks.release_claims([(t.keyspace, t.key(c))], owner)
    assert t.get(t.key(b)) == b and t.get(t.key(c)) is None
    with pytest.raises(ValueError):
        WriteGroup([(t, t.key(a)), (t, t.key(a))])
    with pytest.raises(ValueError), WriteGroup([(t, t.key(a))]) as group:
        group.mutate(t, t.key(b), lambda old: None)  # not one of the group's keys
    tables.locks._check()


def test_write_group_spans_tables_in_one_wal_write(store):
    tables, t, hook = shadowed(store)
    u = tables.create(definition("u"))
    a, b = ({"pk": {"S": p}, "sk": {"N": "1"}} for p in "ab")
    assert t.counters() == u.counters() == (0, 0)  # counted from now on by each write
    groups = store.stats()["write_groups"]
    with WriteGroup([(t, t.key(a)), (u, u.key(b)), (u, u.key(a))]) as group:
        ma = group.mutate(t, t.key(a), lambda old: a)
        mb = group.mutate(u, u.key(b), lambda old: b)
        mc = group.mutate(u, u.key(a), lambda old: a)
        with pytest.raises(ValueError):  # u's key a is the group's, t's key b is not
            group.mutate(t, t.key(b), lambda old: b)
    assert store.stats()["write_groups"] == groups + 1
    assert [ma.seqno + 1, ma.seqno + 2] == [mb.seqno, mc.seqno]
    assert t.get(t.key(a)) == a and t.get(t.key(b)) is None
    assert u.get(u.key(a)) == a and u.get(u.key(b)) == b
    assert t.counters() == (1, item_size(a)) and u.counters() == (2, item_size(a) + item_size(b))
    assert hook.committed_seqnos[-1:] == [ma.seqno]  # only t has the hook
    tables.locks._check()
