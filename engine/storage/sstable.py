"""SSTables: immutable sorted files of (key, seqno, kind, value) entries.

Layout (docs/FORMAT.md "SSTable"):

    file   := data_block* | bloom_block | properties_block | index_block | footer
    block  := payload | compression u8 | crc32c u32      (crc over payload + compression)
    footer := bloom handle | properties handle | index handle | version u32 | magic u64
    handle := offset u64 | size u32                      (size includes the block trailer)

A data block, once decompressed, is laid out so that it can be searched and merged in
place, without decoding entries one by one:

    data   := count u32 | flags u32 | key_offs[count+1] u32 | value_offs[count+1] u32 |
              trailers[count] u64 | key area | value area

Entries sort by user key ascending, then seqno descending, and a block never splits
the versions of one key (blocks end at key boundaries), so every block is a complete
chunk for the native merge and a point read looks in exactly one block.

`SSTableWriter` builds a file; `SSTableReader` reads one through a shared `BlockCache`
of decompressed blocks. Readers are safe to share between threads; a writer belongs to
one thread.
"""

import os
import struct
import threading
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate, pairwise

import crc32c
import zstandard

from engine._native import lib as _lib
from engine.codec import bloom_build, bloom_may_contain, lower_bound, make_run_buffer
from engine.storage.errors import CorruptionError, FormatVersionError
from engine.storage.format import (
    BLOCK_FLAG_MULTI_VERSION,
    BLOCK_FLAG_TOMBSTONES,
    BLOCK_TRAILER,
    COMPRESSION_NONE,
    COMPRESSION_ZSTD,
    DATA_BLOCK_HEADER,
    FOOTER,
    INDEX_BLOCK_HEADER,
    PROPERTIES,
    SST_FORMAT_VERSION,
    SST_MAGIC,
    U32,
)
from engine.storage.fs import FileSystem

DEFAULT_BLOCK_SIZE_BYTES = 16 * 1024
DEFAULT_BITS_PER_KEY = 10
_crc = crc32c.crc32c


@dataclass
class FileMeta:
    """What the catalog records of one SSTable (also its properties block)."""

    number: int
    level: int
    file_size: int
    entry_count: int
    tombstone_count: int
    raw_key_bytes: int
    raw_value_bytes: int
    min_seqno: int
    max_seqno: int
    min_commit_ts_us: int
    max_commit_ts_us: int
    block_count: int
    smallest: bytes
    largest: bytes


def encode_block(payload: bytes, compression: int) -> bytes:
    """Append the block trailer (compression byte and CRC32C)."""
    tail = bytes([compression])
    return payload + BLOCK_TRAILER.pack(compression, _crc(tail, _crc(payload)))


def build_data_block(keys: list[bytes], trailers: list[int], values: list[bytes]) -> bytes:
    """Lay out one uncompressed data block (FORMAT.md "Data block")."""
    count = len(keys)
    flags = 0
    if len(set(keys)) != count:
        flags |= BLOCK_FLAG_MULTI_VERSION
    if any(not t & 0xFF for t in trailers):
        flags |= BLOCK_FLAG_TOMBSTONES
    key_offs = struct.pack(f"<{count + 1}I", *accumulate(map(len, keys), initial=0))
    value_offs = struct.pack(f"<{count + 1}I", *accumulate(map(len, values), initial=0))
    return b"".join(
        (
            DATA_BLOCK_HEADER.pack(count, flags),
            key_offs,
            value_offs,
            struct.pack(f"<{count}Q", *trailers),
            b"".join(keys),
            b"".join(values),
        )
    )


