"""``shale serve``: run a DynamoDB endpoint over a data directory.

    shale serve [--host 127.0.0.1] [--port 8000] [--data ./shale-data]
                [--durability sync|group|off] [--log-level info]
                [--credentials FILE] [--insecure-open]

Opens (creating on first run) the store in ``--data``, then serves it (engine.server.http:
httptools on uvloop, when installed) until SIGTERM or SIGINT: the listener closes, idle
connections close, requests in flight finish (up to 30 s), the request threads stop and the
store is flushed and closed. It prints one line
once it listens, naming the address (the real port when ``--port 0``), the data directory
and what it serves; tests and scripts wait for that line.

Without ``--credentials`` any well-formed signature is accepted, as local DynamoDB
endpoints do; such a server listens only on a loopback address unless ``--insecure-open``
says otherwise. A second server on the same directory is refused (the store's LOCK).

Exit status: 0 after a clean stop, 1 when the server cannot start, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import socket
import sys
import time

from engine.api import Service
from engine.server.app import App, inline_operations
from engine.server.auth import Verifier, load_credentials
from engine.server.http import HTTPServer
from engine.storage import Store, StoreLockedError

__all__ = ["build_parser", "main", "serve"]

log = logging.getLogger(__name__)

DURABILITY_MODES = ("sync", "group", "off")
DRAIN_TIMEOUT_S = 30.0  # requests in flight at a stop signal get this long to finish
RECOVERY_NOTICE_BYTES = 64 << 20  # WAL larger than this: say that recovery is under way


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shale", description="ShaleDB: DynamoDB, embedded.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve DynamoDB's wire protocol over a data directory")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (8000; 0 picks a free one)")
    s.add_argument("--data", default="./shale-data", help="data directory (./shale-data)")
    s.add_argument(
        "--durability",
        choices=DURABILITY_MODES,
        default="sync",
        help="sync: fsync before each reply (default); group: fsync every few ms; off",
    )
    s.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error", "critical"),
    )
    s.add_argument(
        "--credentials",
        metavar="FILE",
        help="verify SigV4 against the key pairs in this AWS credentials-style INI file",
    )
    s.add_argument(
        "--insecure-open",
        action="store_true",
        help="allow a non-loopback --host without --credentials (anyone may connect)",
    )
    s.add_argument("--region", default="us-east-1", help="region in ARNs (us-east-1)")
    s.add_argument("--account-id", default="000000000000", help="account id in ARNs")
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _say(line: str) -> None:
    """A line of the program's own output (not logging: it shows at every log level)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _wal_bytes(path: str) -> int:
    try:
        with os.scandir(path) as it:
            return sum(e.stat().st_size for e in it if e.name.endswith(".wal"))
    except OSError:
        return 0


def serve(args: argparse.Namespace) -> int:
    """Run the server described by parsed ``serve`` arguments; return the exit status."""
    verifier = Verifier()
    if args.credentials:
        try:
            verifier = Verifier(load_credentials(args.credentials))
        except (OSError, ValueError) as exc:
            _say(f"shale serve: cannot read credentials: {exc}")
            return 1
    elif not _is_loopback(args.host) and not args.insecure_open:
        _say(
            f"shale serve: refusing to listen on {args.host} without --credentials: any "
            "client could read and change the data. Give --credentials FILE, or "
            "--insecure-open to allow it anyway."
        )
        return 1

    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        _say(f"shale serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return 1
    try:
        return _serve_on(sock, args, verifier)
    finally:
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), bound before the store opens so that a taken port
    fails fast and leaves the data directory alone."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _serve_on(sock: socket.socket, args: argparse.Namespace, verifier: Verifier) -> int:
    data = os.path.abspath(args.data)
    wal = _wal_bytes(data)
    if wal > RECOVERY_NOTICE_BYTES:
        _say(f"shale serve: recovering {data} ({wal >> 20} MiB of WAL)...")
    started = time.monotonic()
    try:
        store = Store.open(data, durability=args.durability)
    except StoreLockedError:
        _say(
            f"shale serve: {data} is in use by another process (its LOCK is held); stop "
            "that server or give another --data"
        )
        return 1
    if wal > RECOVERY_NOTICE_BYTES:
        _say(
            f"shale serve: recovered {store.recovery_report.records} WAL records in "
            f"{time.monotonic() - started:.1f} s"
        )
    app = service = None
    try:
        service = Service(
            store,
            region=args.region,
            account_id=args.account_id,
            endpoint_address=f"{args.host}:{args.port}",
        )
        app = App(service, verifier=verifier, inline_operations=inline_operations(args.durability))
        auth = "SigV4 against --credentials" if args.credentials else "open (any signature)"
        _run(app.server(), sock, service, data, args.durability, auth)
        return 0
    finally:
        if app is not None:
            app.close()
        if service is not None:
            service.close()  # stops index backfills; an unfinished one resumes next start
        store.close()
        log.info("store closed: %s", data)


def _loop_factory():
    try:
        import uvloop
    except ImportError:  # (not on Windows) asyncio's own loop serves too, slower
        return None
    return uvloop.new_event_loop


def _run(
    server: HTTPServer,
    sock: socket.socket,
    service: Service,
    data: str,
    durability: str,
    auth: str,
) -> None:
    """Serve until SIGTERM or SIGINT, then drain the connections."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await server.start([sock])
            host, port = server.addresses()[0][:2]
            service.ctx.endpoint_address = f"{host}:{port}"  # the real port when --port 0
            tables = len(service.ctx.tables.names())
            _say(
                f"shale serve: listening on http://{host}:{port} (DynamoDB JSON 1.0, "
                f"{len(service.operations())} operations) data {data} ({tables} tables, "
                f"durability {durability}) auth {auth}"
            )
            await stop.wait()
            log.info("stopping: draining %d connections", len(server.connections))
            await server.drain(DRAIN_TIMEOUT_S)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        return serve(args)
    return 2


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console_main()
