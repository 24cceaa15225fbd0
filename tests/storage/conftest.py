"""Fixtures of the storage tests (helpers live in storage_helpers.py)."""

import pytest


@pytest.fixture
def store_dir(tmp_path):
    return str(tmp_path / "store")
