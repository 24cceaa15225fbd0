"""On-disk constants of the storage engine, each citing its docs/FORMAT.md section.

Every value marked "DO NOT CHANGE: on disk" is frozen: files already written depend on
it. An incompatible change bumps the matching format version, and readers refuse a
newer version with a message naming the file and both versions.
"""

import struct

# --- Entry kinds (FORMAT.md "Internal key"). DO NOT CHANGE: on disk.
KIND_TOMBSTONE = 0
KIND_VALUE = 1
MAX_SEQNO = (1 << 56) - 1  # a trailer is seqno << 8 | kind in a u64


def make_trailer(seqno: int, kind: int) -> int:
    """Pack a seqno and kind into the u64 trailer stored beside each key."""
    return (seqno << 8) | kind


# --- WAL (FORMAT.md "WAL segment", "WAL record", "Write batch"). DO NOT CHANGE: on disk.
WAL_MAGIC = 0x4C415753  # b"SWAL" read as u32 LE
WAL_FORMAT_VERSION = 1
WAL_HEADER = struct.Struct("<IHHQ")  # magic, version, reserved, segment number
WAL_RECORD_HEADER = struct.Struct("<II")  # crc32c(length bytes + payload), payload length
BATCH_HEADER = struct.Struct("<QQI")  # seqno, commit_ts_us, op count
OP_HEADER = struct.Struct("<BII")  # kind, keyspace id, key length
VALUE_LEN = struct.Struct("<I")
WAL_MAX_RECORD_BYTES = 1 << 30

# --- SSTable (FORMAT.md "SSTable"). DO NOT CHANGE: on disk.
SST_MAGIC = 0x314C425453454C41  # b"ALESTBL1" as u64 LE
SST_FORMAT_VERSION = 1
BLOCK_TRAILER = struct.Struct("<BI")  # compression, crc32c(payload + compression byte)
COMPRESSION_NONE = 0
COMPRESSION_ZSTD = 1
DATA_BLOCK_HEADER = struct.Struct("<II")  # entry count, flags
BLOCK_FLAG_MULTI_VERSION = 1  # some key has more than one version in this block
BLOCK_FLAG_TOMBSTONES = 2  # the block holds at least one tombstone
INDEX_BLOCK_HEADER = struct.Struct("<I")  # block count
BLOCK_HANDLE = struct.Struct("<QI")  # offset, on-disk size including the block trailer
FOOTER = struct.Struct("<QIQIQIIQ")  # bloom, props, index handles; version; magic
PROPERTIES = struct.Struct("<QQIQQQQQQI")
# entry_count, tombstone_count, data_block_count, raw_key_bytes, raw_value_bytes,
# min_seqno, max_seqno, min_commit_ts_us, max_commit_ts_us, flags; then smallest and
# largest key, each as u32 LE length + bytes.

# --- Catalog (FORMAT.md "Catalog"). DO NOT CHANGE: on disk.
CATALOG_FORMAT_VERSION = 1
CATALOG_DIR = "catalog"
FILE_META = struct.Struct("<BQQQQQQQQQQ")
# level, file_size, entry_count, tombstone_count, raw_key_bytes, raw_value_bytes,
# min_seqno, max_seqno, min_commit_ts_us, max_commit_ts_us, data_block_count; then
# smallest and largest key, each as u32 LE length + bytes.
U64 = struct.Struct("<Q")
U32 = struct.Struct("<I")
FILE_KEY = struct.Struct(">IQ")  # keyspace id, file number (big-endian: sorts by both)
SEGMENT_KEY = struct.Struct(">Q")

# --- File names (FORMAT.md "Directory layout").
LOCK_NAME = "LOCK"
WAL_SUFFIX = ".wal"
SST_SUFFIX = ".sst"
TMP_SUFFIX = ".tmp"


def make_wal_name(number: int) -> str:
    return f"{number:06d}{WAL_SUFFIX}"


def make_sst_name(number: int) -> str:
    return f"{number:06d}{SST_SUFFIX}"


def parse_file_name(name: str) -> tuple[int, str] | None:
    """Return (number, suffix) for a WAL or SSTable name, None for anything else."""
    for suffix in (WAL_SUFFIX, SST_SUFFIX):
        if name.endswith(suffix) and name[: -len(suffix)].isdigit():
            return int(name[: -len(suffix)]), suffix
    return None
