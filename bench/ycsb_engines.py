"""The engines YCSB runs on: DynamoDB APIs (items) and key-value stores (records as bytes).

Each adapter has `probe()` (None when usable here, else why it is skipped), `open(path)`,
`close()`, and the operations bench/ycsb.py times: `insert_batch`, `insert`, `read`,
`update`, `scan`. `LEVEL` says what is measured, since a DynamoDB API pays for item
encoding, expressions and (over HTTP) a round trip that a key-value store does not:

- shale: ShaleDB's embedded DynamoDB API (`engine.connect`, durability off), in process;
- shale-server: `shale serve` (durability off) through boto3 over HTTP on 127.0.0.1;
- moto: moto's in-process DynamoDB mock through boto3 (no HTTP);
- dynalite: dynalite (Node.js, in memory) through boto3 over HTTP on 127.0.0.1. It needs
  `node` and the dynalite npm package: found through $SHALE_DYNALITE (its directory or
  cli.js), ./node_modules, bench/node_modules, ~/.cache/shaledb/dynalite/node_modules or
  /tmp/dyn/node_modules (`python -m bench --install-dynalite` runs `npm install --prefix
  ~/.cache/shaledb/dynalite dynalite`);
- shale-storage, lmdb, sqlite, rocksdict, plyvel: the key-value engines of `bench kv`
  (bench/engines.py) with records as 1,000-byte values under `user<k>` keys.

Thread-safety: one adapter is driven by one thread.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from bench.engines import ENGINES as KV_ENGINES
from bench.engines import KVEngine
from bench.ycsb import FIELD_BYTES, FIELDS, PER_PARTITION, TABLE

__all__ = ["DYNALITE_PREFIX", "YCSB_ENGINES", "YCSBEngine", "find_dynalite", "install_dynalite"]

ROOT = Path(__file__).resolve().parent.parent
DYNALITE_PREFIX = Path.home() / ".cache" / "shaledb" / "dynalite"


class YCSBEngine:
    name: ClassVar[str]
    LEVEL: ClassVar[str]
    NOTES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def probe(cls) -> str | None:
        return None

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {}

    def open(self, path: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------ DynamoDB APIs


def item_key(k: int) -> dict:
    return {"pk": {"S": f"user{k // PER_PARTITION}"}, "sk": {"N": str(k)}}


def make_item(k: int, fields: list[str]) -> dict:
    item = item_key(k)
    for i, value in enumerate(fields):
        item[f"field{i}"] = {"S": value}
    return item


class DynamoDBAPIEngine(YCSBEngine):
    """Any boto3-shaped client; subclasses make the client in `open`."""

    client: Any

    def create_table(self) -> None:
        self.client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    def insert_batch(self, ks: Sequence[int], fields: Sequence[list[str]]) -> None:
        requests = [{"PutRequest": {"Item": make_item(k, f)}} for k, f in zip(ks, fields)]
        pending: dict = {TABLE: requests}
        while pending:
            reply = self.client.batch_write_item(RequestItems=pending)
            pending = reply.get("UnprocessedItems") or {}

    def insert(self, k: int, fields: list[str]) -> None:
        self.client.put_item(TableName=TABLE, Item=make_item(k, fields))

    def read(self, k: int) -> bool:
        return "Item" in self.client.get_item(TableName=TABLE, Key=item_key(k))

    def update(self, k: int, field: int, value: str) -> None:
        self.client.update_item(
            TableName=TABLE,
            Key=item_key(k),
            UpdateExpression="SET #f = :v",
            ExpressionAttributeNames={"#f": f"field{field}"},
            ExpressionAttributeValues={":v": {"S": value}},
        )

    def scan(self, k: int, count: int) -> int:
        reply = self.client.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :p AND sk >= :s",
            ExpressionAttributeValues={
                ":p": {"S": f"user{k // PER_PARTITION}"},
                ":s": {"N": str(k)},
            },
            Limit=count,
        )
        return reply["Count"]


class ShaleItems(DynamoDBAPIEngine):
    name = "shale"
    LEVEL = "DynamoDB API, embedded (engine.connect)"
    NOTES = (
        'engine.connect(path, durability="off"): no fsync, a crash of the process loses nothing',
    )

    @classmethod
    def probe(cls) -> str | None:
        return _importable("engine")

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"shaledb": _dist_version("shaledb", "source tree")}

    def open(self, path: str) -> None:
        import engine

        self.client = engine.connect(os.path.join(path, "store"), durability="off")
        self.create_table()

    def close(self) -> None:
        self.client.close()


def _boto3_client(endpoint: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}),
    )


class Moto(DynamoDBAPIEngine):
    name = "moto"
    LEVEL = "DynamoDB API, moto's in-process mock through boto3 (no HTTP)"
    NOTES = ("moto.mock_aws() with a boto3 client: in memory, nothing durable",)

    @classmethod
    def probe(cls) -> str | None:
        return _importable("moto") or _importable("boto3")

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"moto": _dist_version("moto"), "boto3": _dist_version("boto3")}

    def open(self, path: str) -> None:
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        self.client = _boto3_client(None)
        self.create_table()

    def close(self) -> None:
        self._mock.stop()


class _ServerEngine(DynamoDBAPIEngine):
    """A DynamoDB server in a child process on a free port, driven by boto3."""

    def command(self, port: int, path: str) -> list[str]:
        raise NotImplementedError

    def open(self, path: str) -> None:
        port = _free_port()
        self._log = open(os.path.join(path, f"{self.name}.log"), "wb")  # noqa: SIM115
        self._proc = subprocess.Popen(
            self.command(port, path), cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            _wait_port(port, self._proc)
        except Exception:
            self.close()
            raise
        self.client = _boto3_client(f"http://127.0.0.1:{port}")
        self.create_table()

    def close(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()


class ShaleServer(_ServerEngine):
    name = "shale-server"
    LEVEL = "DynamoDB API over HTTP: `shale serve` through boto3 on 127.0.0.1"
    NOTES = ("shale serve --durability off, one boto3 client (keep-alive), one thread",)

    @classmethod
    def probe(cls) -> str | None:
        return _importable("engine.server") or _importable("boto3")

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"shaledb": _dist_version("shaledb", "source tree")}

    def command(self, port: int, path: str) -> list[str]:
        data = os.path.join(path, "store")
        return [
            sys.executable,
            "-c",
            "from engine.server.cli import console_main; console_main()",
            "serve",
            "--port",
            str(port),
            "--data",
            data,
            "--durability",
            "off",
            "--log-level",
            "warning",
        ]


def find_dynalite() -> Path | None:
    """dynalite's cli.js, or None when Node or the package is missing (module essay)."""
    if shutil.which("node") is None:
        return None
    given = os.environ.get("SHALE_DYNALITE")
    bases = [Path(given)] if given else []
    bases += [
        Path.cwd() / "node_modules",
        ROOT / "bench" / "node_modules",
        DYNALITE_PREFIX / "node_modules",
        Path(tempfile.gettempdir()) / "dyn" / "node_modules",
    ]
    for base in bases:
        for cli in (base, base / "cli.js", base / "dynalite" / "cli.js"):
            if cli.is_file() and cli.name == "cli.js":
                return cli
    return None


