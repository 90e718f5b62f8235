"""`homelab-ai docs`: write the operator docs (docs/<namespace>-namespace.md) from the chart model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from homelab_ai.base.errors import HomelabConfigError, SynthError
from homelab_ai.synth.docs import render_docs, write_docs
from homelab_ai.synth.project import app_spec, load_build, project_root


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "docs",
        help="write the operator docs from the chart",
        description="Validate the chart, then write one page per namespace into OUTDIR (services, GPU and VRAM "
        "budget, storage, secrets, Flux, first-time setup, API endpoints, a diagram). Generated pages that "
        "the chart no longer makes are removed; hand-written files in OUTDIR are left alone.",
    )
    parser.add_argument("outdir", nargs="?", default="docs", help="output folder (default: docs)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = project_root()
    spec = app_spec(root, args.app)
    build = load_build(root, spec)
    outdir = Path(args.outdir)
    if not outdir.is_absolute():
        outdir = root / outdir
    try:
        app, folders = build()
        files = render_docs(app, folders, project_root=root, app_spec=spec)
    except (SynthError, HomelabConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    removed = write_docs(files, outdir)
    for path in removed:
        print(f"removed {path}")
    print(f"wrote {len(files)} page(s) to {outdir}")
    return 0
