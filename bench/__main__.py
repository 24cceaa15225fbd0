"""Command line for ShaleDB's benchmarks: `python -m bench COMMAND ...`.

With no arguments it lists the commands, the kv workloads and the engines (with whether each
is importable here). `python -m bench kv --help` explains the kv harness.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence

from bench.engines import ENGINES
from bench.kv import SYNC_THREADS, SYNC_WRITES_MAX, WORKLOADS, KVConfig, run_kv
from bench.report import describe_machine, render_markdown

COMMANDS = {
    "kv": "db_bench-style key-value workloads over shale, lmdb, sqlite, rocksdict and plyvel",
}

KV_EPILOG = f"""\
workloads (16-byte keys, 100-byte half-compressible values; N = --records):
{chr(10).join(f"  {name:<11} {text}" for name, text in WORKLOADS.items())}

Per engine, each of fillseq, fillbatch and fillsync runs on a fresh store; fillrandom,
overwrite, a full compaction (where the engine has one), the amplification measurement,
readrandom, readseq and seekrandom share one store. Fills are not durable (sync=False or
equivalent); fillsync uses each engine's durable mode, {SYNC_THREADS} threads and
min(N, {SYNC_WRITES_MAX:,}) writes. Engines that are not installed are skipped with a note.

output: progress on stderr; the markdown report on stdout (and --markdown FILE);
--json FILE gets engine -> workload -> ops/s, per-engine write_amplification,
space_amplification and mb_per_s, and "meta" (machine, versions, notes, details).

example: python -m bench kv --records 1000000 --json bench-results/kv-1m.json \\
             --markdown bench-results/kv-1m.md
"""


def _names(text: str, allowed: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(bad) or '(none given)'}; choose from {', '.join(allowed)}"
        )
    return names


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="ShaleDB benchmarks. Run with no arguments to list commands, "
        "workloads and engines.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    kv = sub.add_parser(
        "kv",
        help=COMMANDS["kv"],
        description="Run db_bench-style workloads over several key-value engines side by "
        "side in one process, and report ops/s and amplification.",
        epilog=KV_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kv.add_argument("--records", type=int, required=True, metavar="N", help="number of keys (N)")
    kv.add_argument(
        "--engines",
        type=lambda s: _names(s, list(ENGINES), "engine"),
        default=list(ENGINES),
        help=f"comma-separated engines (default: {','.join(ENGINES)})",
    )
    kv.add_argument(
        "--workloads",
        type=lambda s: _names(s, list(WORKLOADS), "workload"),
        default=list(WORKLOADS),
        help="comma-separated workloads (default: all, see below)",
    )
    kv.add_argument("--json", metavar="FILE", help="write the results document as JSON")
    kv.add_argument("--markdown", metavar="FILE", help="also write the markdown report here")
    kv.add_argument(
        "--dir",
        metavar="DIR",
        help="parent directory for the engines' temporary stores (default: the system "
        "temp dir); each engine's store is removed when it is done",
    )
    kv.add_argument("--seed", type=int, default=301, help="seed for keys and values")
    return parser


def list_everything() -> str:
    lines = ["commands:"]
    lines += [f"  {name:<11} {text}" for name, text in COMMANDS.items()]
    lines.append("")
    lines.append("kv workloads:")
    lines += [f"  {name:<11} {text}" for name, text in WORKLOADS.items()]
    lines.append("")
    lines.append("kv engines:")
    for name, cls in ENGINES.items():
        why = cls.probe()
        lines.append(f"  {name:<11} {'available' if why is None else 'skipped: ' + why}")
    lines.append("")
    lines.append("run `python -m bench kv --help` for options")
    return "\n".join(lines)


def _write(path: str, text: str) -> None:
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        print(list_everything())
        return 0
    if args.records < 1:
        parser.error("--records must be at least 1")
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
    cfg = KVConfig(
        records=args.records,
        engines=args.engines,
        workloads=[w for w in WORKLOADS if w in args.workloads],
        seed=args.seed,
        base_dir=args.dir,
    )
    doc = run_kv(cfg)
    doc["meta"]["machine"] = describe_machine(args.dir or tempfile.gettempdir())
    markdown = render_markdown(doc)
    if args.json:
        _write(args.json, json.dumps(doc, indent=2, default=str) + "\n")
    if args.markdown:
        _write(args.markdown, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