def install_dynalite(prefix: Path = DYNALITE_PREFIX) -> tuple[bool, str]:
    """`npm install --prefix PREFIX dynalite` (the npm registry, npm's own client); return
    (whether dynalite is now found, what npm said last)."""
    npm = shutil.which("npm")
    if npm is None:
        return False, "npm not found on PATH"
    proc = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "dynalite"],
        capture_output=True,
        text=True,
        check=False,
    )
    said = (proc.stdout + proc.stderr).strip()[-2000:]
    return proc.returncode == 0 and find_dynalite() is not None, said


class Dynalite(_ServerEngine):
    name = "dynalite"
    LEVEL = "DynamoDB API over HTTP: dynalite (Node.js, in memory) through boto3 on 127.0.0.1"
    NOTES = ("dynalite in memory (no --path), default latencies (--createTableMs 0)",)

    @classmethod
    def probe(cls) -> str | None:
        if shutil.which("node") is None:
            return "node not found on PATH"
        if find_dynalite() is None:
            return (
                "the dynalite npm package was not found (python -m bench --install-dynalite,"
                " or set SHALE_DYNALITE to its directory)"
            )
        return _importable("boto3")

    @classmethod
    def versions(cls) -> dict[str, str]:
        cli = find_dynalite()
        out = {
            "node": subprocess.run(
                ["node", "--version"], capture_output=True, text=True
            ).stdout.strip()
        }
        package = cli.parent / "package.json" if cli else None
        if package and package.is_file():
            out["dynalite"] = json.loads(package.read_text()).get("version", "unknown")
        return out

    def command(self, port: int, path: str) -> list[str]:
        cli = find_dynalite()
        assert cli is not None
        return ["node", str(cli), "--port", str(port), "--createTableMs", "0"]


