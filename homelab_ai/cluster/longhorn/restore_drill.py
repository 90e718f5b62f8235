"""RestoreDrill: on a schedule, restore a claim's newest Longhorn backup into a scratch claim and check it.

Backups are only as good as the last restore anyone tried. The drill is a CronJob running
``longhorn_jobs.py drill``: it finds the newest Completed Backup of the claim's volume, makes a
one-off StorageClass whose ``fromBackup`` parameter is that backup's URL (how Longhorn's CSI
driver restores a backup into a new claim at v1.12.1: csi/controller_server.go CreateVolume,
csi/util.go L239-240; docs references/storage-class-parameters.md "From Backup"), creates the
scratch claim and a Job that mounts it and checks the data (SQLite ``PRAGMA integrity_check`` or a
file count), writes the outcome to the ConfigMap ``<name>-result`` that ``homelab-ai doctor``
reads, and deletes the Job, the claim (and with it the restored volume) and the class.

The drill's rights are written out object by object: its Roles name the scratch claim, the check
Job, the result ConfigMap and the StorageClass it may delete; it may list Longhorn Backups, create
those objects, and list pods to read the check's result. A StorageClass is cluster-scoped, so one
ClusterRole lets it create classes and delete only its own.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import ApiServerEgress, PodSelector
from homelab_ai.base.plus import k8s
from homelab_ai.base.pod_scripts import script_text
from homelab_ai.base.validators import (
    cron,
    dns1123_label,
    field_name,
    matches,
    positive_duration,
    short_label,
    typed_fields,
    whole_number,
)
from homelab_ai.base.values import SCRIPT_IMAGE, ComputeResources, ContainerImage
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy, AppNetworkPolicyProps
from homelab_ai.cluster.hardening import SecurityProfile
from homelab_ai.cluster.longhorn.storage_class import PROVISIONER, LonghornStorageClass
from homelab_ai.cluster.longhorn.volume import LonghornVolume
from homelab_ai.cluster.script_pod import (
    MANAGED_BY,
    SCRIPT_DIR,
    cluster_role,
    role,
    rule,
    script_pod,
)

SCRIPT = "longhorn_jobs.py"
DRILL_CONFIG = "drill.json"
RESULT_KEY = "result.json"
RESTORED = "/restored"
# CronJob names: the controller appends 11 characters to make its Jobs' names.
MAX_NAME_LENGTH = 52 - len("-check")


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class SqliteIntegrity:
    """Run SQLite's ``PRAGMA integrity_check`` on ``file`` (a path inside the volume)."""

    file: str = attrs.field(
        validator=matches(
            r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*",
            "give a path inside the volume, e.g. 'webui.db'",
        )
    )
    """The database, relative to the volume's root, e.g. ``webui.db``. Required."""

    def args(self) -> list[str]:
        return ["--sqlite", self.file]

    def describe(self) -> str:
        return f"SQLite `PRAGMA integrity_check` on `{self.file}`"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class FileCount:
    """Count the volume's regular files; fewer than ``min_files`` fails."""

    min_files: int = attrs.field(default=1, validator=whole_number(1))
    """The fewest number of files a good restore holds. Default 1: an empty volume fails."""

    def args(self) -> list[str]:
        return ["--min-files", str(self.min_files)]

    def describe(self) -> str:
        return f"at least {self.min_files} file(s) restored"


def _check_kind(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, SqliteIntegrity | FileCount):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a drill check",
            "use SqliteIntegrity(file='webui.db') or FileCount(min_files=1)",
        )


