"""Child process of test_inspect_tables.py: writes items through the embedded client in
sync mode until SIGKILLed.

Usage: python table_writer.py STORE_DIR FLUSH_AFTER

Write `i` is a pure function of `i` (`make_write`): a put of item `i`, and every fifth
write deletes the item before it. After write FLUSH_AFTER the child flushes, so the
directory it leaves holds SSTables and WAL records not yet in them. After a write returns
(fsynced) it prints `i` and flushes stdout: a printed line is an acknowledged write.
"""

import os
import sys

TABLE = "events"


def make_item(i: int) -> dict:
    return {
        "stream": {"S": f"s{i % 7}"},
        "n": {"N": str(i)},
        "payload": {"S": "x" * (i % 50)},
        "flags": {"NS": [str(i), str(i + 1)]},
    }


def make_write(i: int) -> tuple[str, dict]:
    """("put", item) or ("delete", key) of write `i`."""
    if i % 5 == 0:
        return "delete", {"stream": {"S": f"s{(i - 1) % 7}"}, "n": {"N": str(i - 1)}}
    return "put", make_item(i)


def main() -> None:
    sys.path.insert(0, os.getcwd())
    import engine

    path, flush_after = sys.argv[1], int(sys.argv[2])
    # Flushes in a thread: a worker process would outlive the SIGKILL by a moment and
    # could still be writing a temporary file while the test snapshots the directory.
    client = engine.connect(path, durability="sync", background="thread")
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "stream", "KeyType": "HASH"},
            {"AttributeName": "n", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "stream", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    i = 1
    while True:
        op, arg = make_write(i)
        if op == "put":
            client.put_item(TableName=TABLE, Item=arg)
        else:
            client.delete_item(TableName=TABLE, Key=arg)
        sys.stdout.write(f"{i}\n")
        sys.stdout.flush()
        if i == flush_after:
            client.store.flush()
        i += 1


if __name__ == "__main__":
    main()
