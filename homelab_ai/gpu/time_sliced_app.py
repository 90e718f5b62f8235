"""GpuTimeSlicedApp: an app that holds exactly one time-sliced slice of a SharedGpu."""

from __future__ import annotations

from datetime import timedelta

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plus import k8s
from homelab_ai.base.validators import dns1123_subdomain, typed_fields
from homelab_ai.cluster.app_workload import AppWorkload, AppWorkloadProps
from homelab_ai.gpu.shared_gpu import SharedGpu
from homelab_ai.gpu.vram import IdleUnload, VramEnvelope


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class GpuTimeSlicedAppProps:
    """The app, the card it shares, its VRAM envelope, and how it frees VRAM when idle.

    ``idle_unload`` may stay None only when the app has the card to itself, or when its envelope
    admits it never frees VRAM (``idle_gib == active_max_gib``): the card's budget checks that.
    """

    app: AppWorkloadProps
    """The app's pod, container and Service. Required."""
    gpu: SharedGpu
    """The SharedGpu it takes a slice of, and whose budget counts it. Required."""
    vram: VramEnvelope
    """VRAM it holds when idle and busy, GiB. Required."""
    idle_unload: IdleUnload | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(IdleUnload))
    )
    """What frees its VRAM when idle (None: alone on the card, or never frees). Default None."""
    runtime_class_name: str = attrs.field(default="nvidia", validator=dns1123_subdomain)
    """RuntimeClass that runs the pod with the NVIDIA runtime. Default "nvidia"."""
    tolerate_gpu_taint: bool = True
    """Tolerate the NoSchedule taint of GPU nodes (key: the resource name). Default True."""
    gpu_count: int = 1
    """Slices requested; must be 1 (a slice is the whole card, shared in time). Default 1."""

    def __attrs_post_init__(self) -> None:
        if self.gpu_count != 1:
            card = self.gpu.props
            raise HomelabConfigError(
                "GpuTimeSlicedAppProps.gpu_count",
                f"asks for {self.gpu_count} slices of {card.card!r}, whose time-slicing makes {card.replicas} "
                f"slices of one whole card: {self.gpu_count} slices would be the same GPU {self.gpu_count} times",
                "time-sliced apps take exactly one slice (a slice is the whole card, shared in time); use gpu_count=1",
            )

    @property
    def idle_timeout(self) -> timedelta | None:
        """How long the app keeps its VRAM after its last job (None: no idle unloading)."""
        return self.idle_unload.timeout if self.idle_unload else None


class GpuTimeSlicedApp(Construct):
    """An AppWorkload plus one ``nvidia.com/gpu`` slice, the NVIDIA runtime class and the GPU toleration."""

    def __init__(self, scope: Construct, id: str, props: GpuTimeSlicedAppProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.app = AppWorkload(self, "App", props.app, uses_gpu=True)
        spec = "/spec/template/spec"
        resource = props.gpu.props.scheduled_resource.replace("~", "~0").replace("/", "~1")
        workload = cdk8s.ApiObject.of(self.app.workload)
        # A plain number is lost in cdk8s-plus's Quantity conversion; a Quantity survives the patch.
        one = k8s.Quantity.from_number(props.gpu_count)
        workload.add_json_patch(
            cdk8s.JsonPatch.add(f"{spec}/containers/0/resources/limits/{resource}", one),
            cdk8s.JsonPatch.add(f"{spec}/containers/0/resources/requests/{resource}", one),
            cdk8s.JsonPatch.add(f"{spec}/runtimeClassName", props.runtime_class_name),
        )
        if props.tolerate_gpu_taint:
            workload.add_json_patch(
                cdk8s.JsonPatch.add(
                    f"{spec}/tolerations",
                    [{"key": props.gpu.props.resource_name, "operator": "Exists", "effect": "NoSchedule"}],
                )
            )
        props.gpu.attach(self)

    @property
    def name(self) -> str:
        """The app's name (the budget table's row)."""
        return self.props.app.name

    @property
    def vram(self) -> VramEnvelope:
        """Its VRAM envelope, for the card's budget."""
        return self.props.vram

    @property
    def idle_unload(self) -> IdleUnload | None:
        """What frees its VRAM when idle, or None."""
        return self.props.idle_unload

    @property
    def slices(self) -> int:
        """Time-slicing slices it requests (1)."""
        return self.props.gpu_count

    @property
    def url(self) -> str:
        """In-cluster URL of its Service."""
        return self.app.url

    @property
    def port(self) -> int:
        """Port of its Service."""
        return self.app.port