def _volume(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, LonghornVolume):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a LonghornVolume",
            "pass the app's volume (e.g. app.data)",
        )
    if not value.props.backup_groups:
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"claim {value.claim_name!r} is in no backup group, so it has no backups to restore",
            "give its LonghornVolumeProps backup_groups=(...) served by a backup LonghornRecurringJob",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class RestoreDrillProps:
    """Which claim, how to check it, when, and with what the drill may reach the API server."""

    volume: LonghornVolume = attrs.field(validator=_volume)
    """The claim to drill; it must be in a backup group. Required."""
    check: SqliteIntegrity | FileCount = attrs.field(validator=_check_kind)
    """What a good restore looks like. Required."""
    schedule: str = attrs.field(default="30 4 * * 0", validator=cron)
    """Cron schedule, in the controller's time zone. Default Sundays 04:30, after nightly backups."""
    name: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(short_label(MAX_NAME_LENGTH, "for a CronJob whose Jobs get a suffix")),
    )
    """Name of the CronJob and its objects. Default ``restore-drill-<claim>``, cut to 46 characters."""
    security: SecurityProfile = SecurityProfile()
    """Who the check runs as: the app's own user and group, so it can open its files. Default UID 10001."""
    timeout: timedelta = attrs.field(default=timedelta(hours=2), validator=positive_duration)
    """How long the restore and the check may take together. Default 2 hours."""
    replicas: int = attrs.field(default=1, validator=whole_number(1, 20))
    """Longhorn replicas of the scratch volume. Default 1: it lives minutes."""
    api_server: ApiServerEgress = ApiServerEgress()
    """Where the drill's pod may reach the API server. Default ports 443 and 6443, any address."""
    image: ContainerImage = SCRIPT_IMAGE
    """The python image that runs the drill and the check. Default the project's pinned one."""
    longhorn_namespace: str = attrs.field(default="longhorn-system", validator=dns1123_label)
    """Where Longhorn keeps its Backups. Default ``longhorn-system``."""
    resources: ComputeResources = ComputeResources(
        cpu_request=0.05, cpu_limit=0.5, memory_request_gib=0.0625, memory_limit_gib=0.25
    )
    """The drill's own container: it only calls the API. Default 0.05-0.5 cores, 64-256 MiB."""
    check_resources: ComputeResources = ComputeResources(
        cpu_request=0.1, cpu_limit=1, memory_request_gib=0.125, memory_limit_gib=1
    )
    """The check's container: SQLite reads the whole database. Default 0.1-1 cores, 128 MiB-1 GiB."""

    @property
    def drill_name(self) -> str:
        return self.name or f"restore-drill-{self.volume.claim_name}"[:MAX_NAME_LENGTH].rstrip("-")


