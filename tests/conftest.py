"""Shared fixtures: the homelab's chart, built once per test session, and its rendered objects.

`make test` runs the tests in parallel (pytest-xdist, one session per worker), so a session
fixture is built at most once per worker: put expensive, read-only things here (the rendered
chart, a written dist/ tree) and let tests share them. Tests that start processes or wait on
real time carry ``@pytest.mark.slow`` (``pytestmark`` for a whole module), tests that build a whole
AiStack (the spec's chart, an example repo) carry ``@pytest.mark.stack``, and tests that read the
session's spec chart are marked ``spec_chart`` here: `make test-fast` (the unit tier) runs everything
else, and there a test that starts a Python, Node or tool process, or builds an AiStack, fails with
the fix (quick binaries such as git and sops are fine). Each test module runs on one worker (`--dist
loadfile`), so its module fixtures (a built wheel, a repo copy after `secrets init`, a chart) are
built once, not once per worker.
"""

from __future__ import annotations

import fcntl
import functools
import gc
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("SOPS_DISABLE_VERSION_CHECK", "1")
os.environ.setdefault("CDK8S_CHECK_UPGRADE", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent

# Fixtures shared by a family of test modules, used by name there.
pytest_plugins = ["tests.arbiter_fixtures"]


def _read_each_kubernetes_schema_once() -> None:
    """kubernetes-validate reads and parses its schema files, a megabyte of `_definitions.json` among them, on
    every `validate()` call; the tests validate hundreds of objects, so each file is parsed once per worker."""
    from kubernetes_validate import utils

    utils.schema_contents = functools.cache(utils.schema_contents)


_read_each_kubernetes_schema_once()
DEMO_AGE_KEY = REPO_ROOT / "tests/fixtures/demo-age.key"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def homelab_files(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The spec's chart, rendered (not written): list of RenderedFile.

    Under pytest-xdist the first worker that asks renders it and the others load that worker's copy (a
    pickle in the run's shared temp folder, under a lock): one render per `make test`, not one per worker.
    """
    from apps.homelab import build
    from homelab_ai.synth.dist import render

    def rendered():  # type: ignore[no-untyped-def]
        app, folders = build()
        return render(app, folders)

    worker = getattr(request.config, "workerinput", None)
    if worker is None:
        return rendered()
    shared = tmp_path_factory.getbasetemp().parent / f"homelab-files-{worker['testrunuid']}.pickle"
    with shared.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if shared.exists():
            return pickle.loads(shared.read_bytes())
        files = rendered()
        partial = shared.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(files))
        partial.rename(shared)
        return files


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


# Processes that cost the fast tier a second or more each (an interpreter or a tool on one).
_HEAVY_PROCESSES = ("python", "node", "npx", "npm", "checkov", "kubectl", "renovate", "homelab-ai", "cdk8s", "pip")


@pytest.fixture(autouse=True)
def _fast_tier_starts_no_heavy_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """In the fast tier (`-m "not slow ..."`), fail a test that starts a heavy process: mark it slow."""
    fast_tier = "not slow" in (request.config.option.markexpr or "")
    if not fast_tier or request.node.get_closest_marker("slow") or request.node.get_closest_marker("e2e"):
        yield
        return
    original = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen, args, *more, **options) -> None:  # type: ignore[no-untyped-def]
        argv = [str(a) for a in args] if isinstance(args, list | tuple) else str(args).split()
        name = Path(argv[0]).name if argv else ""
        if name.startswith(_HEAVY_PROCESSES) and not any("jsii" in a for a in argv):
            pytest.fail(
                f"{request.node.nodeid} starts `{name}` in the fast tier: mark it @pytest.mark.slow "
                "(`make test-fast` runs no Python, Node or tool processes)",
                pytrace=False,
            )
        original(self, args, *more, **options)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)
    yield


_RUNNING: dict[str, pytest.Item] = {}
_TIERS_THAT_MAY_BUILD_STACKS = ("stack", "spec_chart", "slow", "e2e")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _RUNNING["item"] = item  # module fixtures are built in their first test's setup: they count as that test's


@pytest.fixture(scope="session", autouse=True)
def _unit_tier_builds_no_whole_stack(request: pytest.FixtureRequest) -> Iterator[None]:
    """In the unit tier (`-m "... not stack"`), fail a test (or its fixture) that builds a whole AiStack."""
    if "not stack" not in (request.config.option.markexpr or ""):
        yield
        return
    from homelab_ai.stack.ai_stack import AiStack

    build = AiStack.__init__

    @functools.wraps(build)  # its signature and docs stay readable (the API reference reads them)
    def guarded(self: AiStack, *args: object, **kwargs: object) -> None:
        item = _RUNNING.get("item")
        if item is not None and not any(item.get_closest_marker(m) for m in _TIERS_THAT_MAY_BUILD_STACKS):
            pytest.fail(
                f"{item.nodeid} builds a whole AiStack in the unit tier: mark it @pytest.mark.stack "
                "(`make test-fast` tests one construct or function on a small chart)",
                pytrace=False,
            )
        build(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AiStack, "__init__", guarded)
        yield


# The modules that take longest (seconds of waiting or of processes), longest first: `make test` hands modules to its
# workers in collection order (`--no-loadscope-reorder`), so these start first instead of ending the run alone.
# Only the order depends on it; a module missing here runs after them. Measured with `make bench`.
LONGEST_FIRST = (
    "test_wheel.py",
    "test_vram_arbiter.py",
    "test_secrets_cli.py",
    "test_dist_faults.py",
    "test_checkov.py",
    "test_renovate.py",
    "test_longhorn_jobs.py",
    "test_bad_input.py",
    "test_doctor.py",
    "test_bench.py",
    "test_cli.py",
)


_WHOLE_MODULE_MARK = re.compile(r"^pytestmark = pytest\.mark\.(\w+)$", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A run that deselects a whole module's mark (`make test-fast`: not slow, e2e or stack) does not import it."""
    excluded = set(re.findall(r"\bnot (\w+)", config.option.markexpr or ""))
    if not excluded or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    marks = set(_WHOLE_MODULE_MARK.findall(collection_path.read_text(encoding="utf-8")))
    return True if marks & excluded else None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep the cyclic garbage collector off what collection loaded (modules, jsii bindings, fixtures' data) and
    run it less often: the tests make many short-lived objects and few cycles, so the default thresholds spent
    a tenth of the unit tier's CPU re-scanning the same long-lived objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def temporary_bytecode(prefix: Path) -> Path:
    """Where PYTHONPYCACHEPREFIX ``prefix`` keeps the bytecode of sources under the temporary folder (it mirrors
    each source's absolute path)."""
    return prefix / Path(tempfile.gettempdir()).resolve().relative_to("/")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The processes the tests start compile the temporary copies, venvs and pip build folders they run from, into
    the bytecode cache; no later run reads that again, so it goes once the run is over (on the controller, after
    every worker has ended). Otherwise `.cache/` grows by megabytes a run."""
    if sys.pycache_prefix and not hasattr(session.config, "workerinput"):
        shutil.rmtree(temporary_bytecode(Path(sys.pycache_prefix)), ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that read the spec's whole chart are marked ``spec_chart`` (`make test-fast` and `make mutate` leave
    them out); the longest modules come first."""
    for item in items:
        if {"homelab_files", "homelab_objects"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.spec_chart)
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
