"""LonghornVolume: a PersistentVolumeClaim on Longhorn block storage."""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.plus import kplus
from homelab_ai.validators import dns1123_label, dns1123_subdomain, positive
from homelab_ai.values import AccessMode


@attrs.frozen(kw_only=True)
class LonghornVolumeProps:
    """A named claim of ``size_gib`` GiB; ReadWriteOnce because Longhorn volumes are block devices."""

    name: str = attrs.field(validator=dns1123_label)
    size_gib: int = attrs.field(validator=[attrs.validators.instance_of(int), positive])
    access_mode: AccessMode = attrs.field(
        default=AccessMode.READ_WRITE_ONCE, validator=attrs.validators.instance_of(AccessMode)
    )
    storage_class: str = attrs.field(default="longhorn", validator=dns1123_subdomain)
    purpose: str = ""


class LonghornVolume(Construct):
    """A PVC that workloads mount by calling :meth:`mount`; its name is the spec's claim name."""

    def __init__(self, scope: Construct, id: str, props: LonghornVolumeProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self._claim = kplus.PersistentVolumeClaim(
            self,
            "Claim",
            metadata=cdk8s.ApiObjectMetadata(name=props.name),
            storage=cdk8s.Size.gibibytes(props.size_gib),
            storage_class_name=props.storage_class,
            access_modes=[kplus.PersistentVolumeAccessMode[props.access_mode.name]],
            volume_mode=kplus.PersistentVolumeMode.FILE_SYSTEM,
        )
        self._volume = kplus.Volume.from_persistent_volume_claim(self, "Volume", self._claim, name=props.name)

    @property
    def claim_name(self) -> str:
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
