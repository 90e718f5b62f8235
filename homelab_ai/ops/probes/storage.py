"""Storage probes: Longhorn's classes, bound claims, a backup target, recent backups.

Longhorn shapes (longhorn-manager k8s/pkg/apis/longhorn/v1beta2 at v1.12.1): BackupTarget
``spec.backupTargetURL`` and ``status.available`` (backuptarget.go L12-33), Backup ``status.state``
/ ``backupCreatedAt`` / ``url`` (backup.go L57-100) and its ``backup-volume`` label
(types/types.go L226, L680-685); the ``backup-target`` Setting before Longhorn 1.8 (types/backupstore.go L4).
"""

from __future__ import annotations

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster, parse_time
from homelab_ai.ops.kubectl import KubectlError
from homelab_ai.ops.report import Finding, fail, ok, warn

DEFAULT_TARGET = "default"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.0f} h" if seconds < 72 * 3600 else f"{seconds / 86400:.0f} days"


def storage_class(e: Expectation, cluster: Cluster) -> Finding:
    found = cluster.find("storageclass", e.data["name"])
    if found is None:
        return fail(e, f"no StorageClass {e.data['name']!r}")
    provisioner = found.get("provisioner")
    if provisioner != e.data["provisioner"]:
        return fail(e, f"its provisioner is {provisioner!r}, not {e.data['provisioner']!r}")
    return ok(e, f"provisioner {provisioner}, reclaimPolicy {found.get('reclaimPolicy', 'Delete')}")


def claim_bound(e: Expectation, cluster: Cluster) -> Finding:
    claim = cluster.find("persistentvolumeclaim", e.data["claim"], namespace=e.data["namespace"])
    if claim is None:
        return fail(e, "the claim does not exist")
    phase = (claim.get("status") or {}).get("phase", "?")
    if phase != "Bound":
        return fail(e, f"phase {phase}")
    capacity = ((claim.get("status") or {}).get("capacity") or {}).get("storage", "?")
    return ok(e, f"Bound to {claim['spec'].get('volumeName', '?')}, {capacity}")


def backup_target(e: Expectation, cluster: Cluster) -> Finding:
    namespace = e.data["namespace"]
    try:
        targets = cluster.items("backuptargets.longhorn.io", namespace=namespace)
    except KubectlError as exc:
        if not exc.unknown_kind:
            raise
        return _backup_target_setting(e, cluster, namespace)
    target = next((t for t in targets if t["metadata"]["name"] == DEFAULT_TARGET), None)
    if target is None:
        names = ", ".join(t["metadata"]["name"] for t in targets) or "none"
        return fail(e, f"no BackupTarget {DEFAULT_TARGET!r}, which the RecurringJobs back up to (targets: {names})")
    url = (target.get("spec") or {}).get("backupTargetURL", "")
    status = target.get("status") or {}
    if not url:
        return fail(e, f"BackupTarget {DEFAULT_TARGET!r} has no URL: backups have nowhere to go")
    if not status.get("available"):
        reasons = [c.get("message") or c.get("reason", "") for c in status.get("conditions") or []]
        why = "; ".join(r for r in reasons if r) or "no reason given"
        return fail(
            e,
            f"BackupTarget {DEFAULT_TARGET!r} is {url} but not available: {why}",
            fix="check the URL and the credential Secret: "
            f"`kubectl -n {namespace} describe backuptargets.longhorn.io {DEFAULT_TARGET}`",
        )
    return ok(e, f"BackupTarget {DEFAULT_TARGET!r}: {url}, available, last synced {status.get('lastSyncedAt', '?')}")


def _backup_target_setting(e: Expectation, cluster: Cluster, namespace: str) -> Finding:
    """Longhorn before 1.8 kept the target in the ``backup-target`` Setting."""
    try:
        setting = cluster.find("settings.longhorn.io", "backup-target", namespace=namespace)
    except KubectlError as exc:
        if exc.unknown_kind:
            return fail(
                e,
                "the cluster has no longhorn.io resources: Longhorn is not installed",
                fix="install Longhorn: https://longhorn.io/docs/1.12.1/deploy/install/",
            )
        raise
    value = (setting or {}).get("value", "")
    if not value:
        return fail(e, "Setting backup-target is empty: backups have nowhere to go")
    return ok(e, f"Setting backup-target: {value} (Longhorn before 1.8: availability not reported)")


def backups_recent(e: Expectation, cluster: Cluster) -> Finding:
    namespace, claim_name = e.data["namespace"], e.data["claim"]
    max_age = float(e.data["max_age_hours"]) * 3600
    claim = cluster.find("persistentvolumeclaim", claim_name, namespace=namespace)
    volume = ((claim or {}).get("spec") or {}).get("volumeName")
    if not volume:
        return warn(e, "the claim is not bound to a volume yet: nothing to back up")
    backups = cluster.items(
        "backups.longhorn.io", namespace=e.data["longhorn_namespace"], selector=f"backup-volume={volume}"
    )
    done = [b for b in backups if (b.get("status") or {}).get("state") == "Completed"]
    newest = max(done, key=lambda b: b["status"].get("backupCreatedAt") or "", default=None)
    errors = [b for b in backups if (b.get("status") or {}).get("state") == "Error"]
    error_note = []
    if errors:
        last = errors[-1]
        error_note.append(
            f"{len(errors)} backup(s) in Error, last {last['metadata']['name']}: {last['status'].get('error')}"
        )
    if newest is None:
        created = parse_time(claim["metadata"].get("creationTimestamp")) if claim else None
        if created and (cluster.now - created).total_seconds() < max_age:
            return warn(
                e,
                f"no backup of volume {volume} yet; the claim is {_hours((cluster.now - created).total_seconds())} old",
                *error_note,
            )
        return fail(e, f"no Completed backup of volume {volume}", *error_note)
    when = parse_time(newest["status"].get("backupCreatedAt"))
    age = (cluster.now - when).total_seconds() if when else float("inf")
    line = f"newest: {newest['metadata']['name']} of {newest['status'].get('backupCreatedAt', '?')}"
    if age > max_age:
        return fail(e, f"{line}, {_hours(age)} old (more than {_hours(max_age)})", *error_note)
    return ok(e, f"{line}, {_hours(age)} old", *error_note)


PROBES = {
    "storage-class": storage_class,
    "claim-bound": claim_bound,
    "backup-target": backup_target,
    "backups-recent": backups_recent,
}
