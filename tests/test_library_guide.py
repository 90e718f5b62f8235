"""docs/library-guide.md: its example is examples/speech_to_text.py verbatim, and its steps are the ones tested.

tests/test_wheel.py performs the guide's steps with the built wheel in a folder outside the repo
(init, the example as homelab.py, new-key, synth, docs, cdk8s synth) and checks what they write.
"""

from __future__ import annotations

import ast
import re

GUIDE = "docs/library-guide.md"
EXAMPLE = "examples/speech_to_text.py"


def test_guide_shows_the_example_verbatim(repo_root):
    guide = (repo_root / GUIDE).read_text()
    match = re.search(rf"<!-- example: {re.escape(EXAMPLE)} -->\n```python\n(.*?)```", guide, re.DOTALL)
    assert match, f"{GUIDE} has no example block for {EXAMPLE}"
    assert match.group(1) == (repo_root / EXAMPLE).read_text()


def test_example_needs_only_the_installed_library(repo_root):
    """An installed user has no `apps` package: the example imports homelab_ai, cdk8s and the stdlib only."""
    tree = ast.parse((repo_root / EXAMPLE).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported == {"__future__", "datetime", "pathlib", "cdk8s", "homelab_ai"}


def test_guide_lists_the_steps_the_wheel_test_performs(repo_root):
    guide = (repo_root / GUIDE).read_text()
    for step in (
        "pip install 'homelab-ai[secrets]'",
        "homelab-ai init my-homelab",
        "homelab-ai secrets new-key",
        "homelab-ai synth",
        "homelab-ai docs",
    ):
        assert step in guide, step