class SSTableWriter:
    """Builds one SSTable. Call `add` in (key asc, seqno desc) order, then `finish`.

    REQUIRES: entries arrive sorted; the versions of one key are added consecutively.
    """

    def __init__(
        self,
        fs: FileSystem,
        path: str,
        number: int,
        *,
        block_size_bytes: int = DEFAULT_BLOCK_SIZE_BYTES,
        bits_per_key: int = DEFAULT_BITS_PER_KEY,
        zstd_level: int = 1,
    ) -> None:
        self.fs = fs
        self.path = path
        self.number = number
        self.block_size_bytes = block_size_bytes
        self.bits_per_key = bits_per_key
        self._compressor = zstandard.ZstdCompressor(level=zstd_level)
        # O_EXCL: a file number is never reused, so an existing file is a bug to report,
        # never something to overwrite.
        self._fd = fs.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        self._offset = 0
        self._keys: list[bytes] = []
        self._trailers: list[int] = []
        self._values: list[bytes] = []
        self._block_bytes = 0
        self._last_key: bytes | None = None
        self._index_keys: list[bytes] = []
        self._index_offsets: list[int] = []
        self._index_sizes: list[int] = []
        self._bloom_keys: list[bytes] = []
        self.entry_count = 0
        self.tombstone_count = 0
        self.raw_key_bytes = 0
        self.raw_value_bytes = 0
        self.min_seqno = 1 << 64
        self.max_seqno = 0
        self.smallest: bytes | None = None

    @property
    def estimated_size_bytes(self) -> int:
        return self._offset + self._block_bytes

    def add(self, key: bytes, trailer: int, value: bytes | None) -> None:
        if key != self._last_key:
            if self._block_bytes >= self.block_size_bytes:
                self._finish_block()
            self._bloom_keys.append(key)
            self._last_key = key
        self._keys.append(key)
        self._trailers.append(trailer)
        self._values.append(value or b"")
        self._block_bytes += len(key) + (len(value) if value else 0) + 16

    def add_unique_sorted(
        self, keys: list[bytes], trailers: list[int], values: list[bytes]
    ) -> None:
        """Add many entries at once (tombstones with empty values).

        REQUIRES: keys strictly ascending, all above any key added before, one version
        each; so any cut is a key boundary and blocks are cut by size alone."""
        if not keys:
            return
        self._finish_block()
        ends = list(accumulate(len(k) + len(v) + 16 for k, v in zip(keys, values)))
        start = 0
        consumed = 0
        n = len(keys)
        while start < n:
            # First entry at which the block reaches the target size (inclusive).
            stop = min(n, bisect_left(ends, consumed + self.block_size_bytes, start) + 1)
            self._keys = keys[start:stop]
            self._trailers = trailers[start:stop]
            self._values = values[start:stop]
            self._finish_block()
            consumed = ends[stop - 1]
            start = stop
        self._bloom_keys.extend(keys)
        self._last_key = keys[-1]

    def _write(self, data: bytes) -> tuple[int, int]:
        offset = self._offset
        self.fs.write(self._fd, data)
        self._offset += len(data)
        return offset, len(data)

    def _finish_block(self) -> None:
        keys, trailers, values = self._keys, self._trailers, self._values
        if not keys:
            return
        raw = build_data_block(keys, trailers, values)
        compressed = self._compressor.compress(raw)
        if len(compressed) < len(raw) - len(raw) // 8:
            block = encode_block(compressed, COMPRESSION_ZSTD)
        else:
            block = encode_block(raw, COMPRESSION_NONE)
        offset, size = self._write(block)
        self._index_keys.append(keys[-1])
        self._index_offsets.append(offset)
        self._index_sizes.append(size)
        if self.smallest is None:
            self.smallest = keys[0]
        self.entry_count += len(keys)
        self.tombstone_count += sum(1 for t in trailers if not t & 0xFF)
        self.raw_key_bytes += sum(map(len, keys))
        self.raw_value_bytes += sum(map(len, values))
        self.min_seqno = min(self.min_seqno, min(trailers) >> 8)
        self.max_seqno = max(self.max_seqno, max(trailers) >> 8)
        self._keys, self._trailers, self._values = [], [], []
        self._block_bytes = 0

    def finish(self, level: int, min_commit_ts_us: int, max_commit_ts_us: int) -> FileMeta:
        """Write bloom, properties, index and footer; fsync. Returns the file's meta."""
        self._finish_block()
        if self.smallest is None:
            raise ValueError("an SSTable needs at least one entry")
        buf, keys_at, offs_at, _ = make_run_buffer([(k, 0) for k in self._bloom_keys])
        bloom = bloom_build(buf, keys_at, offs_at, len(self._bloom_keys), self.bits_per_key)
        bloom_handle = self._write(encode_block(bloom, COMPRESSION_NONE))
        largest = self._index_keys[-1]
        props = b"".join(
            (
                PROPERTIES.pack(
                    self.entry_count,
                    self.tombstone_count,
                    len(self._index_keys),
                    self.raw_key_bytes,
                    self.raw_value_bytes,
                    self.min_seqno,
                    self.max_seqno,
                    min_commit_ts_us,
                    max_commit_ts_us,
                    0,
                ),
                U32.pack(len(self.smallest)),
                self.smallest,
                U32.pack(len(largest)),
                largest,
            )
        )
        props_handle = self._write(encode_block(props, COMPRESSION_NONE))
        n = len(self._index_keys)
        index = b"".join(
            (
                INDEX_BLOCK_HEADER.pack(n),
                struct.pack(f"<{n + 1}I", *accumulate(map(len, self._index_keys), initial=0)),
                struct.pack(f"<{n}Q", *self._index_offsets),
                struct.pack(f"<{n}I", *self._index_sizes),
                b"".join(self._index_keys),
            )
        )
        compressed = self._compressor.compress(index)
        if len(compressed) < len(index) - len(index) // 8:
            index_block = encode_block(compressed, COMPRESSION_ZSTD)
        else:
            index_block = encode_block(index, COMPRESSION_NONE)
        index_handle = self._write(index_block)
        self._write(
            FOOTER.pack(*bloom_handle, *props_handle, *index_handle, SST_FORMAT_VERSION, SST_MAGIC)
        )
        self.fs.fsync(self._fd)
        self.fs.close(self._fd)
        self._fd = -1
        return FileMeta(
            number=self.number,
            level=level,
            file_size=self._offset,
            entry_count=self.entry_count,
            tombstone_count=self.tombstone_count,
            raw_key_bytes=self.raw_key_bytes,
            raw_value_bytes=self.raw_value_bytes,
            min_seqno=self.min_seqno,
            max_seqno=self.max_seqno,
            min_commit_ts_us=min_commit_ts_us,
            max_commit_ts_us=max_commit_ts_us,
            block_count=n,
            smallest=self.smallest,
            largest=largest,
        )

    def abort(self) -> None:
        """Close and remove a half-written file (best effort)."""
        if self._fd >= 0:
            try:
                self.fs.close(self._fd)
            finally:
                self._fd = -1
        try:
            os.unlink(self.path)
        except OSError:
            pass


