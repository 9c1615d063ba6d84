"""Shared fixtures. Every test writes under pytest's tmp_path, never into the project."""

import os

import pytest

# Progress bars off and single-threaded determinism in tests.
os.environ.setdefault("PDT_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _isolated_paths(tmp_path_factory, monkeypatch):
    """Point data, cache and reports at a per-test folder so tests never touch the checkout."""
    base = tmp_path_factory.mktemp("pdt")
    for name in ("PDT_DATA", "PDT_CACHE", "PDT_REPORTS"):
        monkeypatch.setenv(name, str(base / name.lower()))
