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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
