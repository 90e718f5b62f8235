"""Restore a claim from its newest Longhorn backup on a rebuilt cluster: the objects, generated from the chart.

Longhorn v1.12.1 restores a backup into a new volume named in a ``longhorn.io/v1beta2`` Volume
whose ``spec.fromBackup`` is the backup's URL and ``spec.size`` its volume size in bytes; a
PersistentVolume whose CSI ``volumeHandle`` is that volume's name, and a claim bound to it with
``volumeName``, hand it to the app (longhorn/website content/docs/1.12.1/snapshots-and-backups/
backup-and-restore/restore-from-a-backup.md, "Restore via Custom Resource (CLI)").

The claim is written exactly as the chart declares it (name, class, size, labels, annotations)
plus ``volumeName``, so when Flux applies the chart's claim afterwards nothing changes: it takes
the restored volume instead of provisioning an empty one. Backups are found by the claim they were
taken of: Longhorn records it in each Backup's ``status.labels.KubernetesStatus`` (api/snapshot.go
@v1.12.1 L189-196), which survives the cluster, so this works before the claim exists again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs
import cdk8s

from homelab_ai.base.validators import typed_fields
from homelab_ai.base.values import AccessMode
from homelab_ai.cluster.longhorn.storage_class import PROVISIONER, LonghornStorageClass, LonghornStorageClassProps
from homelab_ai.cluster.longhorn.volume import PRUNE_ANNOTATION, LonghornVolume

# Longhorn refuses volume names longer than this (longhorn-manager datastore/longhorn.go@v1.12.1 L44).
MAX_VOLUME_NAME = 40
KUBERNETES_STATUS = "KubernetesStatus"
_ACCESS = {
    AccessMode.READ_WRITE_ONCE: "rwo",
    AccessMode.READ_WRITE_ONCE_POD: "rwop",
    AccessMode.READ_WRITE_MANY: "rwx",
    AccessMode.READ_ONLY_MANY: "rwx",
}


class RestoreError(Exception):
    """No backup to restore from, or the chart has no such claim."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class ClaimToRestore:
    """A backed-up claim of the chart and the Longhorn class its volume gets."""

    namespace: str
    """The claim's namespace (no default)."""
    volume: LonghornVolume
    """The claim as the chart declares it (no default)."""
    storage_class: LonghornStorageClassProps
    """Its class's settings; Longhorn's own ``longhorn`` class when the chart does not make it (no default)."""

    @property
    def claim(self) -> str:
        return self.volume.claim_name

    @property
    def volume_name(self) -> str:
        """The restored Longhorn volume (and PersistentVolume): ``<namespace>-<claim>``, at most 40 characters."""
        name = f"{self.namespace}-{self.claim}"
        if len(name) <= MAX_VOLUME_NAME:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        return f"{name[: MAX_VOLUME_NAME - 9].rstrip('-')}-{digest}"


def backed_up_claims(app: cdk8s.App) -> list[ClaimToRestore]:
    """Every claim of the chart that is in a backup group, with its class."""
    found = app.node.find_all()
    classes = {c.name: c.props for c in found if isinstance(c, LonghornStorageClass)}
    claims = []
    for volume in found:
        if isinstance(volume, LonghornVolume) and volume.props.backup_groups:
            wanted = volume.props.storage_class
            props = classes.get(wanted) or LonghornStorageClassProps(name=wanted)
            namespace = cdk8s.Chart.of(volume).namespace or "default"
            claims.append(ClaimToRestore(namespace=namespace, volume=volume, storage_class=props))
    return sorted(claims, key=lambda c: (c.namespace, c.claim))


def taken_of(backup: dict[str, Any]) -> tuple[str, str] | None:
    """(namespace, claim) the backup was taken of, from Longhorn's KubernetesStatus label."""
    labels = (backup.get("status") or {}).get("labels") or {}
    try:
        status = json.loads(labels[KUBERNETES_STATUS])
    except (KeyError, ValueError, TypeError):
        return None
    if not isinstance(status, dict) or not status.get("pvcName"):
        return None
    return str(status.get("namespace") or ""), str(status["pvcName"])


def newest_backup(backups: list[dict[str, Any]], namespace: str, claim: str) -> dict[str, Any]:
    mine = [
        b
        for b in backups
        if taken_of(b) == (namespace, claim)
        and (b.get("status") or {}).get("state") == "Completed"
        and b["status"].get("url")
    ]
    if not mine:
        raise RestoreError(
            f"no Completed Longhorn backup of claim {namespace}/{claim}: is the backup target set on this cluster "
            "(Longhorn lists a target's backups once it can read it)?"
        )
    return max(mine, key=lambda b: (b["status"].get("backupCreatedAt") or "", b["metadata"]["name"]))


def restore_manifests(target: ClaimToRestore, backup: dict[str, Any], longhorn_namespace: str) -> list[dict[str, Any]]:
    """The Longhorn Volume restored from ``backup``, its PersistentVolume and the chart's claim bound to it."""
    props = target.volume.props
    cls = target.storage_class
    status = backup["status"]
    size_bytes = str(int(status.get("volumeSize") or props.size_gib * 1024**3))
    name = target.volume_name
    access = props.access_mode.value
    volume = {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "Volume",
        "metadata": {
            "name": name,
            "namespace": longhorn_namespace,
            "labels": {"app.kubernetes.io/managed-by": "homelab-ai"},
            "annotations": {"homelab-ai/restored-from": backup["metadata"]["name"]},
        },
        "spec": {
            "size": size_bytes,
            "fromBackup": status["url"],
            "numberOfReplicas": cls.number_of_replicas,
            "staleReplicaTimeout": cls.stale_replica_timeout_minutes,
            "dataLocality": cls.data_locality.value,
            "accessMode": _ACCESS[props.access_mode],
            "frontend": "blockdev",
            "dataEngine": "v1",
        },
    }
    persistent_volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "homelab-ai"}},
        "spec": {
            "capacity": {"storage": size_bytes},
            "volumeMode": "Filesystem",
            "accessModes": [access],
            "persistentVolumeReclaimPolicy": cls.reclaim_policy.value,
            "storageClassName": props.storage_class,
            # Only this claim may bind it.
            "claimRef": {"namespace": target.namespace, "name": props.name},
            "csi": {
                "driver": PROVISIONER,
                "fsType": cls.fs_type,
                "volumeHandle": name,
                "volumeAttributes": {
                    "numberOfReplicas": str(cls.number_of_replicas),
                    "staleReplicaTimeout": str(cls.stale_replica_timeout_minutes),
                },
            },
        },
    }
    claim_metadata: dict[str, Any] = {"name": props.name, "namespace": target.namespace}
    if props.labels():
        claim_metadata["labels"] = props.labels()
    if props.protect_from_prune:
        claim_metadata["annotations"] = {PRUNE_ANNOTATION: "disabled"}
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": claim_metadata,
        "spec": {
            "accessModes": [access],
            "storageClassName": props.storage_class,
            "volumeMode": "Filesystem",
            "volumeName": name,
            "resources": {"requests": {"storage": f"{props.size_gib}Gi"}},
        },
    }
    return [volume, persistent_volume, claim]
