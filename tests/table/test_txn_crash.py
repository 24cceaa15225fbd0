"""Transactions survive SIGKILL whole: a child transfers between accounts in sync mode and
is killed at random moments; after each kill the reopened table must hold every
acknowledged transaction, no partial one (the balances still sum to the start), and at
most the one transaction that was in flight."""

import os
import random
import signal
import subprocess
import sys
import time

import engine

WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "txn_crash_writer.py")
ACCOUNTS = [f"acct{i}" for i in range(4)]


def run_child(path: str, seconds: float) -> int:
    """Run the writer for about ``seconds``, SIGKILL it; the last n it acknowledged."""
    proc = subprocess.Popen(
        [sys.executable, WRITER, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(seconds)
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate()
    acked = [int(line) for line in out.split()]
    assert proc.returncode == -signal.SIGKILL, err
    return acked[-1] if acked else -1


def test_transactions_are_atomic_and_durable_across_kills(tmp_path):
    path = str(tmp_path / "db")
    rng = random.Random(4)
    last = 0
    for _ in range(4):
        acked = run_child(path, 0.8 + rng.random())
        with engine.connect(path, durability="sync") as ddb:
            if "bank" not in ddb.list_tables()["TableNames"]:
                continue  # killed before the table existed
            items = {
                i["pk"]["S"]: i for i in ddb.scan(TableName="bank", ConsistentRead=True)["Items"]
            }
            if "n" not in items:
                continue
            n = int(items["n"]["n"]["N"])
            assert sum(int(items[a]["bal"]["N"]) for a in ACCOUNTS) == 4000
            assert n >= max(acked, last)  # every acknowledged transaction survived
            assert n <= max(acked, last) + 1  # at most the one in flight beyond it
            last = n
    assert last > 0
