"""The file operations of every write path, behind one object so tests can inject faults.

`FileSystem` is a thin layer over `os`; the engine performs each write, fsync,
truncate, rename, link and unlink of its WAL segments, SSTables and directories
through it. `FaultInjectingFS` makes chosen operations fail with a chosen errno
(ENOSPC, EIO, ...) so tests can check that a failing write reports the error, loses
nothing acknowledged, and that the store works again once the fault clears.

Thread-safety: both classes may be used from any thread; arming faults is guarded by
a lock.
"""

import errno as errno_mod
import os
import threading


class FileSystem:
    """Plain pass-through to the operating system."""

    def open(self, path: str, flags: int, mode: int = 0o644) -> int:
        return os.open(path, flags, mode)

    def write(self, fd: int, data: bytes | memoryview) -> None:
        """Write all of `data` at the file position (loops over short writes)."""
        written = os.write(fd, data)
        if written < len(data):
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(fd, view) :]

    def pwrite(self, fd: int, data: bytes | memoryview, offset: int) -> None:
        """Write all of `data` at `offset` (loops over short writes)."""
        written = os.pwrite(fd, data, offset)
        if written < len(data):
            view = memoryview(data)[written:]
            offset += written
            while view:
                n = os.pwrite(fd, view, offset)
                view = view[n:]
                offset += n

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fdatasync(self, fd: int) -> None:
        os.fdatasync(fd)

    def ftruncate(self, fd: int, length: int) -> None:
        os.ftruncate(fd, length)

    def fallocate(self, fd: int, offset: int, length: int) -> None:
        """Reserve blocks for [offset, offset + length), growing the file to cover it
        (the new bytes read as zeros). Raises OSError (ENOSPC) when the space is not
        there, so that nothing written into the range later can fail for lack of it."""
        os.posix_fallocate(fd, offset, length)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def link(self, src: str, dst: str) -> None:
        os.link(src, dst)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class FaultInjectingFS(FileSystem):
    """A FileSystem whose operations can be made to fail.

    Example:
        fs = FaultInjectingFS()
        fs.arm("fdatasync", errno.EIO, count=1)   # the next fdatasync fails once
        fs.arm("write", errno.ENOSPC, count=None, partial=7)  # every write, after 7 bytes
        fs.clear()
    """

    OPERATIONS = (
        "write",
        "fsync",
        "fdatasync",
        "ftruncate",
        "fallocate",
        "rename",
        "link",
        "fsync_dir",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list] = {}
        self.injected = 0

    def arm(
        self,
        operation: str,
        error: int = errno_mod.EIO,
        *,
        count: int | None = 1,
        path_contains: str | None = None,
        partial: int = 0,
    ) -> None:
        """Make the next `count` calls of `operation` (all, if None) fail with `error`.
        `partial` bytes of a failing write still reach the file first, as a real
        short write before ENOSPC would. `path_contains` limits path operations."""
        if operation not in self.OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        with self._lock:
            self._faults[operation] = [error, count, path_contains, partial]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, operation: str, path: str | None = None) -> tuple[int, int] | None:
        with self._lock:
            fault = self._faults.get(operation)
            if fault is None:
                return None
            error, count, path_contains, partial = fault
            if path_contains is not None and (path is None or path_contains not in path):
                return None
            if count is not None:
                fault[1] = count - 1
                if fault[1] <= 0:
                    del self._faults[operation]
            self.injected += 1
            return error, partial

    @staticmethod
    def _raise(error: int) -> None:
        raise OSError(error, f"injected fault: {os.strerror(error)}")

    def write(self, fd: int, data: bytes | memoryview) -> None:
        fault = self._take("write")
        if fault is not None:
            error, partial = fault
            if partial:
                super().write(fd, memoryview(data)[:partial])
            self._raise(error)
        super().write(fd, data)

    def pwrite(self, fd: int, data: bytes | memoryview, offset: int) -> None:
        fault = self._take("write")  # the same fault as write(): both put bytes in files
        if fault is not None:
            error, partial = fault
            if partial:
                super().pwrite(fd, memoryview(data)[:partial], offset)
            self._raise(error)
        super().pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        if (fault := self._take("fsync")) is not None:
            self._raise(fault[0])
        super().fsync(fd)

    def fdatasync(self, fd: int) -> None:
        if (fault := self._take("fdatasync")) is not None:
            self._raise(fault[0])
        super().fdatasync(fd)

    def ftruncate(self, fd: int, length: int) -> None:
        if (fault := self._take("ftruncate")) is not None:
            self._raise(fault[0])
        super().ftruncate(fd, length)

    def fallocate(self, fd: int, offset: int, length: int) -> None:
        if (fault := self._take("fallocate")) is not None:
            self._raise(fault[0])
        super().fallocate(fd, offset, length)

    def rename(self, src: str, dst: str) -> None:
        if (fault := self._take("rename", dst)) is not None:
            self._raise(fault[0])
        super().rename(src, dst)

    def link(self, src: str, dst: str) -> None:
        if (fault := self._take("link", dst)) is not None:
            self._raise(fault[0])
        super().link(src, dst)

    def fsync_dir(self, path: str) -> None:
        if (fault := self._take("fsync_dir", path)) is not None:
            self._raise(fault[0])
        super().fsync_dir(path)
