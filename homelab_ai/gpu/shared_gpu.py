"""SharedGpu: one physical GPU (or a pool of identical ones) shared by time-slicing.

The NVIDIA device plugin's time-slicing ConfigMap is generated from this object, so the number of
slices is written once, and every GpuApp on the card registers here. The card's VRAM
budget (homelab_ai.gpu.budget) is checked at synth time: errors refuse, warnings are printed.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import attrs
import cdk8s
import yaml
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plain_synth import attach
from homelab_ai.base.plus import kplus
from homelab_ai.base.validators import dns1123_label, dns1123_subdomain, matches, positive, typed_fields, whole_number
from homelab_ai.gpu.budget import BudgetApp, GpuBudget
from homelab_ai.gpu.vram import IdleUnload, VramEnvelope


class GpuApp(Protocol):
    """What the card needs to know of an app that holds a slice of it, e.g. a GpuTimeSlicedApp."""

    @property
    def name(self) -> str:
        """The app's name, as the budget table shows it."""

    @property
    def vram(self) -> VramEnvelope:
        """The VRAM it holds when idle and busy, GiB."""

    @property
    def idle_unload(self) -> IdleUnload | None:
        """What frees its VRAM when idle, or None."""

    @property
    def slices(self) -> int:
        """Time-slicing slices it holds (1)."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class SharedGpuProps:
    """The card, its VRAM, and how many pods may hold a slice of it at once."""

    card: str = attrs.field(validator=matches(r"\S.*", "name the card, e.g. 'NVIDIA RTX 4090'"))
    """Name of the card, e.g. "NVIDIA GeForce RTX 4090"; a known card's VRAM is checked. Required."""
    vram_gib: float = attrs.field(validator=positive)
    """VRAM of the card, GiB: the budget's ceiling. Required."""
    replicas: int = attrs.field(default=4, validator=whole_number(1))
    """Time-slicing replicas: how many pods may hold a slice of the card at once. Default 4."""
    resource_name: str = attrs.field(
        default="nvidia.com/gpu",
        validator=matches(r"[a-z0-9.-]+/[a-z0-9.-]+", "use an extended resource name such as 'nvidia.com/gpu'"),
    )
    """Extended resource the device plugin advertises. Default "nvidia.com/gpu"."""
    rename_by_default: bool = False
    """Advertise the slices as <resource_name>.shared. Default False."""
    fail_requests_greater_than_one: bool = True
    """The plugin refuses a pod asking for more than one slice. Default True."""
    device_plugin_namespace: str = attrs.field(default="nvidia-device-plugin", validator=dns1123_label)
    """Namespace of the device plugin and its ConfigMap. Default "nvidia-device-plugin"."""
    config_map_name: str = attrs.field(default="nvidia-time-slicing", validator=dns1123_subdomain)
    """Name of the time-slicing ConfigMap. Default "nvidia-time-slicing"."""
    config_key: str = attrs.field(default="any", validator=dns1123_subdomain)
    """Key of the config in the ConfigMap, the plugin's default config. Default "any"."""
    create_namespace: bool = True
    """Create the device plugin's namespace as well. Default True."""

    @property
    def scheduled_resource(self) -> str:
        """The resource pods request: renamed to ``<name>.shared`` when ``rename_by_default`` is on."""
        return f"{self.resource_name}.shared" if self.rename_by_default else self.resource_name


class SharedGpu(Construct):
    """Emits the time-slicing config into the device plugin's namespace; keep it in a chart with no namespace."""

    def __init__(self, scope: Construct, id: str, props: SharedGpuProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self._apps: list[GpuApp] = []
        self._arbiter: tuple[str, frozenset[str]] | None = None
        attach(self)  # a plain `app.synth()` prints the budget's warnings too
        if props.create_namespace:
            kplus.Namespace(self, "Namespace", metadata=cdk8s.ApiObjectMetadata(name=props.device_plugin_namespace))
        self.config_map = kplus.ConfigMap(
            self,
            "TimeSlicing",
            metadata=cdk8s.ApiObjectMetadata(
                name=props.config_map_name,
                namespace=props.device_plugin_namespace,
                labels={"app.kubernetes.io/managed-by": "homelab-ai"},
            ),
            data={props.config_key: self.device_plugin_config()},
        )
        self.node.add_validation(Validation(lambda: [f"GPU budget: {m}" for m in self.budget().errors]))

    def device_plugin_config(self) -> str:
        """The device plugin's config file (``version: v1``) with time-slicing for this card."""
        config = {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "timeSlicing": {
                    "renameByDefault": self.props.rename_by_default,
                    "failRequestsGreaterThanOne": self.props.fail_requests_greater_than_one,
                    "resources": [{"name": self.props.resource_name, "replicas": self.props.replicas}],
                }
            },
        }
        return yaml.safe_dump(config, sort_keys=False)

    @property
    def config_checksum(self) -> str:
        """sha256 of the ConfigMap's data: the device plugin's pods carry it, so a config change rolls them."""
        data = f"{self.props.config_key}\n{self.device_plugin_config()}"
        return hashlib.sha256(data.encode()).hexdigest()

    def budget(self) -> GpuBudget:
        """The card's VRAM table and verdicts, from the same numbers the ConfigMap is written from."""
        return GpuBudget(
            card=self.props.card,
            vram_gib=self.props.vram_gib,
            replicas=self.replicas,
            apps=tuple(
                BudgetApp(name=a.name, vram=a.vram, idle_unload=a.idle_unload, slices=a.slices) for a in self._apps
            ),
            arbiter=self._arbiter[0] if self._arbiter else None,
            arbitrated=self._arbiter[1] if self._arbiter else frozenset(),
        )

    def synth_warnings(self) -> list[str]:
        """Over-booking and VRAM/card mismatches: printed by the synth, refused by ``synth --strict``."""
        return [f"GPU budget: {m}" for m in self.budget().warnings]

    def attach(self, app: GpuApp) -> None:
        """Called by each GpuApp on this card."""
        self._apps.append(app)

    def arbitrate(self, arbiter: str, apps: tuple[str, ...]) -> None:
        """Called by the VRAM arbiter that admits work for ``apps`` on this card: the budget says so."""
        if self._arbiter is not None and self._arbiter[0] != arbiter:
            raise HomelabConfigError(
                f"SharedGpu({self.props.card}).arbitrate",
                f"the card already has the VRAM arbiter {self._arbiter[0]!r}",
                "put one arbiter in front of each card, listing every app that shares it",
            )
        self._arbiter = (arbiter, frozenset(apps))

    @property
    def arbiter(self) -> str | None:
        """The name of the VRAM arbiter in front of this card, if any."""
        return self._arbiter[0] if self._arbiter else None

    @property
    def apps(self) -> tuple[GpuApp, ...]:
        """The GPU apps registered on this card, in the order they attached."""
        return tuple(self._apps)

    @property
    def replicas(self) -> int:
        """Time-slicing replicas: how many pods may hold a slice at once."""
        return self.props.replicas
