"""Every test file has its own basename: pytest imports test modules by basename (rootdir import mode, no
packages), so a second `test_x.py` in another folder fails the collection of the whole run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_file_basenames_are_unique() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py") if "data" not in path.parts)
    assert [name for name, count in names.items() if count > 1] == []