class Block:
    """A decompressed data block, searched and merged in place."""

    __slots__ = (
        "_koffs",
        "_trailers",
        "_voffs",
        "count",
        "flags",
        "keys_at",
        "raw",
        "referenced",
        "trailers_at",
        "values_at",
    )

    def __init__(self, raw: bytes) -> None:
        count, flags = DATA_BLOCK_HEADER.unpack_from(raw, 0)
        self.raw = raw
        self.referenced = False
        self.count = count
        self.flags = flags
        self.trailers_at = 8 + 8 * (count + 1)
        self.keys_at = self.trailers_at + 8 * count
        self._koffs: tuple[int, ...] | None = None
        self._voffs: tuple[int, ...] | None = None
        self._trailers: tuple[int, ...] | None = None
        (key_area,) = U32.unpack_from(raw, 8 + 4 * count)
        self.values_at = self.keys_at + key_area

    @property
    def koffs(self) -> tuple[int, ...]:
        if self._koffs is None:
            self._koffs = struct.unpack_from(f"<{self.count + 1}I", self.raw, 8)
        return self._koffs

    @property
    def voffs(self) -> tuple[int, ...]:
        if self._voffs is None:
            self._voffs = struct.unpack_from(f"<{self.count + 1}I", self.raw, 12 + 4 * self.count)
        return self._voffs

    @property
    def trailers(self) -> tuple[int, ...]:
        if self._trailers is None:
            self._trailers = struct.unpack_from(f"<{self.count}Q", self.raw, self.trailers_at)
        return self._trailers

    def key(self, i: int) -> bytes:
        koffs = self.koffs
        return self.raw[self.keys_at + koffs[i] : self.keys_at + koffs[i + 1]]

    def value(self, i: int) -> bytes:
        voffs = self.voffs
        return self.raw[self.values_at + voffs[i] : self.values_at + voffs[i + 1]]

    def lower_bound(self, key: bytes) -> int:
        return lower_bound(self.raw, self.keys_at, 8, 0, self.count, key)


