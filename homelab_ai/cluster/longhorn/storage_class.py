"""LonghornStorageClass: a Longhorn class whose volumes outlive their claims.

With ``reclaimPolicy: Retain`` a deleted PVC (a pruned GitOps object, a mistaken ``kubectl
delete``) leaves its Longhorn volume and data in place to be bound again. StorageClasses are
cluster-scoped: create this in a chart without a namespace (the infrastructure chart).
"""

from __future__ import annotations

import enum

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plus import k8s
from homelab_ai.base.validators import dns1123_subdomain, matches, typed_fields, whole_number

PROVISIONER = "driver.longhorn.io"


class ReclaimPolicy(enum.Enum):
    """What happens to the volume when its claim is deleted."""

    RETAIN = "Retain"
    DELETE = "Delete"


class DataLocality(enum.Enum):
    """Whether Longhorn keeps a replica on the node that uses the volume."""

    DISABLED = "disabled"
    BEST_EFFORT = "best-effort"
    STRICT_LOCAL = "strict-local"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class LonghornStorageClassProps:
    """A Longhorn class; ``number_of_replicas`` defaults to 3, Longhorn's own default.

    On a single-node homelab set it to 1: Longhorn will not place two replicas of a volume on one
    node, so with 3 every volume stays degraded. ``strict-local`` locality needs exactly 1.
    """

    name: str = attrs.field(default="longhorn-retain", validator=dns1123_subdomain)
    """Name of the StorageClass. Default "longhorn-retain"."""
    number_of_replicas: int = attrs.field(default=3, validator=whole_number(1, 20))
    """Longhorn replicas of each volume, 1 to 20 (1 on a single node). Default 3."""
    reclaim_policy: ReclaimPolicy = attrs.field(
        default=ReclaimPolicy.RETAIN, validator=attrs.validators.instance_of(ReclaimPolicy)
    )
    """What deleting a claim does to its volume. Default ReclaimPolicy.RETAIN: the data stays."""
    data_locality: DataLocality = attrs.field(
        default=DataLocality.DISABLED, validator=attrs.validators.instance_of(DataLocality)
    )
    """Whether a replica stays on the node using the volume. Default DataLocality.DISABLED."""
    stale_replica_timeout_minutes: int = attrs.field(default=30, validator=whole_number(1))
    """Minutes before Longhorn gives up on a failed replica. Default 30."""
    fs_type: str = attrs.field(default="ext4", validator=matches(r"ext4|xfs", "use 'ext4' or 'xfs'"))
    """File system of the volumes, "ext4" or "xfs". Default "ext4"."""
    allow_volume_expansion: bool = True
    """Let claims of the class grow. Default True."""

    def __attrs_post_init__(self) -> None:
        if self.data_locality is DataLocality.STRICT_LOCAL and self.number_of_replicas != 1:
            raise HomelabConfigError(
                "LonghornStorageClassProps.number_of_replicas",
                f"strict-local data locality needs exactly 1 replica, not {self.number_of_replicas}",
                "set number_of_replicas=1 or use best-effort locality",
            )


class LonghornStorageClass(Construct):
    """The StorageClass object; volumes use it by ``storage_class=<name>``."""

    def __init__(
        self, scope: Construct, id: str, props: LonghornStorageClassProps = LonghornStorageClassProps()
    ) -> None:
        super().__init__(scope, id)
        self.props = props
        namespace = cdk8s.Chart.of(self).namespace
        if namespace is not None:
            raise HomelabConfigError(
                "LonghornStorageClass(scope)",
                f"a StorageClass is cluster-scoped but this chart stamps namespace {namespace!r}",
                "create it in a chart without a namespace (e.g. 'infrastructure')",
            )
        k8s.KubeStorageClass(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(name=props.name, labels={"app.kubernetes.io/managed-by": "homelab-ai"}),
            provisioner=PROVISIONER,
            reclaim_policy=props.reclaim_policy.value,
            allow_volume_expansion=props.allow_volume_expansion,
            volume_binding_mode="Immediate",
            parameters={
                "numberOfReplicas": str(props.number_of_replicas),
                "staleReplicaTimeout": str(props.stale_replica_timeout_minutes),
                "dataLocality": props.data_locality.value,
                "fsType": props.fs_type,
            },
        )

    @property
    def name(self) -> str:
        """Name of the StorageClass, for LonghornVolumeProps.storage_class."""
        return self.props.name