# ------------------------------------------------------------------ key-value stores


def kv_key(k: int) -> bytes:
    return b"user%010d" % k


class KVStoreEngine(YCSBEngine):
    """A bench/engines.py KVEngine with records as 10 fields concatenated."""

    kv_class: ClassVar[type[KVEngine]]
    LEVEL = "key-value: records as 1,000-byte values"

    @classmethod
    def probe(cls) -> str | None:
        return cls.kv_class.probe()

    @classmethod
    def versions(cls) -> dict[str, str]:
        return cls.kv_class.versions()

    def open(self, path: str) -> None:
        self._engine = self.kv_class()
        self._engine.open(path, durable=False)
        self._get, self._put, self._scan = self._engine.point_ops()

    def close(self) -> None:
        self._engine.close()

    def insert_batch(self, ks: Sequence[int], fields: Sequence[list[str]]) -> None:
        keys = [kv_key(k) for k in ks]
        values = ["".join(f).encode() for f in fields]
        self._engine.fill_batches(keys, values, len(keys))

    def insert(self, k: int, fields: list[str]) -> None:
        self._put(kv_key(k), "".join(fields).encode())

    def read(self, k: int) -> bool:
        return self._get(kv_key(k)) is not None

    def update(self, k: int, field: int, value: str) -> None:
        key = kv_key(k)
        old = self._get(key)
        if old is None:
            old = b" " * (FIELDS * FIELD_BYTES)
        start = field * FIELD_BYTES
        self._put(key, bytes(old[:start]) + value.encode() + bytes(old[start + FIELD_BYTES :]))

    def scan(self, k: int, count: int) -> int:
        return len(self._scan(kv_key(k), count))


def _kv_adapter(name: str, kv_name: str) -> type[KVStoreEngine]:
    kv_class = KV_ENGINES[kv_name]
    notes = (
        *kv_class.NOTES,
        "YCSB: one atomic put per insert/update (update = get + put of the whole record), "
        "load in batches of 25, fills not durable",
    )
    level = (
        "key-value: ShaleDB's storage engine (engine.storage), records as 1,000-byte values"
        if kv_name == "shale"
        else KVStoreEngine.LEVEL
    )
    return type(
        f"YCSB_{name.replace('-', '_')}",
        (KVStoreEngine,),
        {"name": name, "kv_class": kv_class, "NOTES": notes, "LEVEL": level},
    )


YCSB_ENGINES: dict[str, type[YCSBEngine]] = {
    cls.name: cls
    for cls in (
        ShaleItems,
        ShaleServer,
        _kv_adapter("shale-storage", "shale"),
        _kv_adapter("lmdb", "lmdb"),
        _kv_adapter("sqlite", "sqlite"),
        _kv_adapter("rocksdict", "rocksdict"),
        _kv_adapter("plyvel", "plyvel"),
        Moto,
        Dynalite,
    )
}


# ------------------------------------------------------------------ helpers


def _importable(module: str) -> str | None:
    try:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    except (ImportError, ValueError) as exc:
        return f"{module} not importable: {exc}"
    return None


def _dist_version(dist: str, default: str = "unknown") -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return default


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s:.0f} s")
