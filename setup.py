"""Build glue: compiles csrc/ into engine._native with cffi's out-of-line API mode.

Everything else lives in pyproject.toml. If no C compiler is available the build
fails loudly: ShaleDB never falls back silently to its (slow) pure-Python twin.
"""

from setuptools import setup

setup(cffi_modules=["csrc/build_native.py:ffibuilder"])
