"""`shale-inspect DIR get TABLE KEY...`: one item, as of the last durable state.

The key is given as its values in key-schema order (`get orders cust-1 42`: partition key,
then sort key; B values in base64) or as one JSON object (`'{"id": {"S": "a"}}'` in
DynamoDB JSON, or plain values: `'{"id": "a", "n": 42}'`). The item is looked up the way
the next open would find it: WAL records not yet flushed first, then L0 newest first, then
each deeper level, without opening the store. The answer says where the newest version
was found (a WAL segment or an SSTable and level) and its seqno; a deleted item is shown
as deleted, with the seqno of the delete.
"""

import argparse
import base64
import json

from engine.errors import DynamoDBError
from engine.storage.errors import StorageError
from engine.table import storage_key
from tools.inspect.datadir import DataDir
from tools.inspect.render import Result, fields, key_json, section
from tools.inspect.table import no_such_table
from tools.inspect.tabledata import KeyspaceView, Owner, TableInfo, decode_entry, find_table

NAME = "get"
HELP = "one item by its key, as of the last durable state (WAL included)"
DESCRIPTION = """\
Read one item of TABLE as of the last durable state, including writes still only in the
WAL, without opening the store. KEY is the key's values in key-schema order (partition
key, then sort key; B in base64), or one JSON object of the key attributes (DynamoDB JSON
or plain values). Prints the item in DynamoDB JSON with its size, seqno and where the
newest version was found; exit 1 when there is no such item."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", metavar="TABLE", help="the table name")
    parser.add_argument(
        "key", metavar="KEY", nargs="+", help="key values in key-schema order, or a JSON object"
    )


def parse_key(t: TableInfo, parts: list[str]) -> dict:
    """The wire-shaped key attributes named by the command line. Raises ValueError."""
    schema = t.key_schema
    if len(parts) == 1 and parts[0].lstrip().startswith("{"):
        try:
            given = json.loads(parts[0])
        except ValueError as exc:
            raise ValueError(f"KEY is not valid JSON: {exc}") from None
        if not isinstance(given, dict):
            raise ValueError("KEY JSON must be an object of key attributes")
        values = []
        for name, _, typ in schema:
            if name not in given:
                raise ValueError(f"KEY JSON lacks the key attribute {name!r}")
            v = given[name]
            values.append(v[typ] if isinstance(v, dict) and typ in v else v)
    else:
        if len(parts) != len(schema):
            want = " ".join(name for name, _, _ in schema)
            raise ValueError(f"table {t.name} has a {len(schema)}-part key: give {want}")
        values = parts
    key = {}
    for (name, _, typ), value in zip(schema, values):
        if typ == "B":
            try:
                key[name] = {"B": base64.b64decode(str(value), validate=True)}
            except ValueError:
                raise ValueError(f"{name} is binary: give it in base64") from None
        else:
            key[name] = {typ: str(value)}
    return key


def run(dd: DataDir, args: argparse.Namespace) -> Result:
    t = find_table(dd, args.table)
    if t is None:
        return no_such_table(dd, args.table)
    if t.defn is None or t.keyspace not in dd.state.keyspaces:
        message = f"table {t.name}: cannot read its items ({t.problem or 'keyspace missing'})"
        return Result({"error": message}, message, 2)
    try:
        key = parse_key(t, args.key)
        skey = storage_key(t.defn, key)
    except (ValueError, DynamoDBError) as exc:
        message = f"bad KEY: {getattr(exc, 'message', None) or exc}"
        return Result({"error": message}, message, 2)
    view = KeyspaceView(dd, t.keyspace)
    try:
        entry = view.get(skey)
    except (StorageError, OSError) as exc:  # damaged, or a file gone missing
        message = f"cannot read {t.name}: {exc}"
        return Result({"error": message}, message, 1)
    finally:
        view.close()
    data: dict = {
        "table": t.name,
        "key": decode_entry(Owner(t, None), skey, None).get("item_key"),
        "storage_key": key_json(skey),
        "found": entry is not None and entry.value is not None,
        "deleted": entry is not None and entry.value is None,
        "seqno": entry.seqno if entry else None,
        "source": entry.source if entry else None,
        "item": None,
        "size_bytes": None,
    }
    if entry is not None and entry.value is not None:
        decoded = decode_entry(Owner(t, None), skey, entry.value)
        data["item"] = decoded.get("item")
        data["size_bytes"] = decoded.get("size_bytes")
        if "decode_error" in decoded:
            data["decode_error"] = decoded["decode_error"]
    return Result(data, render(data), 0 if data["found"] else 1)


def render(data: dict) -> str:
    key = json.dumps(data["key"], sort_keys=True)
    if data["found"]:
        state = "found"
    elif data["deleted"]:
        state = "deleted"
    else:
        state = "no such item"
    head = fields(
        [
            ("table", data["table"]),
            ("key", key),
            ("state", state),
            ("seqno", data["seqno"]),
            ("found in", data["source"]),
            ("size", f"{data['size_bytes']} bytes" if data["size_bytes"] is not None else None),
        ]
    )
    parts = [section("Item", head)]
    if data["item"] is not None:
        parts.append(json.dumps(data["item"], indent=2, sort_keys=True))
    if data.get("decode_error"):
        parts.append(f"  cannot decode the value: {data['decode_error']}")
    return "\n\n".join(parts)
