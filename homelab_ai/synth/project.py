"""Find and build the user's chart app: the CLI's commands all start here."""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

import cdk8s

from homelab_ai.synth.build_errors import guarded

DEFAULT_APP = "apps.homelab:build"

BuildFn = Callable[[], tuple[cdk8s.App, Mapping[str, str]]]


def project_root(start: Path | None = None) -> Path:
    """The nearest folder upwards that has a pyproject.toml (the repo), else the working directory."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    return here


def app_spec(root: Path, override: str | None = None) -> str:
    """``MODULE:FUNCTION`` of the chart app: the flag, else pyproject's [tool.homelab-ai] app, else the default."""
    if override:
        return override
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        config = tomllib.loads(pyproject.read_text()).get("tool", {}).get("homelab-ai", {})
        if "app" in config:
            return str(config["app"])
    return DEFAULT_APP


def load_build(root: Path, spec: str) -> BuildFn:
    """Import ``MODULE:FUNCTION`` with the project root on sys.path; the function comes back guarded
    (homelab_ai.synth.build_errors): what it raises because of the user's chart is one line."""
    module_name, _, function = spec.partition(":")
    if not function:
        raise SystemExit(f"--app {spec!r}: expected MODULE:FUNCTION, e.g. {DEFAULT_APP}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = importlib.import_module(module_name)
    return guarded(getattr(module, function))
