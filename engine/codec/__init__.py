"""Hot loops of the storage engine: k-way merge of sorted runs, bloom filters, block search.

Each routine comes twice with identical behaviour and signatures: native
(``Merger``, ``lower_bound``, ``bloom_build``, ``bloom_may_contain``, from the
cffi extension engine._native) and the pure-Python twin (``PyMerger``,
``py_...``) that specifies it and serves as the oracle in property tests. The
semantics are documented in engine/codec/merge.py.

There is no silent fallback: if engine._native is not built, importing this
package raises ImportError.
"""

try:
    import engine._native  # noqa: F401  (checked first, so every submodule may rely on it)
except ImportError as exc:
    raise ImportError(
        "engine._native (ShaleDB's C extension) is not built: build it with"
        " `pip install -e .` from the repository root"
    ) from exc

from .block import block_get, py_block_get
from .merge import (
    KIND_TOMBSTONE,
    KIND_VALUE,
    MERGE_COMPACT,
    MERGE_DONE,
    MERGE_NEED_REFILL,
    MERGE_OUT_FULL,
    MERGE_READ,
    PyMerger,
    make_run_buffer,
    py_bloom_build,
    py_bloom_may_contain,
    py_lower_bound,
)
from .native_merge import Merger, bloom_build, bloom_may_contain, lower_bound

__all__ = [
    "KIND_TOMBSTONE",
    "KIND_VALUE",
    "MERGE_COMPACT",
    "MERGE_DONE",
    "MERGE_NEED_REFILL",
    "MERGE_OUT_FULL",
    "MERGE_READ",
    "Merger",
    "PyMerger",
    "block_get",
    "bloom_build",
    "bloom_may_contain",
    "lower_bound",
    "make_run_buffer",
    "py_block_get",
    "py_bloom_build",
    "py_bloom_may_contain",
    "py_lower_bound",
]
