"""ShaleDB's benchmarks, run as `python -m bench COMMAND`.

`bench kv` (bench/kv.py) runs db_bench-style key-value workloads over ShaleDB's storage
engine and its peers (LMDB, SQLite, RocksDB through rocksdict, LevelDB through plyvel) side
by side in one process. bench/engines.py adapts each engine, bench/measure.py holds the
timers and I/O counters, bench/report.py describes the machine and renders the markdown.
The bench layer sits on top: it imports engine.storage's public surface and nothing imports
it. Importing this package starts nothing and touches no files.
"""

from bench.kv import ENGINE_WORKLOADS, WORKLOADS, KVConfig, run_kv

__all__ = ["ENGINE_WORKLOADS", "WORKLOADS", "KVConfig", "run_kv"]
