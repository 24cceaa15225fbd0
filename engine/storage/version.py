"""The shape of the LSM tree: which SSTables make up each level of each keyspace.

A `Version` is immutable. Flushes and compactions build a new one from the old with
`apply` and swap it in after their catalog transaction commits; a reader takes the
current Version once and sees a consistent set of files for as long as it holds it.
(Obsolete files are unlinked while readers may still hold them open: POSIX keeps an
open file readable.)

Level 0 holds flush outputs, which may overlap; they are kept newest first (by max
seqno). Levels 1..NUM_LEVELS-1 hold non-overlapping files sorted by key, with a
parallel list of largest keys for binary search.
"""

from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import pairwise

from engine.storage.sstable import FileMeta, SSTableReader

NUM_LEVELS = 7


@dataclass(frozen=True)
class KeyspaceLevels:
    levels: tuple[tuple[FileMeta, ...], ...]  # levels[0] newest first; others by key
    largest_keys: tuple[tuple[bytes, ...], ...]

    @staticmethod
    def build(files: list[FileMeta]) -> "KeyspaceLevels":
        by_level: list[list[FileMeta]] = [[] for _ in range(NUM_LEVELS)]
        for meta in files:
            by_level[meta.level].append(meta)
        by_level[0].sort(key=lambda m: (m.max_seqno, m.number), reverse=True)
        for files_at in by_level[1:]:
            files_at.sort(key=lambda m: m.smallest)
        levels = tuple(tuple(f) for f in by_level)
        return KeyspaceLevels(levels, tuple(tuple(m.largest for m in f) for f in levels))

    def all_files(self) -> list[FileMeta]:
        return [meta for files in self.levels for meta in files]

    def level_bytes(self, level: int) -> int:
        return sum(m.file_size for m in self.levels[level])

    def overlapping(self, level: int, smallest: bytes, largest: bytes) -> list[FileMeta]:
        """Files of `level` whose key range intersects [smallest, largest]."""
        if level == 0:
            return [m for m in self.levels[0] if m.smallest <= largest and m.largest >= smallest]
        files = self.levels[level]
        i = bisect_left(self.largest_keys[level], smallest)
        out = []
        while i < len(files) and files[i].smallest <= largest:
            out.append(files[i])
            i += 1
        return out

    def file_for_key(self, level: int, key: bytes) -> FileMeta | None:
        """The one file of a level >= 1 that may hold `key`."""
        i = bisect_left(self.largest_keys[level], key)
        files = self.levels[level]
        if i < len(files) and files[i].smallest <= key:
            return files[i]
        return None

    def _check(self) -> None:
        """Invariant check for tests: levels >= 1 are sorted and non-overlapping."""
        for level in range(1, NUM_LEVELS):
            files = self.levels[level]
            for a, b in pairwise(files):
                assert a.largest < b.smallest, f"L{level} files {a.number} and {b.number} overlap"
            for meta in files:
                assert meta.smallest <= meta.largest


EMPTY_LEVELS = KeyspaceLevels.build([])


@dataclass(frozen=True)
class Version:
    keyspaces: dict[int, KeyspaceLevels]
    readers: dict[int, SSTableReader]  # file number -> open reader, for every file
    _read_paths: dict = field(default_factory=dict, compare=False, repr=False)

    def levels(self, ksid: int) -> KeyspaceLevels:
        return self.keyspaces.get(ksid, EMPTY_LEVELS)

    def apply(
        self,
        add: list[tuple[int, FileMeta]],
        remove: list[tuple[int, int]],
        new_readers: dict[int, SSTableReader],
        drop_keyspaces: tuple[int, ...] = (),
    ) -> "Version":
        """A new Version with files added (with their readers) and removed (by (ksid,
        number)). A file both removed and added (a trivial move) keeps its reader."""
        touched = {ksid for ksid, _ in add} | {ksid for ksid, _ in remove}
        keyspaces = dict(self.keyspaces)
        removed = set(remove)
        for ksid in touched:
            files = [m for m in self.levels(ksid).all_files() if (ksid, m.number) not in removed]
            files.extend(meta for k, meta in add if k == ksid)
            keyspaces[ksid] = KeyspaceLevels.build(files)
        for ksid in drop_keyspaces:
            keyspaces.pop(ksid, None)
        readers = dict(self.readers)
        for _, number in remove:
            readers.pop(number, None)
        readers.update(new_readers)
        return Version(keyspaces, readers)

    def all_files(self) -> list[tuple[int, FileMeta]]:
        return [(ksid, m) for ksid, lv in self.keyspaces.items() for m in lv.all_files()]

    def read_paths(self, ksid: int) -> tuple[tuple, tuple]:
        """What a point read of keyspace `ksid` consults, resolved once per Version:
        ((smallest, largest, reader) of each L0 file, newest first), and per non-empty
        level >= 1 (largest keys, smallest keys, readers) for binary search."""
        paths = self._read_paths.get(ksid)
        if paths is None:
            lv = self.levels(ksid)
            readers = self.readers
            l0 = tuple((m.smallest, m.largest, readers[m.number]) for m in lv.levels[0])
            deeper = tuple(
                (
                    lv.largest_keys[level],
                    tuple(m.smallest for m in files),
                    tuple(readers[m.number] for m in files),
                )
                for level, files in enumerate(lv.levels)
                if level and files
            )
            paths = self._read_paths[ksid] = (l0, deeper)
        return paths
