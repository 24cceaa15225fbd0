"""The LOCK file keeps a second opener out, with an error naming the holder."""

import os
import subprocess
import sys
import textwrap

import pytest

from engine.storage import Store, StoreLockedError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TRY_OPEN = textwrap.dedent(
    """
    import sys
    from engine.storage import Store, StoreLockedError
    try:
        Store.open(sys.argv[1]).close()
    except StoreLockedError as exc:
        print("locked:", exc)
    else:
        print("opened")
    """
)


def try_open_in_child(path: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", TRY_OPEN, path],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_second_process_is_kept_out_while_the_store_is_open(store_dir):
    store = Store.open(store_dir, durability="off")
    try:
        store.create_keyspace("a")
        store.put("a", b"k", b"v")
        answer = try_open_in_child(store_dir)
        assert answer.startswith("locked:")
        assert store_dir in answer and f"pid {os.getpid()}" in answer
        assert store.get("a", b"k") == b"v"  # the refused opener touched nothing
    finally:
        store.close()
    assert try_open_in_child(store_dir) == "opened"
    with Store.open(store_dir) as store:
        assert store.get("a", b"k") == b"v"


def test_second_open_in_the_same_process_is_refused(store_dir):
    with Store.open(store_dir, durability="off") as store:
        with pytest.raises(StoreLockedError, match="LOCK"):
            Store.open(store_dir)
        # The refused open closed only its own descriptor: the lock still holds.
        assert try_open_in_child(store_dir).startswith("locked:")
        store.create_keyspace("still-writable")
    with Store.open(store_dir) as store:
        assert store.list_keyspaces() == ["still-writable"]


def test_lock_is_released_when_the_holder_is_killed(store_dir):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from engine.storage import Store; s = Store.open(sys.argv[1]);"
            " print('ready', flush=True); sys.stdin.read()",
            store_dir,
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"ready"
        with pytest.raises(StoreLockedError, match=f"pid {holder.pid}"):
            Store.open(store_dir)
    finally:
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    Store.open(store_dir).close()
