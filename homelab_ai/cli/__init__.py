"""`homelab-ai`: the command line. Each subcommand lives in ``homelab_ai/cli/<name>.py``.

A command module exposes ``register(subparsers) -> None`` that adds its parser and sets
``func(args) -> int`` as the handler. Modules are found automatically, so adding a command
never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shutil
import sys

os.environ.setdefault("SOPS_DISABLE_VERSION_CHECK", "1")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="homelab-ai",
        description="Synthesize, check and document a homelab's GPU AI stack built with homelab-ai.",
    )
    parser.add_argument(
        "--app",
        default=None,
        help="the chart app as MODULE:FUNCTION returning (cdk8s.App, folders); "
        "default: [tool.homelab-ai] app in pyproject.toml, else apps.homelab:build",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def missing_node() -> str | None:
    """Why the constructs cannot run, when jsii's Node.js is not there (None when it is).

    cdk8s's constructs run in a Node.js process that jsii starts at the first import of cdk8s; without
    it that import fails with a traceback, and again at exit. Checked before any command module loads.
    """
    node = os.environ.get("JSII_NODE")
    if node is not None and shutil.which(node) is None:
        return f"JSII_NODE is {node!r}, which is not a program. Fix: set JSII_NODE to the node binary, or unset it"
    if node is None and shutil.which("node") is None:
        return (
            "homelab-ai runs cdk8s, whose constructs run in Node.js, and `node` is not on PATH. "
            "Fix: install Node.js (then `node --version` works), or set JSII_NODE to the node binary"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    problem = missing_node()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
