"""LonghornVolume: a PersistentVolumeClaim on Longhorn block storage, safe from pruning, backed up on request."""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.plus import kplus
from homelab_ai.base.validators import as_tuple, dns1123_label, dns1123_subdomain, typed_fields, whole_number
from homelab_ai.base.values import AccessMode

PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"
RECURRING_SOURCE_LABEL = "recurring-job.longhorn.io/source"
RECURRING_GROUP_LABEL = "recurring-job-group.longhorn.io"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class LonghornVolumeProps:
    """A named claim of ``size_gib`` GiB; ReadWriteOnce because Longhorn volumes are block devices.

    ``protect_from_prune`` (on by default) tells Flux never to delete the claim, even when it
    disappears from ``dist/``: removing a volume is a decision for a person, not a side effect of
    a refactor. ``backup_groups`` puts the volume in LonghornRecurringJob groups (snapshots,
    backups); volumes that can be re-downloaded need none.
    """

    name: str = attrs.field(validator=dns1123_label)
    """Name of the claim (the spec's claim name). Required."""
    size_gib: int = attrs.field(validator=whole_number(1))
    """Size of the claim, GiB. Required."""
    access_mode: AccessMode = attrs.field(
        default=AccessMode.READ_WRITE_ONCE, validator=attrs.validators.instance_of(AccessMode)
    )
    """Access mode of the claim. Default AccessMode.READ_WRITE_ONCE (Longhorn volumes are block devices)."""
    storage_class: str = attrs.field(default="longhorn", validator=dns1123_subdomain)
    """StorageClass of the claim. Default "longhorn"."""
    purpose: str = ""
    """One line for the operator docs' storage table; never rendered into objects. Default empty."""
    protect_from_prune: bool = True
    """Tell Flux never to delete the claim, even once it is gone from dist/. Default True."""
    backup_groups: tuple[str, ...] = attrs.field(
        default=(), converter=as_tuple, validator=attrs.validators.deep_iterable(dns1123_label)
    )
    """LonghornRecurringJob groups (snapshots, backups) the volume is in. Default: none."""

    def labels(self) -> dict[str, str]:
        """The labels Longhorn reads on a PVC to attach recurring jobs to its volume."""
        if not self.backup_groups:
            return {}
        labels = {RECURRING_SOURCE_LABEL: "enabled"}
        labels.update({f"{RECURRING_GROUP_LABEL}/{group}": "enabled" for group in self.backup_groups})
        return labels


class LonghornVolume(Construct):
    """A PVC that workloads mount by calling :meth:`mount`; its name is the spec's claim name."""

    def __init__(self, scope: Construct, id: str, props: LonghornVolumeProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self._claim = kplus.PersistentVolumeClaim(
            self,
            "Claim",
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name,
                labels=props.labels() or None,
                annotations={PRUNE_ANNOTATION: "disabled"} if props.protect_from_prune else None,
            ),
            storage=cdk8s.Size.gibibytes(props.size_gib),
            storage_class_name=props.storage_class,
            access_modes=[kplus.PersistentVolumeAccessMode[props.access_mode.name]],
            volume_mode=kplus.PersistentVolumeMode.FILE_SYSTEM,
        )
        self._volume = kplus.Volume.from_persistent_volume_claim(self, "Volume", self._claim, name=props.name)
        if props.backup_groups:
            _check_groups_once(self.node.root, self)

    def _groups_have_jobs(self, scheduled: set[str]) -> list[str]:
        return [
            f"LonghornVolumeProps.backup_groups: volume {self.props.name!r} is in group {group!r} but no "
            f"LonghornRecurringJob runs for that group, so it would never be backed up; add a "
            f"LonghornRecurringJob with groups=({group!r},) or fix the group name"
            for group in self.props.backup_groups
            if group not in scheduled
        ]

    @property
    def claim_name(self) -> str:
        """Name of the PersistentVolumeClaim."""
        return self.props.name

    @property
    def single_writer(self) -> bool:
        """True when only one node can mount it at a time, so rollouts must not overlap pods."""
        return self.props.access_mode in (AccessMode.READ_WRITE_ONCE, AccessMode.READ_WRITE_ONCE_POD)

    def mount(
        self, container: kplus.Container, path: str, *, sub_path: str | None = None, read_only: bool = False
    ) -> None:
        """Mount the claim (or one folder of it) at ``path`` in ``container``."""
        container.mount(path, self._volume, sub_path=sub_path, read_only=read_only)


# On a tree's root: the backed-up volumes whose groups the tree's one check looks for.
_BACKED_UP = "_homelab_ai_backed_up_volumes"


def _check_groups_once(root: Construct, volume: LonghornVolume) -> None:
    """One backup-group check per construct tree, walking it once for all volumes.

    A check per volume walked the whole tree per volume (``find_all`` hands every construct across
    jsii): volumes x tree size, quadratic in the apps, like the LoadBalancer check was (bench/README.md).
    """
    volumes: list[LonghornVolume] | None = getattr(root, _BACKED_UP, None)
    if volumes is None:
        volumes = []
        setattr(root, _BACKED_UP, volumes)
        root.node.add_validation(Validation(lambda: _unscheduled_groups(root, volumes)))
    volumes.append(volume)


def _unscheduled_groups(root: Construct, volumes: list[LonghornVolume]) -> list[str]:
    from homelab_ai.cluster.longhorn.recurring_job import LonghornRecurringJob

    scheduled = {group for c in root.node.find_all() if isinstance(c, LonghornRecurringJob) for group in c.groups}
    return [message for volume in volumes for message in volume._groups_have_jobs(scheduled)]
