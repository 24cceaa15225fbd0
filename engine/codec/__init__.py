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
from .keys import decode_key_value as py_decode_key_value
from .keys import decode_key_values as py_decode_key_values
from .keys import decode_primary_key as py_decode_primary_key
from .keys import encode_key_value as py_encode_key_value
from .keys import encode_key_values as py_encode_key_values
from .keys import encode_primary_key as py_encode_primary_key
from .keys import hash_prefix as py_hash_prefix
from .keys import partition_hash as py_partition_hash
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
from .native_keys import (
    decode_key_value,
    decode_key_values,
    decode_primary_key,
    encode_key_value,
    encode_key_values,
    encode_primary_key,
    hash_prefix,
    index_entries,
    index_keys_plausible,
    partition_hash,
    table_key,
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
    "decode_key_value",
    "decode_key_values",
    "decode_primary_key",
    "encode_key_value",
    "encode_key_values",
    "encode_primary_key",
    "hash_prefix",
    "index_entries",
    "index_keys_plausible",
    "lower_bound",
    "make_run_buffer",
    "partition_hash",
    "py_block_get",
    "py_bloom_build",
    "py_bloom_may_contain",
    "py_decode_key_value",
    "py_decode_key_values",
    "py_decode_primary_key",
    "py_encode_key_value",
    "py_encode_key_values",
    "py_encode_primary_key",
    "py_hash_prefix",
    "py_lower_bound",
    "py_partition_hash",
    "table_key",
]
