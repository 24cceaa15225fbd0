"""ShaleDB's benchmarks, run as `python -m bench [...]`.

`python -m bench` (bench/harness.py) lists workloads and engines and runs any combination:
the db_bench-style key-value workloads of bench/kv.py over ShaleDB's storage engine and its
peers (LMDB, SQLite, RocksDB through rocksdict, LevelDB through plyvel), and YCSB A-F on
items (bench/ycsb.py, bench/ycsb_engines.py) over ShaleDB's embedded API, its server, moto
and dynalite, with progress bars, latency percentiles and charts (bench/charts.py).
`bench kv` is the key-value report alone. bench/index.py measures secondary indexes and
bench/serve.py the server. bench/engines.py adapts each key-value engine, bench/measure.py
holds the timers and I/O counters, bench/report.py describes the machine and renders the
markdown.
The bench layer sits on top: it imports engine.storage's public surface and nothing imports
it. Importing this package starts nothing and touches no files.
"""

from bench.kv import ENGINE_WORKLOADS, WORKLOADS, KVConfig, run_kv

__all__ = ["ENGINE_WORKLOADS", "WORKLOADS", "KVConfig", "run_kv"]
