"""`cdk8s synth` (the pinned CLI from package.json) runs the chart app and yields dist/'s content."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.tools import require_tool

# The slow tier (`make test-fast` leaves it out): runs the cdk8s CLI (node).
pytestmark = pytest.mark.slow


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.mark.golden
def test_cdk8s_cli_synth_matches_dist(repo_root, tmp_path):
    """Drift check (golden): the pinned cdk8s CLI yields the committed dist/ byte for byte."""
    require_tool("node")
    cli = require_tool("cdk8s")
    out = tmp_path / "cdk8s.out"
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", CDK8S_CHECK_UPGRADE="false")
    result = subprocess.run(
        [cli, "synth", "--no-check-upgrade", "--output", str(out)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert _tree(out) == _tree(repo_root / "dist")
