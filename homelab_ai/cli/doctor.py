"""`homelab-ai doctor`: check the live cluster against the chart, read-only; exit 1 on any failure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.ops.cluster import Cluster
from homelab_ai.ops.doctor import run_doctor
from homelab_ai.ops.kubectl import Kubectl
from homelab_ai.ops.report import Verdict
from homelab_ai.synth.expectations import expectations
from homelab_ai.synth.project import app_spec, load_build, project_root


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the live cluster against the chart (read-only)",
        description="Compare the live cluster with what the chart expects: GPU slices, the device plugin's config, "
        "the RuntimeClass, Longhorn classes, claims, backup target and recent backups, LoadBalancer IPs, Flux "
        "(Ready at the commit holding dist/) and its SOPS key, the model pull, Ollama's models, each app's health "
        "endpoint, the VRAM arbiter's /status and the restore drills. Each line is ok, warn or fail, with the "
        "evidence and the fix. It only runs `kubectl get` (objects as JSON, and GETs through Service proxies) with "
        "your kubeconfig, and git in the repo. Exits 1 when anything fails.",
    )
    parser.add_argument("--context", default=None, help="the kubeconfig context to use (default: the current one)")
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON (schema: doctor_report.schema.json)"
    )
    parser.add_argument("--repo", type=Path, default=None, help="the git repo Flux deploys (default: the project root)")
    parser.add_argument("--kubectl", default="kubectl", help="the kubectl binary (default: kubectl on PATH)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = project_root()
    spec = app_spec(root, args.app)
    try:
        app, _ = load_build(root, spec)()
        expected = expectations(app)
    except HomelabConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cluster = Cluster(Kubectl(context=args.context, binary=args.kubectl), repo=args.repo or root)
    report = run_doctor(expected, cluster, app=spec)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.to_text(), end="")
    return 1 if report.verdict is Verdict.FAIL else 0
