"""The `homelab-ai` command line documents itself and synthesizes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli_in_process

# The slow tier (`make test-fast` leaves it out): runs `homelab-ai synth` as its own process, through the
# module's entry point (`python -m homelab_ai.cli`); its help is argparse's, read in this process.
pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "homelab_ai.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_help_lists_synth_and_docs(repo_root):
    result = run_cli_in_process(repo_root, "--help")
    assert result.returncode == 0
    assert "synth" in result.stdout
    assert "docs" in result.stdout


def test_synth_writes_the_same_tree_as_make_synth(repo_root, tmp_path):
    result = _run("synth", str(tmp_path / "out"), cwd=repo_root)
    assert result.returncode == 0, result.stderr
    for path in (repo_root / "dist").rglob("*"):
        if path.is_file():
            twin = tmp_path / "out" / path.relative_to(repo_root / "dist")
            assert hashlib.sha256(twin.read_bytes()).digest() == hashlib.sha256(path.read_bytes()).digest()
