"""The `shale-inspect` command line: `shale-inspect DATA_DIR COMMAND [options]`.

Each command is one module of this package (Pebble's tool/ layout, one file per thing it
inspects) exposing NAME, HELP (one line), DESCRIPTION (a paragraph for --help),
`add_arguments(parser)` and `run(datadir, args) -> Result`. `COMMANDS` lists them; a
new command is a new module added there, and the README test requires it to be
documented.

Exit status: 0 success, 1 the command found a problem (damage, an unreadable file),
2 usage errors and directories that cannot be inspected at all.
"""

import argparse
import json
import logging
import os
import sys
from types import ModuleType

from tools.inspect import (
    backups,
    get,
    levels,
    pitr,
    scan,
    sst,
    summary,
    table,
    tables,
    verify,
    wal,
)
from tools.inspect.datadir import DataDir, InspectError

COMMANDS: tuple[ModuleType, ...] = (
    summary,
    tables,
    table,
    get,
    scan,
    levels,
    sst,
    wal,
    pitr,
    backups,
    verify,
)

DESCRIPTION = """\
Inspect a ShaleDB data directory offline, strictly read-only: no command changes a
byte of it, not even of a directory left by a crash (use the store itself to recover).
Each command prints aligned tables, or JSON with --json. Commands:"""

EPILOG = """\
Run `shale-inspect DATA_DIR COMMAND --help` for a command's options. Exit status: 0 ok,
1 a problem was found, 2 usage error or not a data directory."""


def build_parser() -> argparse.ArgumentParser:
    commands = "\n".join(f"  {m.NAME:<8} {m.HELP}" for m in COMMANDS)
    parser = argparse.ArgumentParser(
        prog="shale-inspect",
        description=f"{DESCRIPTION}\n\n{commands}",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="the store directory")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        command = sub.add_parser(
            module.NAME,
            description=module.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS,
            help="print JSON instead of tables",
        )
        module.add_arguments(command)
        command.set_defaults(module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return (and, as a console script, exit with) its status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_salvage_log()
    try:
        datadir = DataDir(args.data_dir)
    except InspectError as exc:
        print(f"shale-inspect: {exc}", file=sys.stderr)
        return 2
    result = args.module.run(datadir, args)
    if args.json:
        json.dump(result.data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(result.text)
    return result.exit_code


def _quiet_salvage_log() -> None:
    """read_segment logs each range it skips in salvage mode; the tool reports them
    itself, so keep Python's last-resort handler from printing them again."""
    wal_log = logging.getLogger("engine.storage.wal")
    if not any(isinstance(h, logging.NullHandler) for h in wal_log.handlers):
        wal_log.addHandler(logging.NullHandler())


def console_main() -> None:
    """Entry point of the `shale-inspect` console script. Output piped into a command
    that stops reading (`| head`) ends quietly, as other command-line tools do."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point it at null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)
