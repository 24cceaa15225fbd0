"""The storage engine's own small error hierarchy.

Storage never raises the errors of the layers above: engine/api translates these.
A missing key is `None`, never an exception.
"""


class StorageError(Exception):
    """Base of every error the storage engine raises on purpose."""


class CorruptionError(StorageError):
    """Bytes on disk are not what the format says: names the file, the offset and what
    was expected there."""

    def __init__(self, path: str, offset: int, expectation: str) -> None:
        super().__init__(f"corruption in {path} at offset {offset}: {expectation}")
        self.path = path
        self.offset = offset
        self.expectation = expectation

    def __reduce__(self):
        return (CorruptionError, (self.path, self.offset, self.expectation))


class FormatVersionError(StorageError):
    """A file written by a newer format version than this build understands."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"{path} has format version {found}; this build reads up to version {supported}"
        )
        self.path = path
        self.found = found
        self.supported = supported

    def __reduce__(self):
        return (FormatVersionError, (self.path, self.found, self.supported))


class StoreLockedError(StorageError):
    """Another process holds the store's LOCK file."""


class StoreClosedError(StorageError):
    """The store was closed."""


class BackgroundError(StorageError):
    """A flush or compaction failed; the store refuses writes until `resume()` succeeds.
    The original exception is the `__cause__`."""


class KeyspaceError(StorageError):
    """A keyspace that does not exist, or one created twice."""
