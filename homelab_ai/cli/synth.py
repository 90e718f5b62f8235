"""`homelab-ai synth`: validate the chart and write dist/ atomically."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from homelab_ai.base.errors import HomelabConfigError, SynthError
from homelab_ai.synth.build_errors import guarded
from homelab_ai.synth.dist import synthesize
from homelab_ai.synth.project import BuildFn, app_spec, load_build, project_root


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="validate the chart and write its manifests",
        description="Validate the chart, then replace OUTDIR with its manifests; "
        "on any error OUTDIR is left as it was.",
    )
    parser.add_argument(
        "outdir",
        nargs="?",
        default=None,
        help="output folder (default: $CDK8S_OUTDIR when the cdk8s CLI runs it, else dist)",
    )
    parser.add_argument("--strict", action="store_true", help="treat warnings (e.g. VRAM over-booking) as errors")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace OUTDIR even when the synth did not write it (a plain file, or a folder of other files)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = project_root()
    build = load_build(root, app_spec(root, args.app))
    outdir = Path(args.outdir or os.environ.get("CDK8S_OUTDIR") or "dist")
    if not outdir.is_absolute():
        outdir = root / outdir
    return synth_and_report(build, outdir, strict=args.strict, overwrite=args.force)


def synth_and_report(build: BuildFn, outdir: Path, *, strict: bool = False, overwrite: bool = False) -> int:
    """Synthesize, print the result or the refusal; the exit code for a command line."""
    try:
        files = synthesize(guarded(build), outdir, strict=strict, overwrite=overwrite)
    except (SynthError, HomelabConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} files to {outdir}")
    return 0
