"""The CPython functions engine._native hands out through cffi.

Each csrc/ module with hot entry points exports ``void *shale_<what>_functions(void)``: a
new reference to a tuple of real CPython functions written in C, passed as a void pointer
because cffi declarations cannot name PyObject. Calling those functions does not go through
cffi, which is what keeps each call well under a microsecond.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from engine._native import ffi

__all__ = ["python_functions"]


def python_functions(entry: Callable[[], object], what: str) -> tuple:
    """The tuple that the native ``entry`` point returns (the reference is kept for the
    life of the process). Raises ImportError naming ``what`` if it failed."""
    ptr = entry()
    if ptr == ffi.NULL:
        raise ImportError(f"engine._native: the {what} entry points failed to initialise")
    return ctypes.cast(int(ffi.cast("uintptr_t", ptr)), ctypes.py_object).value
