"""The bytecode cache of a test run (PYTHONPYCACHEPREFIX, set by the Makefile) does not keep what no run reads again."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

from tests.conftest import temporary_bytecode


def test_a_temporary_copys_bytecode_is_under_the_part_of_the_cache_a_run_drops(tmp_path, monkeypatch):
    prefix = tmp_path / "pycache"
    monkeypatch.setattr(sys, "pycache_prefix", str(prefix))
    copied = Path(tempfile.gettempdir()) / "pytest-of-someone" / "repo-copy" / "homelab_ai" / "__init__.py"
    assert Path(importlib.util.cache_from_source(str(copied))).is_relative_to(temporary_bytecode(prefix))
