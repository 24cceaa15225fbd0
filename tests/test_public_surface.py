"""Each package's __init__ names its public surface in a sorted __all__ that exists."""

import importlib

import pytest

PACKAGES = [
    "engine.storage",
    "engine.codec",
    "engine.table",
    "engine.index",
    "engine.capacity",
    "engine.api",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolvable(name):
    package = importlib.import_module(name)
    exported = package.__all__
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    for symbol in exported:
        assert hasattr(package, symbol), f"{name}.__all__ names missing {symbol}"
