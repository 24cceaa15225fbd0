"""shale-inspect against data directories made by real Stores: a cleanly closed one,
one left by SIGKILL of a sync-mode writer, and damaged copies (a flipped bit in an
SSTable block or a WAL record, a torn tail, leftover files).

Every command run here goes through `inspect`, which snapshots the bytes, size and
mtime of every file under the directory (and the set of names) before and after, and
fails if anything changed: the tool is strictly read-only, on every path it takes.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from inspect_helpers import inspect, inspect_json, snapshot
from inspect_writer import make_batch

from engine.storage import Store, WriteBatch
from engine.storage.sstable import SSTableReader
from tools.inspect.cli import COMMANDS, build_parser, main

REPO = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).resolve().parent / "inspect_writer.py"


# ------------------------------------------------------------------ fixtures

ITEMS = {b"item%04d" % i: b"value-%d-" % i + bytes([i % 256]) * 60 for i in range(300)}
INDEX = {b"idx%03d" % i: b"" for i in range(0, 300, 7)}
LATE = {b"late%02d" % i: b"unflushed %d" % i for i in range(5)}


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory) -> dict:
    """A closed store: two keyspaces flushed and compacted, then a few more batches
    (a deletion among them) left in the WAL, as a clean close leaves them."""
    path = str(tmp_path_factory.mktemp("clean") / "store")
    opts = {"durability": "sync", "background": "thread", "block_size_bytes": 1024}
    with Store.open(path, **opts) as store:
        store.create_keyspace("items")
        store.create_keyspace("index")
        for key, value in ITEMS.items():
            store.put("items", key, value)
        batch = WriteBatch()
        for key, value in INDEX.items():
            batch.put("index", key, value)
        store.write(batch)
        store.flush()
        store.compact()
        flushed_seqno = store.last_seqno
        store.flush()
        t0 = time.time_ns() // 1000
        late_seqnos = {}
        for key, value in LATE.items():
            late_seqnos[key] = store.put("items", key, value)
        store.delete("index", b"idx000")
        t1 = time.time_ns() // 1000
    return {
        "path": path,
        "flushed_seqno": flushed_seqno,
        "late_seqnos": late_seqnos,
        "late_window_us": (t0, t1),
    }


def copy_store(src: str, tmp_path: Path) -> str:
    dst = str(tmp_path / "copy")
    shutil.copytree(src, dst)
    return dst


def sst_files(path: str) -> list[str]:
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".sst"))


# --------------------------------------------------------------- summary etc.


def test_summary_json_matches_what_was_written(capsys, clean_dir):
    data = inspect_json(capsys, clean_dir["path"], "summary")
    by_name = {ks["name"]: ks for ks in data["keyspaces"]}
    assert set(by_name) == {"items", "index"}
    items_entries = sum(lv["entries"] for lv in by_name["items"]["levels"])
    assert items_entries == len(ITEMS)
    assert data["last_seqno_in_sstables"] == clean_dir["flushed_seqno"]
    assert data["last_seqno"] == clean_dir["flushed_seqno"] + len(LATE) + 1
    assert data["wal"]["unflushed_records"] == len(LATE) + 1
    # The catalog's counters are persisted by installs and by close(): every batch,
    # flushed or not, is counted (the store was closed cleanly).
    all_user_bytes = sum(len(k) + len(v) for d in (ITEMS, INDEX, LATE) for k, v in d.items())
    assert data["stats"]["user_bytes_written"] == all_user_bytes + len(b"idx000")
    assert data["stats"]["write_amplification"] > 1.0
    assert data["stats"]["space_amplification"] > 0.0
    assert data["lock"] == {
        "exists": True,
        "is_held": False,
        "holder_pid": None,
        "recorded_pid": os.getpid(),
    }
    kinds = [f["kind"] for f in data["recovery"]["findings"]]
    assert kinds == ["replay"], data["recovery"]
    assert data["recovery"]["needed"] and not data["recovery"]["open_fails"]


def test_summary_human_output_names_keyspaces_and_recovery(capsys, clean_dir):
    code, out, _ = inspect(capsys, clean_dir["path"], "summary")
    assert code == 0
    assert re.search(r"^  items +\d+ +- +L\d", out, re.M)
    assert "Recovery at next open" in out
    assert f"{len(LATE) + 1} WAL record(s)" in out


def test_levels_lists_every_file_of_the_catalog(capsys, clean_dir):
    data = inspect_json(capsys, clean_dir["path"], "levels")
    files = [f for ks in data["keyspaces"] for lv in ks["levels"] for f in lv["files"]]
    on_disk = {int(os.path.basename(p)[:-4]) for p in sst_files(clean_dir["path"])}
    assert {f["number"] for f in files} == on_disk
    items = next(ks for ks in data["keyspaces"] if ks["name"] == "items")
    assert sum(f["entries"] for lv in items["levels"] for f in lv["files"]) == len(ITEMS)
    only = inspect_json(capsys, clean_dir["path"], "levels", "--keyspace", "index")
    assert [ks["name"] for ks in only["keyspaces"]] == ["index"]
    code, out, _ = inspect(capsys, clean_dir["path"], "levels", "--keyspace", "nope")
    assert code == 2 and "no keyspace 'nope'" in out


def test_sst_records_dump_every_entry_written(capsys, clean_dir):
    seen = {}
    for path in sst_files(clean_dir["path"]):
        data = inspect_json(capsys, clean_dir["path"], "sst", os.path.basename(path), "--records")
        assert data["catalog"] is not None
        props = data["properties"]
        assert len(data["records"]) == props["entries"]
        data_blocks = [b for b in data["blocks"] if b["kind"] == "data"]
        assert len(data_blocks) == props["data_blocks"]
        assert [b["kind"] for b in data["blocks"][-4:]] == [
            "bloom",
            "properties",
            "index",
            "footer",
        ]
        offsets = [b["offset"] for b in data["blocks"]]
        assert offsets == sorted(offsets) and offsets[0] == 0
        assert data["blocks"][-1]["offset"] + 48 == props["bytes"]
        for r in data["records"]:
            seen[(data["catalog"]["keyspace"], bytes.fromhex(r["key"]["hex"]))] = r
    for key, value in ITEMS.items():
        record = seen[("items", key)]
        assert record["kind"] == "value" and record["value_bytes"] == len(value)
    assert {k for ks, k in seen if ks == "index"} == set(INDEX)


def test_sst_accepts_a_number_and_shows_blocks(capsys, clean_dir):
    number = int(os.path.basename(sst_files(clean_dir["path"])[0])[:-4])
    code, out, _ = inspect(capsys, clean_dir["path"], "sst", str(number))
    assert code == 0
    assert re.search(r"^  data 0 +0 +\d+ +(none|zstd)", out, re.M)
    assert "footer" in out and "smallest key" in out


def test_wal_shows_unflushed_records_with_times_and_keyspaces(capsys, clean_dir):
    data = inspect_json(capsys, clean_dir["path"], "wal")
    records = {r["seqno"]: r for r in data["records"]}
    for key, seqno in clean_dir["late_seqnos"].items():
        record = records[seqno]
        assert record["unflushed"]
        (op,) = record["ops"]
        assert op == {
            "op": "put",
            "keyspace": "items",
            "keyspace_id": op["keyspace_id"],
            "key": {"text": key.decode(), "hex": key.hex()},
            "value_bytes": len(LATE[key]),
            "value_preview": LATE[key].decode(),
        }
        assert record["commit_time"].endswith("Z")
    low, high = clean_dir["late_window_us"]
    assert all(low <= r["commit_ts_us"] <= high for r in data["records"])


def test_wal_filters_by_keyspace_seqno_and_time(capsys, clean_dir):
    path = clean_dir["path"]
    deletes = inspect_json(capsys, path, "wal", "--keyspace", "index")["records"]
    assert [op["op"] for r in deletes for op in r["ops"]] == ["delete"]
    first = min(clean_dir["late_seqnos"].values())
    one = inspect_json(capsys, path, "wal", "--seqno", str(first))["records"]
    assert [r["seqno"] for r in one] == [first]
    limited = inspect_json(capsys, path, "wal", "--seqno", f"{first}..", "--limit", "2")
    assert [r["seqno"] for r in limited["records"]] == [first, first + 1]
    tail = inspect_json(capsys, path, "wal", "--seqno", f"{first + 1}..")["records"]
    assert [r["seqno"] for r in tail] == list(range(first + 1, first + len(LATE) + 1))
    low, high = clean_dir["late_window_us"]
    assert inspect_json(capsys, path, "wal", "--until", str(low - 1))["records"] == []
    since = inspect_json(capsys, path, "wal", "--since", "2000-01-01T00:00:00")["records"]
    assert len(since) == len(LATE) + 1
    iso_high = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(high / 1e6 + 1))
    assert len(inspect_json(capsys, path, "wal", "--until", iso_high)["records"]) == len(LATE) + 1


def test_verify_clean_directory_exits_zero(capsys, clean_dir):
    code, out, _ = inspect(capsys, clean_dir["path"], "verify")
    assert code == 0, out
    assert "OK: no problems found" in out
    data = inspect_json(capsys, clean_dir["path"], "verify")
    assert data["ok"] and data["problems"] == []
    assert data["checked"]["sstables"] == len(sst_files(clean_dir["path"]))
    assert data["checked"]["wal_records"] == len(LATE) + 1


def test_verify_progress_bar_goes_to_stderr(capsys, clean_dir):
    code, out, err = inspect(capsys, clean_dir["path"], "verify", "--progress")
    assert code == 0
    assert "verify [" in err and "100%" in err
    assert "verify [" not in out


# ---------------------------------------------------------------- damage


def test_flipped_bit_in_an_sstable_block_is_found_with_file_and_offset(capsys, clean_dir, tmp_path):
    path = copy_store(clean_dir["path"], tmp_path)
    target = max(sst_files(path), key=os.path.getsize)
    reader = SSTableReader(target, 0, None)
    assert len(reader.block_offsets) >= 2
    offset = reader.block_offsets[1]
    reader.close()
    with open(target, "r+b") as f:
        f.seek(offset + 20)
        byte = f.read(1)[0]
        f.seek(offset + 20)
        f.write(bytes([byte ^ 0x10]))
    code, out, _ = inspect(capsys, path, "verify")
    assert code == 1
    assert re.search(rf"^  {os.path.basename(target)} +{offset} +.*checksum", out, re.M), out
    data = inspect_json(capsys, path, "verify", expect_code=1)
    assert [(p["path"], p["offset"]) for p in data["problems"]] == [(target, offset)]
    sst = inspect_json(capsys, path, "sst", os.path.basename(target), expect_code=1)
    bad = [b for b in sst["blocks"] if b.get("error")]
    assert [b["offset"] for b in bad] == [offset]


def test_flipped_bit_in_an_sstable_footer_is_found(capsys, clean_dir, tmp_path):
    path = copy_store(clean_dir["path"], tmp_path)
    target = sst_files(path)[0]
    size = os.path.getsize(target)
    with open(target, "r+b") as f:
        f.seek(size - 2)
        byte = f.read(1)[0]
        f.seek(size - 2)
        f.write(bytes([byte ^ 1]))
    data = inspect_json(capsys, path, "verify", expect_code=1)
    assert [(p["path"], p["offset"]) for p in data["problems"]] == [(target, size - 8)]


def test_flipped_bit_in_a_wal_record_is_found(capsys, clean_dir, tmp_path):
    path = copy_store(clean_dir["path"], tmp_path)
    wal = inspect_json(capsys, path, "wal")
    first = wal["records"][0]
    segment = os.path.join(path, f"{first['segment']:06d}.wal")
    with open(segment, "r+b") as f:
        f.seek(first["offset"] + 12)
        byte = f.read(1)[0]
        f.seek(first["offset"] + 12)
        f.write(bytes([byte ^ 4]))
    data = inspect_json(capsys, path, "verify", expect_code=1)
    assert [(p["path"], p["offset"]) for p in data["problems"]] == [(segment, first["offset"])]
    summary = inspect_json(capsys, path, "summary")
    assert summary["recovery"]["open_fails"]
    # The records after the damaged one are still shown.
    after = inspect_json(capsys, path, "wal")["records"]
    assert [r["seqno"] for r in after] == [r["seqno"] for r in wal["records"][1:]]


def test_torn_tail_and_leftover_files_are_reported_not_failed(capsys, clean_dir, tmp_path):
    path = copy_store(clean_dir["path"], tmp_path)
    summary = inspect_json(capsys, path, "summary")
    last = [s for s in summary["wal"]["segments"] if s["in_catalog"]][-1]
    segment = os.path.join(path, last["file"])
    with open(segment, "ab") as f:
        f.write(b"\x99\x00\x00\x00\x40\x00\x00\x00partial")
    shutil.copy(sst_files(path)[0], os.path.join(path, "009999.sst"))
    Path(path, "000777.sst.tmp").write_bytes(b"half")
    data = inspect_json(capsys, path, "summary")
    findings = {f["kind"]: f for f in data["recovery"]["findings"]}
    assert findings["torn_tail"]["path"] == segment
    assert findings["torn_tail"]["offset"] == last["bytes"]
    assert findings["unreferenced"]["path"] == os.path.join(path, "009999.sst")
    assert findings["tmp"]["path"] == os.path.join(path, "000777.sst.tmp")
    assert not data["recovery"]["open_fails"]
    verify = inspect_json(capsys, path, "verify")
    assert verify["ok"]
    assert {(n["path"], n["offset"]) for n in verify["notes"]} >= {(segment, last["bytes"])}


# ------------------------------------------------------------------ crash


def test_directory_left_by_sigkill_shows_every_acknowledged_batch(capsys, tmp_path):
    path = str(tmp_path / "crashed")
    flush_after = 40
    child = subprocess.Popen(
        [sys.executable, str(WRITER), path, str(flush_after)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    acked: list[tuple[int, int]] = []
    try:
        while len(acked) < flush_after + 60:
            line = child.stdout.readline()
            assert line, child.stderr.read().decode()
            acked.append(tuple(map(int, line.split())))
        # While the writer runs, its LOCK is seen as held, by its pid (no snapshot:
        # the live writer changes files).
        assert main([path, "summary", "--json"]) == 0
        live = json.loads(capsys.readouterr().out)
        assert live["lock"]["is_held"] and live["lock"]["holder_pid"] == child.pid
        assert live["recovery"]["findings"][0]["kind"] == "locked"
    finally:
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate()
    acked += [tuple(map(int, line.split())) for line in rest.decode().splitlines()]
    assert child.returncode == -signal.SIGKILL

    summary = inspect_json(capsys, path, "summary")
    assert summary["lock"]["is_held"] is False
    assert summary["recovery"]["needed"] and not summary["recovery"]["open_fails"]
    flushed_seqno = dict(acked)[flush_after]
    assert summary["last_seqno_in_sstables"] >= flushed_seqno
    assert summary["last_seqno"] >= acked[-1][1]
    assert summary["wal"]["unflushed_records"] >= len(acked) - flush_after - 1
    assert "replay" in [f["kind"] for f in summary["recovery"]["findings"]]

    records = {r["seqno"]: r for r in inspect_json(capsys, path, "wal")["records"]}
    for batch_id, seqno in acked:
        if seqno <= summary["last_seqno_in_sstables"]:
            continue
        ops = [
            (op["keyspace"], bytes.fromhex(op["key"]["hex"]), op["op"])
            for op in records[seqno]["ops"]
        ]
        expected = [
            (ks, key, "put" if v is not None else "delete") for ks, key, v in make_batch(batch_id)
        ]
        assert sorted(ops) == sorted(expected)
    flushed = inspect_json(capsys, path, "levels")
    entries = sum(
        f["entries"] for ks in flushed["keyspaces"] for lv in ks["levels"] for f in lv["files"]
    )
    assert entries >= flush_after
    verify = inspect_json(capsys, path, "verify")
    assert verify["ok"], verify["problems"]


# ------------------------------------------------------------ the surface


def test_not_a_data_directory_exits_two(capsys, tmp_path):
    assert main([str(tmp_path), "summary"]) == 2
    assert "not a ShaleDB data directory" in capsys.readouterr().err


def test_every_command_has_help_and_appears_in_the_readme(capsys, clean_dir):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Inspecting a data directory", 1)[1].split("\n## ", 1)[0]
    parser_help = build_parser().format_help()
    for module in COMMANDS:
        assert module.HELP and len(module.DESCRIPTION) > 80, module.NAME
        assert module.NAME in parser_help
        with pytest.raises(SystemExit) as exit_info:
            main([clean_dir["path"], module.NAME, "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert "--json" in out
        assert " ".join(module.DESCRIPTION.split()[:6]) in " ".join(out.split())
        assert re.search(rf"^\| `{module.NAME}[ `]", section, re.M), f"README lacks {module.NAME}"


def test_readme_shows_real_summary_output(clean_dir):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Inspecting a data directory", 1)[1].split("\n## ", 1)[0]
    for heading in (
        "Store",
        "Tables (",
        "Backups (",
        "Keyspaces",
        "WAL (",
        "Counters (catalog stats",
        "Recovery",
    ):
        assert f"\n{heading}" in section, heading


def test_console_script_and_module_entry_point(clean_dir):
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    target = pyproject["project"]["scripts"]["shale-inspect"]
    module_name, _, function = target.partition(":")
    module = __import__(module_name, fromlist=[function])
    assert callable(getattr(module, function))
    before = snapshot(clean_dir["path"])
    result = subprocess.run(
        [sys.executable, "-m", "tools.inspect", clean_dir["path"], "summary"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Store\n")
    assert snapshot(clean_dir["path"]) == before


def test_checkpoint_without_lmdb_lock_file_is_read_without_creating_one(capsys, tmp_path):
    """A directory whose catalog has no lock.mdb (a checkpoint copied by hand, say):
    opening it read-only (MDB_RDONLY | MDB_NOLOCK) must not create one, nor a LOCK."""
    src, dst = str(tmp_path / "src"), str(tmp_path / "checkpoint")
    with Store.open(src, background="thread") as store:
        store.create_keyspace("items")
        store.write(WriteBatch().put("items", b"k1", b"v1").put("items", b"k2", b"v2"))
        store.checkpoint(dst)
    for leftover in (os.path.join(dst, "catalog", "lock.mdb"), os.path.join(dst, "LOCK")):
        if os.path.exists(leftover):
            os.unlink(leftover)
    for command in ("summary", "levels", "wal", "verify"):
        code, out, _ = inspect(capsys, dst, command)
        assert code == 0, out
    data = inspect_json(capsys, dst, "summary")
    assert data["lock"]["exists"] is False
    assert data["recovery"] == {"needed": False, "open_fails": False, "findings": []}
    assert [ks["name"] for ks in data["keyspaces"]] == ["items"]
    code, out, _ = inspect(capsys, dst, "summary")
    assert "none: the directory is clean" in out


def test_output_piped_into_a_reader_that_stops_ends_quietly(clean_dir):
    """`shale-inspect ... | head` must not end in a BrokenPipeError traceback. `true`
    exits before the tool writes, so every write meets a closed pipe."""
    command = f"{sys.executable} -m tools.inspect {clean_dir['path']} summary | true"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
