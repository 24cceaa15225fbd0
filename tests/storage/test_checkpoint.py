"""Checkpoints: a consistent set of hard-linked SSTables plus a catalog, which opens as
a store by itself and is independent of its source from then on."""

import os

import pytest
from storage_helpers import check_levels, dump, open_small, sst_files

from engine.storage import Store


def test_checkpoint_opens_alone_with_the_data_committed_before_it(tmp_path):
    source_dir, target = str(tmp_path / "source"), str(tmp_path / "ckpt")
    with open_small(source_dir, durability="sync") as source:
        source.create_keyspace("a")
        source.create_keyspace("b")
        for i in range(400):
            source.put("a", b"k%04d" % i, b"a%d" % i + b"." * 60)
        for i in range(0, 400, 5):
            source.delete("a", b"k%04d" % i)
        source.put("b", b"only", b"in the memtable")  # unflushed until the checkpoint
        expected = {"a": dump(source, "a"), "b": dump(source, "b")}
        source.checkpoint(target)
        with pytest.raises(FileExistsError):
            source.checkpoint(target)
        # Later writes, deletes and compactions of the source stay out of the checkpoint.
        source.put("a", b"later", b"x")
        source.delete("a", b"k0001")
        source.put("b", b"only", b"overwritten")
        source.create_keyspace("c")
        source.compact()  # unlinks the source's copies of the checkpointed files
        after = {"a": dump(source, "a"), "b": dump(source, "b")}
        with open_small(target, durability="sync") as ckpt:  # both open at once
            assert ckpt.list_keyspaces() == ["a", "b"]
            assert {"a": dump(ckpt, "a"), "b": dump(ckpt, "b")} == expected
            assert ckpt.get("a", b"later") is None
            assert ckpt.verify() == []
            check_levels(ckpt)
            # The checkpoint is a store of its own: its writes do not reach the source.
            ckpt.put("a", b"ckpt-only", b"y")
            ckpt.flush()
        assert dump(source, "a") == after["a"]
        assert source.get("a", b"ckpt-only") is None
    with open_small(target) as ckpt:
        assert ckpt.get("a", b"ckpt-only") == b"y"
        assert ckpt.get("a", b"k0001") == expected["a"][b"k0001"]
        ckpt.put("a", b"seq", b"z")  # seqnos continue after the checkpoint's
        assert ckpt.last_seqno > 0
    with open_small(source_dir) as source:
        assert {"a": dump(source, "a"), "b": dump(source, "b")} == after


def test_checkpoint_files_are_hard_links_not_copies(tmp_path):
    source_dir, target = str(tmp_path / "source"), str(tmp_path / "ckpt")
    # A high compaction trigger keeps the source's files in place to compare.
    with open_small(source_dir, durability="off", l0_compaction_trigger=100) as source:
        source.create_keyspace("a")
        for i in range(200):
            source.put("a", b"k%04d" % i, b"v" * 80)
        source.flush()
        source.checkpoint(target)
        linked = sst_files(target)
        assert [os.path.basename(p) for p in linked] == [
            os.path.basename(p) for p in sst_files(source_dir)
        ]
        for path in linked:
            assert os.path.samefile(path, os.path.join(source_dir, os.path.basename(path)))


def test_checkpoint_carries_the_catalog_entries_of_the_layers_above(tmp_path):
    source = Store.open(str(tmp_path / "src"), durability="off")
    source.catalog_put({b"table/t": b"definition"}, create_keyspaces=("t",))
    source.put("t", b"k", b"v")
    source.checkpoint(str(tmp_path / "copy"))
    source.catalog_put({b"table/t": b"changed later"})
    source.close()
    with Store.open(str(tmp_path / "copy"), durability="off") as copy:
        assert copy.catalog_get(b"table/t") == b"definition"
        assert copy.get("t", b"k") == b"v"
