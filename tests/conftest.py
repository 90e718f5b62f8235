"""Shared fixtures: the homelab's chart, built once per test session, and its rendered objects.

`make test` runs the tests in parallel (pytest-xdist, one session per worker), so a session
fixture is built at most once per worker: put expensive, read-only things here (the rendered
chart, a written dist/ tree) and let tests share them. Tests that start processes or wait on
real time carry ``@pytest.mark.slow`` (``pytestmark`` for a whole module): `make test-fast` runs
everything else. A module marked slow or e2e as a whole runs on one worker (`--dist loadgroup`), so
its module fixtures (a built wheel, a repo copy after `secrets init`) are built once, not once per
worker.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("SOPS_DISABLE_VERSION_CHECK", "1")
os.environ.setdefault("CDK8S_CHECK_UPGRADE", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_AGE_KEY = REPO_ROOT / "tests/fixtures/demo-age.key"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def homelab_files():
    """The spec's chart, rendered (not written): list of RenderedFile."""
    from apps.homelab import build
    from homelab_ai.synth.dist import render

    app, folders = build()
    return render(app, folders)


@pytest.fixture(scope="session")
def homelab_objects(homelab_files):
    """Every Kubernetes object of the spec's chart, keyed by (kind, name)."""
    from tests.helpers import objects_by_key

    return objects_by_key(homelab_files)


@pytest.fixture(scope="session")
def homelab_dist(homelab_files, tmp_path_factory) -> Path:
    """The spec's chart written as `make synth` writes it (dist/ with its marker), once per session.

    Read-only for the tests: copy it before changing anything in it.
    """
    from homelab_ai.synth.dist import write_atomically

    out = tmp_path_factory.mktemp("homelab") / "dist"
    write_atomically(homelab_files, out)
    return out


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each slow or e2e module on one xdist worker (see the module doc)."""
    for item in items:
        module = item.getparent(pytest.Module)
        if module is None or item.get_closest_marker("xdist_group"):
            continue
        if {mark.name for mark in module.own_markers} & {"slow", "e2e"}:
            item.add_marker(pytest.mark.xdist_group(module.nodeid))