class BlockCache:
    """Cache of decompressed blocks keyed by file number << 32 | block index, bounded by
    decompressed bytes, evicting by second-chance FIFO (CLOCK): a hit only sets the
    block's referenced bit, so the hot path is one dict lookup; eviction skips (and
    clears) referenced blocks once. Thread-safe."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self.size_bytes = 0
        self.hits = 0
        self.misses = 0
        self._blocks: dict[int, Block] = {}
        self._lock = threading.Lock()

    def get(self, key: int) -> Block | None:
        block = self._blocks.get(key)
        if block is None:
            self.misses += 1
            return None
        self.hits += 1
        block.referenced = True
        return block

    def put(self, key: int, block: Block) -> None:
        if self.capacity_bytes <= 0:
            return
        with self._lock:
            blocks = self._blocks
            if key in blocks:
                return
            blocks[key] = block
            self.size_bytes += len(block.raw)
            while self.size_bytes > self.capacity_bytes and len(blocks) > 1:
                old_key = next(iter(blocks))
                old = blocks.pop(old_key)
                if old.referenced and old is not block:
                    old.referenced = False
                    blocks[old_key] = old
                else:
                    self.size_bytes -= len(old.raw)

    def evict_file(self, number: int) -> None:
        with self._lock:
            for key in [k for k in self._blocks if k >> 32 == number]:
                self.size_bytes -= len(self._blocks.pop(key).raw)


_MISSING = (False, None)
_TOMBSTONE = (True, None)
_block_get = _lib.shale_block_get
_bloom_check = _lib.shale_bloom_check


class SSTableReader:
    """Reads one SSTable. Opening verifies the footer, index, bloom filter and
    properties; data blocks are verified when first read. Thread-safe."""

    def __init__(self, path: str, number: int, cache: BlockCache | None) -> None:
        self.path = path
        self.number = number
        self.cache = cache
        self._local = threading.local()
        self._cache_base = number << 32  # cache key of block i: file number << 32 | i
        self._fd = os.open(path, os.O_RDONLY)
        try:
            self._open()
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise

    def _open(self) -> None:
        size = os.fstat(self._fd).st_size
        self.file_size = size
        if size < FOOTER.size:
            raise CorruptionError(self.path, 0, f"an SSTable of at least {FOOTER.size} bytes")
        footer = os.pread(self._fd, FOOTER.size, size - FOOTER.size)
        (bloom_off, bloom_size, props_off, props_size, index_off, index_size, version, magic) = (
            FOOTER.unpack(footer)
        )
        if magic != SST_MAGIC:
            raise CorruptionError(self.path, size - 8, f"SSTable magic {SST_MAGIC:#x}")
        if version > SST_FORMAT_VERSION:
            raise FormatVersionError(self.path, version, SST_FORMAT_VERSION)
        for off, sz in ((bloom_off, bloom_size), (props_off, props_size), (index_off, index_size)):
            if off + sz > size - FOOTER.size or sz < BLOCK_TRAILER.size:
                raise CorruptionError(
                    self.path, size - FOOTER.size, "block handles inside the file"
                )
        self.bloom = self._read_verified(bloom_off, bloom_size)
        props = self._read_verified(props_off, props_size)
        index = self._read_verified(index_off, index_size)
        try:
            fields = PROPERTIES.unpack_from(props, 0)
            pos = PROPERTIES.size
            (n,) = U32.unpack_from(props, pos)
            smallest = props[pos + 4 : pos + 4 + n]
            pos += 4 + n
            (n,) = U32.unpack_from(props, pos)
            largest = props[pos + 4 : pos + 4 + n]
            (count,) = INDEX_BLOCK_HEADER.unpack_from(index, 0)
            koffs = struct.unpack_from(f"<{count + 1}I", index, 4)
            pos = 4 + 4 * (count + 1)
            self.block_offsets = struct.unpack_from(f"<{count}Q", index, pos)
            pos += 8 * count
            self.block_sizes = struct.unpack_from(f"<{count}I", index, pos)
            pos += 4 * count
        except struct.error as exc:
            raise CorruptionError(
                self.path, props_off, f"parseable properties/index ({exc})"
            ) from exc
        self.last_keys = [index[pos + a : pos + b] for a, b in pairwise(koffs)]
        (
            self.entry_count,
            self.tombstone_count,
            self.block_count,
            self.raw_key_bytes,
            self.raw_value_bytes,
            self.min_seqno,
            self.max_seqno,
            self.min_commit_ts_us,
            self.max_commit_ts_us,
            _flags,
        ) = fields
        self.smallest = smallest
        self.largest = largest
        self.index_offset = index_off
        self.bloom_offset = bloom_off
        self.props_offset = props_off

    def _read_verified(self, offset: int, size: int) -> bytes:
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            raise CorruptionError(self.path, offset, f"a {size}-byte block, file too short")
        payload = memoryview(data)[: size - BLOCK_TRAILER.size]
        compression, crc = BLOCK_TRAILER.unpack_from(data, size - BLOCK_TRAILER.size)
        if _crc(data[size - BLOCK_TRAILER.size : size - 4], _crc(payload)) != crc:
            raise CorruptionError(self.path, offset, "block checksum (crc32c) to match")
        if compression == COMPRESSION_NONE:
            return bytes(payload)
        if compression == COMPRESSION_ZSTD:
            try:
                return self._decompressor().decompress(payload)
            except zstandard.ZstdError as exc:
                raise CorruptionError(self.path, offset, f"a zstd frame ({exc})") from exc
        raise CorruptionError(self.path, offset, f"compression 0 or 1, found {compression}")

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        d = getattr(self._local, "d", None)
        if d is None:
            d = self._local.d = zstandard.ZstdDecompressor()
        return d

    def block(self, i: int) -> Block:
        """Data block `i`, from the cache or read, verified and decompressed."""
        cache = self.cache
        if cache is not None:
            block = cache.get(self._cache_base + i)
            if block is not None:
                return block
        offset = self.block_offsets[i]
        raw = self._read_verified(offset, self.block_sizes[i])
        try:
            block = Block(raw)
        except struct.error as exc:
            raise CorruptionError(self.path, offset, f"a parseable data block ({exc})") from exc
        if cache is not None:
            cache.put(self._cache_base + i, block)
        return block

    def may_contain(self, key: bytes) -> bool:
        return bloom_may_contain(self.bloom, key)

    def get(self, key: bytes, seqno: int) -> tuple[bool, bytes | None]:
        """(True, value-or-None-for-tombstone) or (False, None) when absent."""
        bloom = self.bloom
        if not _bloom_check(bloom, len(bloom), key, len(key)):
            return _MISSING
        last_keys = self.last_keys
        j = bisect_left(last_keys, key)
        if j == len(last_keys):
            return _MISSING
        cache = self.cache
        block = cache._blocks.get(self._cache_base + j) if cache is not None else None
        if block is None:
            block = self.block(j)
        else:
            cache.hits += 1
            block.referenced = True
        raw = block.raw
        found = _block_get(raw, len(raw), key, len(key), seqno)
        if found < 0:
            if found == -2:
                raise CorruptionError(self.path, self.block_offsets[j], "a well-formed data block")
            return _MISSING
        if not found & 1:
            return _TOMBSTONE
        start = found >> 32
        return True, raw[start : start + ((found & 0xFFFFFFFF) >> 1)]

    def seek_block(self, key: bytes | None, reverse: bool) -> int:
        """Index of the first block to read for a scan starting at `key` (inclusive
        lower bound forward, exclusive upper bound in reverse)."""
        n = len(self.last_keys)
        if key is None:
            return n - 1 if reverse else 0
        j = bisect_left(self.last_keys, key)
        return min(j, n - 1) if reverse else j

    def iter_blocks(self):
        for i in range(len(self.block_offsets)):
            yield self.block(i)

    def verify(self) -> list[CorruptionError]:
        """Read every block and check its checksum; return the problems found."""
        problems = []
        for i in range(len(self.block_offsets)):
            try:
                raw = self._read_verified(self.block_offsets[i], self.block_sizes[i])
                Block(raw)
            except CorruptionError as exc:
                problems.append(exc)
        return problems

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