class RestoreDrill(Construct):
    """A CronJob, its ConfigMap (the program and the drill's objects as JSON), RBAC and NetworkPolicy."""

    def __init__(self, scope: Construct, id: str, props: RestoreDrillProps) -> None:
        super().__init__(scope, id)
        self.props = props
        namespace = cdk8s.Chart.of(self).namespace
        if not namespace:
            raise HomelabConfigError(
                "RestoreDrill(scope)",
                "the drill runs beside its claim, but this chart has no namespace",
                "create it in the chart of the claim (e.g. the 'ai' chart)",
            )
        self.namespace = namespace
        name = props.drill_name
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "restore-drill", **MANAGED_BY}
        k8s.KubeConfigMap(
            self,
            "Program",
            metadata=k8s.ObjectMeta(name=name, labels=labels),
            data={
                SCRIPT: script_text(__package__, SCRIPT),
                DRILL_CONFIG: json.dumps(self.drill_config(), indent=2, sort_keys=True) + "\n",
            },
        )
        k8s.KubeServiceAccount(
            self,
            "ServiceAccount",
            metadata=k8s.ObjectMeta(name=name, labels=labels),
            automount_service_account_token=False,
        )
        claim, scratch = props.volume.claim_name, self.scratch_claim
        role(
            self,
            "Namespace",
            name=name,
            namespace=namespace,
            account=name,
            account_namespace=namespace,
            rules=[
                rule("", "persistentvolumeclaims", ["get"], [claim, scratch]),
                rule("", "persistentvolumeclaims", ["create"]),
                rule("", "persistentvolumeclaims", ["delete"], [scratch]),
                rule("batch", "jobs", ["create"]),
                rule("batch", "jobs", ["get", "delete"], [self.check_job]),
                # The check's result is its pod's termination message.
                rule("", "pods", ["list"]),
                rule("", "configmaps", ["create"]),
                rule("", "configmaps", ["update"], [self.result_config_map]),
            ],
        )
        role(
            self,
            "Longhorn",
            # Its own name: dist/ files are named <kind>-<name>, whatever the namespace.
            name=f"{name}-backups",
            namespace=props.longhorn_namespace,
            account=name,
            account_namespace=namespace,
            rules=[rule("longhorn.io", "backups", ["list"])],
        )
        cluster_role(
            self,
            "StorageClass",
            name=self.storage_class,
            account=name,
            namespace=namespace,
            rules=[
                rule("storage.k8s.io", "storageclasses", ["create"]),
                rule("storage.k8s.io", "storageclasses", ["delete"], [self.storage_class]),
            ],
        )
        # No way in; out only to DNS and the API server. The check Job's pods need no network at
        # all: the namespace's default-deny policy covers them.
        self.network_policy = AppNetworkPolicy(
            self,
            "NetworkPolicy",
            AppNetworkPolicyProps(
                name=name, pods=PodSelector(labels={"app.kubernetes.io/name": name}), api_server=props.api_server
            ),
        )
        timeout = int(props.timeout.total_seconds())
        k8s.KubeCronJob(
            self,
            "CronJob",
            metadata=k8s.ObjectMeta(name=name, labels=labels),
            spec=k8s.CronJobSpec(
                schedule=props.schedule,
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=1,
                failed_jobs_history_limit=1,
                job_template=k8s.JobTemplateSpec(
                    metadata=k8s.ObjectMeta(labels=labels),
                    spec=k8s.JobSpec(
                        # A failed drill is a finding, not something to retry into a second restore.
                        backoff_limit=0,
                        active_deadline_seconds=timeout + 900,
                        template=k8s.PodTemplateSpec(
                            metadata=k8s.ObjectMeta(labels=labels),
                            spec=script_pod(
                                script=SCRIPT,
                                config_map=name,
                                image=props.image,
                                args=["drill", "--config", f"{SCRIPT_DIR}/{DRILL_CONFIG}"],
                                res=props.resources,
                                service_account=name,
                            ),
                        ),
                    ),
                ),
            ),
        )
        self.node.add_validation(Validation(self._beside_its_claim))

    # --- what others need: names, for the doctor and the docs ------------------------------------

    @property
    def name(self) -> str:
        return self.props.drill_name

    @property
    def claim_name(self) -> str:
        return self.props.volume.claim_name

    @property
    def scratch_claim(self) -> str:
        return f"{self.name}-scratch"

    @property
    def check_job(self) -> str:
        return f"{self.name}-check"

    @property
    def result_config_map(self) -> str:
        """The ConfigMap the drill writes its last outcome to (key ``result.json``)."""
        return f"{self.name}-result"

    @property
    def storage_class(self) -> str:
        """The one-off restore class (and the ClusterRole for it): cluster-wide, so it carries the namespace."""
        return f"{self.name}.{self.namespace}"

    @property
    def schedule(self) -> str:
        return self.props.schedule

    def _beside_its_claim(self) -> list[str]:
        claim_namespace = cdk8s.Chart.of(self.props.volume).namespace
        if claim_namespace != self.namespace:
            return [
                f"RestoreDrillProps.volume: the drill of claim {self.claim_name!r} is in namespace "
                f"{self.namespace!r} but the claim is in {claim_namespace!r}; create the drill in the claim's chart"
            ]
        return []

    # --- the objects the drill makes at run time, written out here so they are reviewed -----------

    def _fs_type(self) -> str:
        wanted = self.props.volume.props.storage_class
        for construct in self.node.root.node.find_all():
            if isinstance(construct, LonghornStorageClass) and construct.name == wanted:
                return construct.props.fs_type
        return "ext4"

    def drill_config(self) -> dict[str, Any]:
        props = self.props
        labels = {
            "app.kubernetes.io/name": self.check_job,
            "app.kubernetes.io/component": "restore-drill",
            **MANAGED_BY,
        }
        timeout = int(props.timeout.total_seconds())
        security = props.security
        check_container = {
            "name": "check",
            "image": props.image.reference,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python", f"{SCRIPT_DIR}/{SCRIPT}", "check", "--path", RESTORED, *props.check.args()],
            "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
            "resources": props.check_resources.quantities(),
            # The app's user, so its files open; the root filesystem stays read-only either way.
            "securityContext": {**security.container_security_context(), "readOnlyRootFilesystem": True},
            "volumeMounts": [
                {"name": "restored", "mountPath": RESTORED},
                {"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        return {
            "name": self.name,
            "namespace": self.namespace,
            "claim": self.claim_name,
            "longhornNamespace": props.longhorn_namespace,
            "timeoutSeconds": timeout,
            "storageClass": {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": self.storage_class, "labels": dict(MANAGED_BY)},
                "provisioner": PROVISIONER,
                # The scratch claim's volume goes when the drill deletes the claim.
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
                "allowVolumeExpansion": False,
                "parameters": {
                    "numberOfReplicas": str(props.replicas),
                    "staleReplicaTimeout": "30",
                    "fsType": self._fs_type(),
                },
            },
            "scratchClaim": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": self.scratch_claim, "namespace": self.namespace, "labels": labels},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": self.storage_class,
                    "resources": {"requests": {"storage": f"{props.volume.props.size_gib}Gi"}},
                },
            },
            "checkJob": {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": self.check_job, "namespace": self.namespace, "labels": labels},
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": timeout,
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "restartPolicy": "Never",
                            "automountServiceAccountToken": False,
                            "enableServiceLinks": False,
                            "securityContext": security.pod_security_context(),
                            "containers": [check_container],
                            "volumes": [
                                {"name": "restored", "persistentVolumeClaim": {"claimName": self.scratch_claim}},
                                {"name": "script", "configMap": {"name": self.name, "defaultMode": 0o444}},
                                {"name": "tmp", "emptyDir": {}},
                            ],
                        },
                    },
                },
            },
            "resultConfigMap": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": self.result_config_map,
                    "namespace": self.namespace,
                    "labels": {"app.kubernetes.io/component": "restore-drill", **MANAGED_BY},
                },
            },
        }
