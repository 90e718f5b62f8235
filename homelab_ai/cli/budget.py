"""`homelab-ai budget`: each shared GPU's VRAM table and verdicts; non-zero exit on an error verdict."""

from __future__ import annotations

import argparse
import sys

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.gpu.budget import budget_markdown, budget_text
from homelab_ai.gpu.shared_gpu import SharedGpu
from homelab_ai.synth.project import app_spec, load_build, project_root


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "budget",
        help="print each shared GPU's VRAM budget and its verdicts",
        description="Print, per SharedGpu in the chart, every app's idle and active VRAM and how it unloads "
        "when idle, the totals, and the verdicts. Exits 1 on an error verdict (the synth would refuse).",
    )
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (as in the docs)")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too, like `synth --strict`")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = project_root()
    build = load_build(root, app_spec(root, args.app))
    try:
        app, _ = build()
    except HomelabConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    gpus = [c for c in app.node.find_all() if isinstance(c, SharedGpu)]
    if not gpus:
        print("no SharedGpu in this chart: nothing to budget")
        return 0
    render = budget_markdown if args.markdown else budget_text
    failed = False
    for index, gpu in enumerate(gpus):
        if index:
            print()
        print(render(gpu), end="")
        budget = gpu.budget()
        failed = failed or bool(budget.errors) or (args.strict and bool(budget.warnings))
    return 1 if failed else 0
