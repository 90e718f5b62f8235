"""LonghornRecurringJob: scheduled snapshots or backups for every volume in a group.

Longhorn runs the job for each volume labelled ``recurring-job-group.longhorn.io/<group>:
enabled``; a LonghornVolume with ``backup_groups=(group,)`` carries that label on its PVC, with
``recurring-job.longhorn.io/source: enabled`` so Longhorn copies it from the PVC to the volume.
RecurringJobs live in Longhorn's namespace: keep this construct in a chart without a namespace
(the infrastructure chart), since a GitOps folder's namespace override would move it.
"""

from __future__ import annotations

import enum

import attrs
import cdk8s
from constructs import Construct

from homelab_ai._crds.io import longhorn
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import as_tuple, cron, dns1123_label, typed_fields, whole_number

# Longhorn refuses a retain count above this.
MAX_RETAIN = 100


class RecurringTask(enum.Enum):
    """What the job does: a local snapshot (fast, same disks) or a backup to the backup target."""

    SNAPSHOT = longhorn.RecurringJobSpecTask.SNAPSHOT
    BACKUP = longhorn.RecurringJobSpecTask.BACKUP


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class LonghornRecurringJobProps:
    """One schedule: ``task`` at ``cron`` for the volumes of ``groups``, keeping ``retain`` of them.

    A backup needs a backup target configured in Longhorn (NFS or S3); snapshots alone do not
    survive the loss of the disks they are on.
    """

    name: str = attrs.field(validator=dns1123_label)
    """Name of the RecurringJob. Required."""
    task: RecurringTask = attrs.field(validator=attrs.validators.instance_of(RecurringTask))
    """Snapshot (fast, same disks) or backup (to Longhorn's backup target). Required."""
    cron: str = attrs.field(validator=cron)
    """Cron schedule, e.g. "0 3 * * *" (daily at 03:00). Required."""
    groups: tuple[str, ...] = attrs.field(converter=as_tuple, validator=attrs.validators.deep_iterable(dns1123_label))
    """Volume groups it runs for (never "default"). Required."""
    retain: int = attrs.field(validator=whole_number(1, MAX_RETAIN))
    """How many snapshots or backups of each volume Longhorn keeps, 1 to 100. Required."""
    concurrency: int = attrs.field(default=1, validator=whole_number(1))
    """How many volumes the job works on at once. Default 1."""
    namespace: str = attrs.field(default="longhorn-system", validator=dns1123_label)
    """Longhorn's namespace, where RecurringJobs live. Default "longhorn-system"."""

    def __attrs_post_init__(self) -> None:
        if not self.groups:
            raise HomelabConfigError(
                "LonghornRecurringJobProps.groups",
                "no group given, so the job would run for no volume",
                "name the group(s) whose volumes it covers, e.g. groups=('user-data',)",
            )
        if "default" in self.groups:
            raise HomelabConfigError(
                "LonghornRecurringJobProps.groups",
                "'default' is Longhorn's group for every volume without recurring-job labels",
                "use a group name of your own and list it in the volumes' backup_groups",
            )


class LonghornRecurringJob(Construct):
    """A ``longhorn.io/v1beta2`` RecurringJob in Longhorn's namespace."""

    def __init__(self, scope: Construct, id: str, props: LonghornRecurringJobProps) -> None:
        super().__init__(scope, id)
        self.props = props
        longhorn.RecurringJob(
            self,
            "Resource",
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name,
                namespace=props.namespace,
                labels={"app.kubernetes.io/managed-by": "homelab-ai"},
            ),
            spec=longhorn.RecurringJobSpec(
                name=props.name,
                task=props.task.value,
                cron=props.cron,
                groups=list(props.groups),
                retain=props.retain,
                concurrency=props.concurrency,
            ),
        )

    @property
    def groups(self) -> tuple[str, ...]:
        """The volume groups it runs for."""
        return self.props.groups
