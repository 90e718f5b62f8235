"""`homelab-ai init DIR`: start a homelab repo of your own on the installed library."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.synth.new_project import FACTS_MODULE, write_new_project


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init",
        help="start a new homelab repo: your facts, cdk8s.yaml, a secrets folder",
        description=f"Write the starter files of a homelab repo into DIR: {FACTS_MODULE}.py (your facts, an "
        "AiStack), pyproject.toml (where homelab-ai finds them), cdk8s.yaml (so `cdk8s synth` works too), "
        "secrets/, .gitignore and a README. Never overwrites a file.",
    )
    parser.add_argument("dir", type=Path, help="the new repo's folder (created if missing)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        written = write_new_project(args.dir)
    except (HomelabConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(
        f"next: cd {args.dir}; edit {FACTS_MODULE}.py (your IPs, card, sizes); `homelab-ai secrets new-key`; "
        "`homelab-ai synth`; `homelab-ai docs`; commit"
    )
    return 0
