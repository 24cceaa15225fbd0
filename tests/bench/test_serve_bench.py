"""The reference servers of bench/serve.py answer what they claim to: the replay floor the
bodies it was given, the least server real GetItem/PutItem round trips through boto3."""

import json
import os
import signal
import subprocess
import sys
import time
import zlib

import pytest

from bench import idle_gap
from bench.serve import Server, _family, _process_cpu_ticks, boto3_client, free_port


@pytest.fixture
def start():
    started: list[Server] = []

    def run(module: str, *args: str) -> Server:
        port = free_port()
        cmd = [sys.executable, "-m", module, "--port", str(port), *args]
        started.append(Server(module, cmd, port).start())
        return started[-1]

    yield run
    for s in started:
        s.stop()


def test_the_replay_floor_answers_the_recorded_body_and_its_crc(start, tmp_path):
    reply = {"Items": [{"pk": {"S": "a"}, "n": {"N": "1"}}], "Count": 1, "ScannedCount": 1}
    path = tmp_path / "replies.json"
    path.write_text(json.dumps({"Query": json.dumps(reply)}))
    server = start("bench.serve_floor", "--replies", str(path))
    client = boto3_client(server.port)
    got = client.query(
        TableName="t",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "a"}},
    )
    assert got["Items"] == reply["Items"] and got["Count"] == 1
    # botocore checks x-amz-crc32 itself; a wrong one would have raised above
    meta = got["ResponseMetadata"]
    body = json.dumps(reply).encode()
    assert int(meta["HTTPHeaders"]["x-amz-crc32"]) == zlib.crc32(body)
    assert client.get_item(TableName="t", Key={"pk": {"S": "a"}}).get("Item") is None  # {}


def test_the_least_server_stores_and_reads_items(start):
    server = start("bench.serve_least", "--durability", "off")
    client = boto3_client(server.port)
    item = {"pk": {"S": "k1"}, "sk": {"N": "7"}, "v": {"S": "value"}, "l": {"L": [{"N": "1"}]}}
    client.put_item(TableName="bench", Item=item)
    got = client.get_item(TableName="bench", Key={"pk": {"S": "k1"}, "sk": {"N": "7"}})
    assert got["Item"] == item
    missing = client.get_item(TableName="bench", Key={"pk": {"S": "k2"}, "sk": {"N": "7"}})
    assert "Item" not in missing


def test_server_cpu_counts_its_child_processes(tmp_path):
    """shale flushes and compacts in a worker process: a server's CPU includes its
    children's, or that work would go uncounted."""
    busy_child = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import time\\nt = time.process_time()\\n"
        "while time.process_time() - t < 0.6: pass\\ntime.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    parent = Server("parent", [sys.executable, "-c", busy_child], 0)
    parent.proc = subprocess.Popen(parent.cmd)
    try:
        deadline = time.monotonic() + 20
        while parent.cpu_s() < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        family = _family(parent.proc.pid)
        assert len(family) == 2, family
        # the parent itself only started the child and sleeps: the CPU is the child's
        assert parent.cpu_s() >= 0.5
        assert _process_cpu_ticks(parent.proc.pid) / os.sysconf("SC_CLK_TCK") < 0.5
    finally:
        for pid in reversed(_family(parent.proc.pid)):
            os.kill(pid, signal.SIGKILL)
        parent.proc.wait()


def test_idle_gap_reports_every_gap_for_both_operations(capsys):
    assert idle_gap.main(["--calls", "5", "--durability", "off"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and " ms |" in line]
    assert [row.split(" |")[0] for row in rows] == ["| 0 ms", "| 0.3 ms", "| 1 ms", "| 3 ms"]
    assert all(row.count(" us (") == 2 for row in rows)
    assert "(1.0x)" in rows[0]
