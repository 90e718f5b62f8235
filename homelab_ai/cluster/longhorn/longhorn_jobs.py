#!/usr/bin/env python3
"""Longhorn chores that run inside the cluster: a snapshot before an upgrade, a restore drill, its check.

Standard library only, shipped in a ConfigMap and run with a plain python image. Three commands:

    longhorn_jobs.py snapshot --namespace ai --claim open-webui-data --snapshot open-webui-data-pre-1a2b3c4d \\
        --image ghcr.io/open-webui/open-webui:v0.6.5
    longhorn_jobs.py drill --config /opt/homelab-ai/drill.json
    longhorn_jobs.py check --path /restored --sqlite webui.db     (or --min-files 1)

``snapshot`` finds the Longhorn volume of a claim through the Volume's ``status.kubernetesStatus``
(longhorn-manager k8s/pkg/apis/longhorn/v1beta2/volume.go@v1.12.1 L272-290), creates a
``longhorn.io/v1beta2`` Snapshot of it (snapshot.go L17-29) and waits for ``status.readyToUse``.
A claim with no volume yet (a first install) has nothing to protect and passes.

``drill`` restores the newest Completed Longhorn Backup of a claim into a scratch claim (a
StorageClass whose ``fromBackup`` parameter is the backup's URL: Longhorn's CSI driver restores
a new volume from it, csi/controller_server.go@v1.12.1 and csi/util.go L239-240), runs ``check``
in a Job that mounts it, writes the outcome to a ConfigMap that ``homelab-ai doctor`` reads, and
deletes the Job, the claim (its volume goes with it: the class reclaims with Delete) and the class.

``check`` runs SQLite's ``PRAGMA integrity_check`` on a database, or counts the files of a tree,
prints one JSON line and writes it to the container's termination message for ``drill`` to read.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sqlite3
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
LONGHORN_API = "/apis/longhorn.io/v1beta2"
# Labels Longhorn puts on each Backup (types/types.go@v1.12.1 L225-226, L680-685).
BACKUP_VOLUME_LABEL = "backup-volume"
TERMINATION_LOG = Path("/dev/termination-log")
# The kubelet keeps at most 4096 bytes of a termination message.
MAX_MESSAGE = 4000


def log(message: str) -> None:
    print(f"longhorn-jobs: {message}", flush=True)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the Kubernetes API, with the pod's service-account token ------------------------------------


class ApiError(Exception):
    """An answer from the API server other than the one asked for."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Kube:
    """Just enough of a Kubernetes client: JSON over HTTPS with the mounted token and CA."""

    def __init__(self, server: str, token_file: Path | None, ca_file: Path | None, timeout: float = 30) -> None:
        self.server = server.rstrip("/")
        self.token_file = token_file
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=str(ca_file)) if ca_file and ca_file.is_file() else None

    def request(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        url = self.server + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token_file and self.token_file.is_file():
            # Read each time: projected tokens are rotated by the kubelet.
            request.add_header("Authorization", f"Bearer {self.token_file.read_text().strip()}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise ApiError(exc.code, str(detail)[:500]) from None
        return json.loads(text) if text else {}

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        """The object at ``path``, or None when there is none (404)."""
        try:
            return self.request("GET", path, query=query)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, path: str, obj: dict[str, Any]) -> Any:
        return self.request("POST", path, obj)

    def delete(self, path: str) -> bool:
        """Delete in the background (a Job's pods go too); False when it was already gone."""
        try:
            self.request(
                "DELETE", path, {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
            )
            return True
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise


def kube_from_args(args: argparse.Namespace) -> Kube:
    server = args.api_server
    if not server:
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise SystemExit("no API server: not in a pod and no --api-server given")
        server = f"https://{host}:{port}"
    return Kube(
        server, Path(args.token_file) if args.token_file else None, Path(args.ca_file) if args.ca_file else None
    )


# --- snapshot: before an upgrade -----------------------------------------------------------------


def volume_of_claim(volumes: list[dict[str, Any]], namespace: str, claim: str) -> str | None:
    """The Longhorn volume that claim ``namespace/claim`` is bound to now (not an older, released one)."""
    for volume in volumes:
        status = (volume.get("status") or {}).get("kubernetesStatus") or {}
        if status.get("namespace") == namespace and status.get("pvcName") == claim and not status.get("lastPVCRefAt"):
            return str(volume["metadata"]["name"])
    return None


def take_snapshot(kube: Kube, args: argparse.Namespace) -> int:
    base = f"{LONGHORN_API}/namespaces/{args.longhorn_namespace}"
    volumes = (kube.get(f"{base}/volumes") or {}).get("items", [])
    failed = 0
    for claim, snapshot in zip(args.claim, args.snapshot, strict=True):
        where = f"claim {args.namespace}/{claim}"
        volume = volume_of_claim(volumes, args.namespace, claim)
        if volume is None:
            log(f"{where} has no Longhorn volume yet (a first install?): nothing to protect")
            continue
        existing = kube.get(f"{base}/snapshots/{snapshot}")
        if existing is None:
            kube.create(
                f"{base}/snapshots",
                {
                    "apiVersion": "longhorn.io/v1beta2",
                    "kind": "Snapshot",
                    "metadata": {
                        "name": snapshot,
                        "namespace": args.longhorn_namespace,
                        "labels": {"app.kubernetes.io/managed-by": "homelab-ai", "homelab-ai/purpose": "pre-upgrade"},
                        "annotations": {
                            "homelab-ai/claim": f"{args.namespace}/{claim}",
                            "homelab-ai/before": args.image,
                        },
                    },
                    "spec": {"volume": volume, "createSnapshot": True},
                },
            )
            log(f"{where}: asked Longhorn for snapshot {snapshot} of volume {volume} before {args.image}")
        else:
            log(f"{where}: snapshot {snapshot} exists already")
        if not wait_for_snapshot(kube, f"{base}/snapshots/{snapshot}", args.wait_seconds, args.poll_seconds, where):
            failed += 1
    if failed:
        log(f"FAILED: {failed} snapshot(s) not ready; the upgrade waits (Flux applies the apps only after this Job)")
        return 1
    return 0


def wait_for_snapshot(kube: Kube, path: str, wait_seconds: float, poll_seconds: float, where: str) -> bool:
    deadline = time.monotonic() + wait_seconds
    while True:
        status = (kube.get(path) or {}).get("status") or {}
        if status.get("readyToUse"):
            log(f"{where}: snapshot ready ({status.get('creationTime', '?')}, {status.get('size', '?')} bytes)")
            return True
        if status.get("error"):
            log(f"ERROR: {where}: Longhorn could not take the snapshot: {status['error']}")
            return False
        if time.monotonic() >= deadline:
            log(f"ERROR: {where}: snapshot not ready after {wait_seconds:g}s")
            return False
        time.sleep(poll_seconds)


# --- drill: restore the newest backup into a scratch claim and check it --------------------------


def newest_backup(backups: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Completed backup with the latest ``status.backupCreatedAt`` (RFC 3339 strings sort by time)."""
    done = [b for b in backups if (b.get("status") or {}).get("state") == "Completed" and b["status"].get("url")]
    return max(done, key=lambda b: (b["status"].get("backupCreatedAt") or "", b["metadata"]["name"]), default=None)


def termination_message(pods: list[dict[str, Any]]) -> str | None:
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            message = ((status.get("state") or {}).get("terminated") or {}).get("message")
            if message:
                return str(message)
    return None


def pod_evidence(pods: list[dict[str, Any]]) -> str:
    """Why the check pod is not done, in a line: its phase and any waiting reason or condition."""
    if not pods:
        return "no check pod was created"
    parts = []
    for pod in pods:
        status = pod.get("status") or {}
        reasons = [
            f"{s['state']['waiting'].get('reason')}: {s['state']['waiting'].get('message', '')}".strip(": ")
            for s in status.get("containerStatuses") or []
            if (s.get("state") or {}).get("waiting")
        ]
        reasons += [
            f"{c.get('reason')}: {c.get('message', '')}"
            for c in status.get("conditions") or []
            if c.get("status") == "False" and c.get("message")
        ]
        parts.append(
            f"pod {pod['metadata']['name']} {status.get('phase', '?')}"
            + (f" ({'; '.join(reasons)})" if reasons else "")
        )
    return "; ".join(parts)


class Drill:
    """One run of the drill described by the JSON config the construct wrote into the ConfigMap."""

    def __init__(self, kube: Kube, config: dict[str, Any], poll_seconds: float) -> None:
        self.kube = kube
        self.config = config
        self.poll = poll_seconds
        self.namespace = config["namespace"]
        ns = f"/api/v1/namespaces/{self.namespace}"
        self.claim_path = f"{ns}/persistentvolumeclaims"
        self.job_path = f"/apis/batch/v1/namespaces/{self.namespace}/jobs"
        self.pods_path = f"{ns}/pods"
        self.result_path = f"{ns}/configmaps"
        self.class_path = "/apis/storage.k8s.io/v1/storageclasses"
        self.scratch = config["scratchClaim"]["metadata"]["name"]
        self.job = config["checkJob"]["metadata"]["name"]
        self.storage_class = config["storageClass"]["metadata"]["name"]

    def clean_up(self) -> None:
        """Remove the Job, the scratch claim and its class (also what a crashed run left behind)."""
        for path in (f"{self.job_path}/{self.job}", f"{self.claim_path}/{self.scratch}"):
            if self.kube.delete(path):
                log(f"deleted {path.rsplit('/', 2)[-2]} {path.rsplit('/', 1)[-1]}")
        # The class goes last: a claim being deleted may still need it to find its provisioner.
        if self.kube.delete(f"{self.class_path}/{self.storage_class}"):
            log(f"deleted storageclass {self.storage_class}")

    def run(self) -> dict[str, Any]:
        config = self.config
        claim = config["claim"]
        result: dict[str, Any] = {
            "drill": config["name"],
            "claim": f"{self.namespace}/{claim}",
            "startedAt": now(),
            "verdict": "failed",
        }
        source = self.kube.get(f"{self.claim_path}/{claim}")
        volume = ((source or {}).get("spec") or {}).get("volumeName")
        if not volume:
            result["error"] = f"claim {self.namespace}/{claim} is missing or not bound, so it has no backups to restore"
            return result
        backups = self.kube.get(
            f"{LONGHORN_API}/namespaces/{config['longhornNamespace']}/backups",
            query={"labelSelector": f"{BACKUP_VOLUME_LABEL}={volume}"},
        )
        backup = newest_backup((backups or {}).get("items", []))
        if backup is None:
            result["error"] = (
                f"volume {volume} of claim {claim} has no Completed Longhorn backup: is a backup target set and "
                "has the backup RecurringJob run?"
            )
            return result
        status = backup["status"]
        result.update(backup=backup["metadata"]["name"], backupCreatedAt=status.get("backupCreatedAt", ""))
        log(f"newest backup of {claim} (volume {volume}): {result['backup']} of {result['backupCreatedAt']}")

        # A claim grown in place restores at its current size.
        capacity = ((source.get("status") or {}).get("capacity") or {}).get("storage")
        scratch = json.loads(json.dumps(config["scratchClaim"]))
        if capacity:
            scratch["spec"]["resources"]["requests"]["storage"] = capacity
        self.clean_up()
        storage_class = json.loads(json.dumps(config["storageClass"]))
        storage_class.setdefault("parameters", {})["fromBackup"] = status["url"]
        self.kube.create(self.class_path, storage_class)
        self.kube.create(self.claim_path, scratch)
        self.kube.create(self.job_path, config["checkJob"])
        log(f"restoring into claim {self.scratch}; check Job {self.job} waits for the volume")

        deadline = time.monotonic() + float(config["timeoutSeconds"])
        selector = {"labelSelector": f"job-name={self.job}"}
        while True:
            job_status = (self.kube.get(f"{self.job_path}/{self.job}") or {}).get("status") or {}
            finished = (
                job_status.get("succeeded")
                or job_status.get("failed")
                or any(
                    c.get("type") == "Failed" and c.get("status") == "True" for c in job_status.get("conditions") or []
                )
            )
            if finished:
                break
            if time.monotonic() >= deadline:
                pods = (self.kube.get(self.pods_path, query=selector) or {}).get("items", [])
                claim_phase = ((self.kube.get(f"{self.claim_path}/{self.scratch}") or {}).get("status") or {}).get(
                    "phase"
                )
                result["error"] = (
                    f"not done after {config['timeoutSeconds']}s: scratch claim {claim_phase or 'missing'}; "
                    f"{pod_evidence(pods)}"
                )
                return result
            time.sleep(self.poll)
        pods = (self.kube.get(self.pods_path, query=selector) or {}).get("items", [])
        message = termination_message(pods)
        try:
            check = json.loads(message) if message else None
        except ValueError:
            check = None
        if not isinstance(check, dict):
            result["error"] = f"the check wrote no result ({pod_evidence(pods)})"
            return result
        result["check"] = check
        result["verdict"] = "passed" if check.get("ok") is True and job_status.get("succeeded") else "failed"
        return result

    def record(self, result: dict[str, Any]) -> None:
        """Write the outcome to the result ConfigMap (replacing the last one)."""
        result["finishedAt"] = now()
        cm = json.loads(json.dumps(self.config["resultConfigMap"]))
        cm.setdefault("metadata", {}).setdefault("annotations", {})["homelab-ai/verdict"] = result["verdict"]
        cm["data"] = {"result.json": json.dumps(result, sort_keys=True)}
        name = cm["metadata"]["name"]
        try:
            self.kube.create(self.result_path, cm)
        except ApiError as exc:
            if exc.status != 409:
                raise
            self.kube.request("PUT", f"{self.result_path}/{name}", cm)
        log(f"result in configmap {name}: {result['verdict']}")


def run_drill(kube: Kube, args: argparse.Namespace) -> int:
    config = json.loads(Path(args.config).read_text())
    drill = Drill(kube, config, args.poll_seconds)
    try:
        result = drill.run()
    except (ApiError, OSError, ValueError, KeyError) as exc:
        result = {"drill": config.get("name"), "claim": config.get("claim"), "verdict": "failed", "error": str(exc)}
    finally:
        try:
            drill.clean_up()
        except (ApiError, OSError) as exc:
            log(f"WARNING: clean-up incomplete: {exc}")
    if result.get("error"):
        log(f"ERROR: {result['error']}")
    try:
        drill.record(result)
    except (ApiError, OSError) as exc:
        log(f"ERROR: could not write the result ConfigMap: {exc}")
        return 1
    return 0 if result["verdict"] == "passed" else 1


# --- check: inside the pod that mounts the restored claim ----------------------------------------


def check_sqlite(database: Path) -> dict[str, Any]:
    """``PRAGMA integrity_check`` on the restored database, opened the way the app opens it (its
    journal or WAL is replayed first: the scratch copy may be written)."""
    result: dict[str, Any] = {"kind": "sqlite", "file": str(database), "ok": False}
    if not database.is_file():
        result["error"] = f"{database} is missing from the restored volume"
        return result
    result["bytes"] = database.stat().st_size
    try:
        connection = sqlite3.connect(f"{database.absolute().as_uri()}?mode=rw", uri=True, timeout=30)
        try:
            rows = [str(row[0]) for row in connection.execute("PRAGMA integrity_check(20)")]
            result["tables"] = connection.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error as exc:
        result["error"] = f"SQLite: {exc}"
        return result
    result["integrity"] = rows
    result["ok"] = rows == ["ok"]
    return result


def check_files(root: Path, minimum: int) -> dict[str, Any]:
    """How many regular files the restored tree holds, per top-level folder; too few is a failure."""
    per_folder: dict[str, int] = {}
    total = 0
    for folder, _dirs, files in os.walk(root):
        count = sum(1 for name in files if os.path.isfile(os.path.join(folder, name)))
        if not count:
            continue
        relative = Path(folder).relative_to(root).parts
        top = relative[0] if relative else "."
        per_folder[top] = per_folder.get(top, 0) + count
        total += count
    biggest = dict(sorted(per_folder.items(), key=lambda item: (-item[1], item[0]))[:10])
    result: dict[str, Any] = {"kind": "files", "files": total, "minimum": minimum, "folders": biggest}
    result["ok"] = total >= minimum
    if not result["ok"]:
        result["error"] = f"{total} file(s) restored, fewer than the {minimum} expected"
    return result


def run_check(args: argparse.Namespace) -> int:
    root = Path(args.path)
    result = check_sqlite(root / args.sqlite) if args.sqlite else check_files(root, args.min_files)
    line = json.dumps(result, sort_keys=True)
    print(line, flush=True)
    message_file = Path(args.termination_log)
    if message_file.parent.is_dir():
        try:
            message_file.write_text(line[:MAX_MESSAGE])
        except OSError as exc:
            log(f"WARNING: could not write the termination message: {exc}")
    return 0 if result["ok"] else 1


# --- command line --------------------------------------------------------------------------------


def snapshot_name(namespace: str, claim: str, image: str) -> str:
    """``<claim>-pre-<8 hex>``: one snapshot per claim and image, the same on every retry."""
    digest = hashlib.sha256(f"{namespace}/{claim}@{image}".encode()).hexdigest()[:8]
    return f"{claim[:40].rstrip('-')}-pre-{digest}"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    def api_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--api-server", default="", help="default: the in-cluster service (KUBERNETES_SERVICE_HOST)")
        sub.add_argument("--token-file", default=str(SA_DIR / "token"))
        sub.add_argument("--ca-file", default=str(SA_DIR / "ca.crt"))
        sub.add_argument("--poll-seconds", type=float, default=5)

    snap = commands.add_parser("snapshot", help="snapshot claims' Longhorn volumes and wait until they are ready")
    api_options(snap)
    snap.add_argument("--namespace", required=True, help="the claims' namespace")
    snap.add_argument("--claim", action="append", required=True, help="a claim to protect; repeatable")
    snap.add_argument("--snapshot", action="append", default=[], help="snapshot name per --claim (default: derived)")
    snap.add_argument("--image", required=True, help="the image about to be deployed (recorded on the snapshot)")
    snap.add_argument("--longhorn-namespace", default="longhorn-system")
    snap.add_argument("--wait-seconds", type=float, default=900)

    drill = commands.add_parser("drill", help="restore the newest backup into a scratch claim and check it")
    api_options(drill)
    drill.add_argument("--config", required=True, help="the drill's JSON (in the ConfigMap beside this script)")

    check = commands.add_parser("check", help="check a restored volume mounted at --path")
    check.add_argument("--path", required=True)
    what = check.add_mutually_exclusive_group(required=True)
    what.add_argument("--sqlite", help="a SQLite database under --path to run PRAGMA integrity_check on")
    what.add_argument("--min-files", type=int, help="the fewest regular files the tree must hold")
    check.add_argument("--termination-log", default=str(TERMINATION_LOG))
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "check":
        return run_check(args)
    kube = kube_from_args(args)
    if args.command == "snapshot":
        if not args.snapshot:
            args.snapshot = [snapshot_name(args.namespace, claim, args.image) for claim in args.claim]
        if len(args.snapshot) != len(args.claim):
            raise SystemExit("give one --snapshot per --claim, or none")
        try:
            return take_snapshot(kube, args)
        except (ApiError, OSError) as exc:
            log(f"ERROR: the API server refused: {exc}")
            return 1
    return run_drill(kube, args)


if __name__ == "__main__":
    sys.exit(main())
