"""`homelab-ai restore CLAIM`: print the objects that restore a claim from its newest Longhorn backup.

It only reads the cluster (the Backups, through ``kubectl get``); you apply what it prints.
"""

from __future__ import annotations

import argparse
import sys

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.ops.kubectl import Kubectl, KubectlError
from homelab_ai.synth.dist import to_yaml
from homelab_ai.synth.project import app_spec, load_build, project_root
from homelab_ai.synth.restore import RestoreError, backed_up_claims, newest_backup, restore_manifests, taken_of


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="print the objects that restore a backed-up claim from its newest Longhorn backup",
        description="For a claim the chart backs up: find its newest Completed Longhorn backup (read-only, through "
        "kubectl) and print a Longhorn Volume restored from it, its PersistentVolume, and the chart's claim bound "
        "to it. Apply them before Flux creates the claim empty: `flux suspend kustomization homelab-ai-apps`, "
        "`homelab-ai restore CLAIM | kubectl apply -f -`, wait until the Volume's status.restoreRequired is false, "
        "`flux resume kustomization homelab-ai-apps`.",
    )
    parser.add_argument("claim", help="the claim's name, e.g. open-webui-data")
    parser.add_argument("--namespace", default=None, help="the claim's namespace (default: the chart's, if one)")
    parser.add_argument("--backup", default=None, help="restore this Backup instead of the newest (its name)")
    parser.add_argument("--context", default=None, help="the kubeconfig context to use (default: the current one)")
    parser.add_argument("--longhorn-namespace", default="longhorn-system", help="Longhorn's namespace")
    parser.add_argument("--kubectl", default="kubectl", help="the kubectl binary (default: kubectl on PATH)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = project_root()
    try:
        app, _ = load_build(root, app_spec(root, args.app))()
    except HomelabConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    claims = [c for c in backed_up_claims(app) if c.claim == args.claim and args.namespace in (None, c.namespace)]
    if len(claims) != 1:
        known = ", ".join(f"{c.namespace}/{c.claim}" for c in backed_up_claims(app)) or "none"
        what = "several claims" if claims else "no backed-up claim"
        print(f"error: the chart has {what} named {args.claim!r} (backed-up claims: {known})", file=sys.stderr)
        return 1
    target = claims[0]
    try:
        backups = (
            Kubectl(context=args.context, binary=args.kubectl)
            .get("backups.longhorn.io", namespace=args.longhorn_namespace)
            .get("items")
            or []
        )
        if args.backup:
            backup = next((b for b in backups if b["metadata"]["name"] == args.backup), None)
            if backup is None:
                raise RestoreError(f"no Backup {args.backup!r} in {args.longhorn_namespace}")
            if taken_of(backup) not in (None, (target.namespace, target.claim)):
                raise RestoreError(f"Backup {args.backup!r} was taken of {'/'.join(taken_of(backup) or ())}")
        else:
            backup = newest_backup(backups, target.namespace, target.claim)
    except KubectlError as exc:
        print(f"error: kubectl: {exc.message}", file=sys.stderr)
        return 1
    except RestoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    status = backup["status"]
    print(
        f"# Restores {target.namespace}/{target.claim} from Longhorn backup {backup['metadata']['name']} "
        f"of {status.get('backupCreatedAt', '?')}.\n"
        "# Apply it before Flux creates the claim (flux suspend kustomization ...), then wait for\n"
        f"# `kubectl -n {args.longhorn_namespace} get volumes.longhorn.io {target.volume_name} "
        "-o jsonpath='{.status.restoreRequired}'` to print false."
    )
    for manifest in restore_manifests(target, backup, args.longhorn_namespace):
        print("---")
        print(to_yaml(manifest), end="")
    return 0
