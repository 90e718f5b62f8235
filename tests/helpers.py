"""Helpers for reading what a chart synthesizes."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import cdk8s

from homelab_ai.synth.dist import RenderedFile, render
from tests.yaml_io import load_yaml


def objects_by_key(files: Iterable[RenderedFile]) -> dict[tuple[str, str], dict]:
    """Parse rendered manifests (not kustomizations) into {(kind, name): object}."""
    result: dict[tuple[str, str], dict] = {}
    for item in files:
        if item.path.endswith("kustomization.yaml"):
            continue
        doc = load_yaml(item.content)
        result[(doc["kind"], doc["metadata"]["name"])] = doc
    return result


def synth(app: cdk8s.App, folders: Mapping[str, str] | None = None) -> dict[tuple[str, str], dict]:
    """Render ``app`` (every chart into folder 'out' unless told) and return its objects."""
    folders = folders or {chart.node.id: "out" for chart in app.charts}
    return objects_by_key(render(app, folders))


def container(obj: dict, index: int = 0) -> dict:
    return obj["spec"]["template"]["spec"]["containers"][index]


def env_of(obj: dict) -> dict[str, dict]:
    """The main container's env as {name: entry}."""
    return {e["name"]: e for e in container(obj).get("env", [])}


def run_cli_in_process(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None, stdin: str = "", python_path: Iterable[Path] = ()
) -> subprocess.CompletedProcess[str]:
    """`homelab-ai ARGS` in ``cwd``, run by ``homelab_ai.cli.main`` in this process: the same code
    path as the command, without a new Python and jsii runtime per call (about a second each).

    Like a fresh process it sees only ``env`` (os.environ is swapped for the call), ``cwd`` as its
    working folder, ``stdin`` as a non-terminal standard input, and imports the project's chart
    (``apps``) anew from ``cwd`` (``python_path``: folders put first on sys.path, like PYTHONPATH); all
    of that is put back afterwards. An exception that escapes
    the CLI fails the test with its traceback (a process would have printed it and exited 1).
    """
    from homelab_ai.cli import main

    saved_environ, saved_cwd, saved_path, saved_stdin = dict(os.environ), os.getcwd(), list(sys.path), sys.stdin
    saved_apps = {
        name: sys.modules.pop(name) for name in list(sys.modules) if name == "apps" or name.startswith("apps.")
    }
    out, err = io.StringIO(), io.StringIO()
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    os.chdir(cwd)
    sys.path[:0] = [str(p) for p in python_path]
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's --help and usage errors, load_build's refusals
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path
        for name in [n for n in sys.modules if n == "apps" or n.startswith("apps.")]:
            del sys.modules[name]
        sys.modules.update(saved_apps)
    return subprocess.CompletedProcess(["homelab-ai", *args], code, out.getvalue(), err.getvalue())
