"""cffi builder for engine._native (out-of-line API mode).

Every csrc/*.c file is compiled into the one extension, and every csrc/*.cdef file
(plain C declarations that cffi can parse: no preprocessor lines) is concatenated
into the cdef. Adding a native routine means adding a .c file and its .cdef file;
this script needs no edit. The shared header csrc/shale_native.h is included by
the generated module so that the declarations and definitions are checked by gcc.
"""

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

ffibuilder = FFI()
ffibuilder.cdef("\n".join(p.read_text() for p in sorted(HERE.glob("*.cdef"))))
ffibuilder.set_source(
    "engine._native",
    '#include "shale_native.h"\n',
    sources=[str(p.relative_to(HERE.parent)) for p in sorted(HERE.glob("*.c"))],
    include_dirs=[str(HERE.relative_to(HERE.parent))],
    extra_compile_args=[
        "-O3",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror=implicit-function-declaration",
    ],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
