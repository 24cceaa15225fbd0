"""Command line for ShaleDB's benchmarks.

    python -m bench                                  # list workloads and engines
    python -m bench --engines shale,lmdb,moto --workload ycsb-a --records 100000
    python -m bench --workload all --records 10000 --out bench-results/run1
    python -m bench kv --records 1000000             # the db_bench-style kv report alone

With no arguments it lists every workload and every engine, with whether each is usable
here. A run (bench/harness.py) writes results.json, results.md and PNG charts into --out
(default bench-results/<UTC time>) and prints the markdown. `python -m bench kv --help`
explains the kv harness.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence

from bench.engines import ENGINES
from bench.harness import ALL_ENGINES, ALL_WORKLOADS, HarnessConfig, probe_all, run, write_outputs
from bench.kv import SYNC_THREADS, SYNC_WRITES_MAX, WORKLOADS, KVConfig, run_kv
from bench.report import describe_machine, render_markdown, save_outputs
from bench.ycsb_engines import find_dynalite, install_dynalite

COMMANDS = {
    "kv": "db_bench-style key-value workloads over shale, lmdb, sqlite, rocksdict and plyvel "
    "(the kv report with amplification, no charts)",
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


HARNESS_EPILOG = """\
workloads: a comma-separated list of names (see `python -m bench` with no arguments),
`kv` (every kv workload), `ycsb` (ycsb-a..ycsb-f) or `all`. engines: names, or `all`.
Engines that are not installed are skipped with a note; combinations that do not apply
(moto has no kv workloads) are noted. Progress bars go to stderr on a terminal
(--progress forces them); the markdown report goes to stdout and, with results.json and
the charts, into --out.

example: python -m bench --engines shale,lmdb,sqlite,moto --workload ycsb-a,ycsb-e \\
             --records 100000 --out bench-results/ycsb-100k
"""


def list_everything() -> str:
    """Every workload and engine, and whether each engine can run here."""
    lines = ["workloads (python -m bench --workload NAME[,NAME...]):"]
    for family in ("kv", "ycsb"):
        for name, (fam, text) in ALL_WORKLOADS.items():
            if fam == family:
                lines.append(f"  {name:<14} {family:<5} {text}")
    lines.append("")
    lines.append("engines (python -m bench --engines NAME[,NAME...]):")
    for name, by_family in probe_all().items():
        states = []
        for family, why in by_family.items():
            if why == "n/a":
                continue
            states.append(f"{family}: {'available' if why is None else 'skipped, ' + why}")
        lines.append(f"  {name:<14} {'; '.join(states)}")
    lines.append("")
    lines.append("commands:")
    lines += [f"  {name:<14} {text}" for name, text in COMMANDS.items()]
    lines.append("")
    lines.append("run `python -m bench --help` or `python -m bench kv --help` for options")
    return "\n".join(lines)


def _selection(text: str, allowed: Sequence[str], groups: dict[str, list[str]], what: str):
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        names += groups.get(part, [part])
    return _names(",".join(dict.fromkeys(names)), allowed, what)


def make_harness_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run benchmark workloads on several engines side by side and write the\n"
        "results as JSON, markdown and PNG charts. With no arguments, list workloads and\n"
        "engines and whether each can run here.",
        epilog=HARNESS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    workload_groups = {
        "all": list(ALL_WORKLOADS),
        "kv": [w for w, (f, _) in ALL_WORKLOADS.items() if f == "kv"],
        "ycsb": [w for w, (f, _) in ALL_WORKLOADS.items() if f == "ycsb"],
    }
    parser.add_argument(
        "--workload",
        "--workloads",
        dest="workloads",
        type=lambda s: _selection(s, list(ALL_WORKLOADS), workload_groups, "workload"),
        help="comma-separated workloads, or kv, ycsb, all",
    )
    parser.add_argument(
        "--engines",
        type=lambda s: _selection(s, list(ALL_ENGINES), {"all": list(ALL_ENGINES)}, "engine"),
        default=list(ALL_ENGINES),
        help=f"comma-separated engines (default: all: {','.join(ALL_ENGINES)})",
    )
    parser.add_argument("--records", type=int, default=10_000, metavar="N", help="records (N)")
    parser.add_argument(
        "--ops", type=int, metavar="N", help="operations per ycsb workload (default: --records)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        help="stop each ycsb workload on an engine after S seconds (slow engines such as "
        "moto then report the operations they did)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="output directory (default: bench-results/<UTC time>)"
    )
    parser.add_argument(
        "--dir", metavar="DIR", help="parent of the engines' temporary stores (default: temp)"
    )
    parser.add_argument("--seed", type=int, default=301, help="seed of keys, values and ops")
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="draw progress bars even when stderr is not a terminal",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never draw them")
    parser.add_argument("--list", action="store_true", help="list workloads and engines, then exit")
    parser.add_argument(
        "--install-dynalite",
        action="store_true",
        help="npm install dynalite under ~/.cache/shaledb/dynalite (needs node and npm), then exit",
    )
    return parser


def harness_main(argv: Sequence[str]) -> int:
    parser = make_harness_parser()
    args = parser.parse_args(argv)
    if args.install_dynalite:
        ok, said = install_dynalite()
        print(said, file=sys.stderr)
        print(
            f"dynalite: {'installed, found at ' + str(find_dynalite()) if ok else 'NOT installed'}"
        )
        return 0 if ok else 1
    if args.list or args.workloads is None:
        print(list_everything())
        return 0
    if args.records < 1:
        parser.error("--records must be at least 1")
    if args.progress is not None:
        os.environ["SHALE_BENCH_PROGRESS"] = "1" if args.progress else "0"
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
    cfg = HarnessConfig(
        engines=args.engines,
        workloads=args.workloads,
        records=args.records,
        ops=args.ops if args.ops is not None else args.records,
        seed=args.seed,
        base_dir=args.dir,
        max_seconds=args.max_seconds,
    )
    doc = run(cfg)
    doc["meta"]["command"] = " ".join(["python -m bench", *argv])
    out = args.out or os.path.join("bench-results", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    written = write_outputs(doc, out)
    with open(written["results.md"]) as f:
        print(f.read())
    print(f"wrote {', '.join(sorted(written.values()))}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "kv":
        return harness_main(argv)
    parser = make_parser()
    args = parser.parse_args(argv)
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
    save_outputs(doc, markdown, json_path=args.json, markdown_path=args.markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
