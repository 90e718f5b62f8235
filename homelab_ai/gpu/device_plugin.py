"""NvidiaDevicePlugin: the NVIDIA device plugin as a Flux HelmRelease that uses a SharedGpu's config.

The time-slicing ConfigMap does nothing unless the plugin is told its name and default key, and a
running plugin does not reread an edited ConfigMap: the plugin's pods carry a checksum of the
config (``podAnnotations``), so a new replica count changes the pod template and rolls them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import cdk8s
from constructs import Construct

from homelab_ai._crds.io.fluxcd.toolkit import helm
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import (
    as_dict,
    dns1123_label,
    dns1123_subdomain,
    matches,
    positive_duration,
    typed_fields,
)
from homelab_ai.base.values import go_duration
from homelab_ai.gpu.device_plugin_contract import CHART_REPOSITORY_URL, CHART_VERSION
from homelab_ai.gpu.shared_gpu import SharedGpu

CHECKSUM_ANNOTATION = "checksum/config"
# Values this construct owns: setting them in extra_values would break the link to the SharedGpu.
_OWNED_VALUES = ("config", "podAnnotations")


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class NvidiaDevicePluginProps:
    """Which card's config to load, and which pinned chart release to install from where.

    ``runtime_class_name`` runs the plugin itself with the NVIDIA runtime (needed when it is not
    containerd's default, e.g. k3s). Without Node Feature Discovery, the chart's default affinity
    schedules the plugin on nodes labelled ``nvidia.com/gpu.present=true``.
    """

    gpu: SharedGpu
    """The SharedGpu whose time-slicing config the plugin loads. Required."""
    chart_version: str = attrs.field(
        default=CHART_VERSION,
        validator=matches(r"\d+\.\d+\.\d+", "pin an exact chart version such as '0.20.0' (no ranges)"),
    )
    """Exact version of the nvidia-device-plugin chart (no ranges). Default "0.17.1"."""
    repository_url: str = attrs.field(
        default=CHART_REPOSITORY_URL,
        validator=matches(r"(https|oci)://\S+", "give the chart repository's https:// (or oci://) URL"),
    )
    """Chart repository, https:// or oci://. Default NVIDIA's https://nvidia.github.io/k8s-device-plugin."""
    chart: str = attrs.field(default="nvidia-device-plugin", validator=dns1123_label)
    """Name of the chart. Default "nvidia-device-plugin"."""
    release_name: str = attrs.field(default="nvidia-device-plugin", validator=dns1123_label)
    """Name of the HelmRelease. Default "nvidia-device-plugin"."""
    repository_name: str = attrs.field(default="nvidia-device-plugin", validator=dns1123_subdomain)
    """Name of the HelmRepository. Default "nvidia-device-plugin"."""
    interval: timedelta = attrs.field(default=timedelta(hours=1), validator=positive_duration)
    """How often Flux reconciles the repository and the release. Default 1 hour."""
    runtime_class_name: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_subdomain))
    """RuntimeClass of the plugin's own pods, e.g. on k3s. Default None: containerd's default."""
    node_selector: dict[str, str] = attrs.field(factory=dict, converter=as_dict)
    """Node labels the plugin's pods need. Default: none (the chart's affinity)."""
    extra_values: dict[str, Any] = attrs.field(factory=dict, converter=as_dict)
    """More chart values; not config or podAnnotations (made from the SharedGpu). Default: none."""

    @extra_values.validator
    def _not_owned(self, attribute: attrs.Attribute[dict[str, Any]], value: dict[str, Any]) -> None:
        for key in _OWNED_VALUES:
            if key in value:
                raise HomelabConfigError(
                    "NvidiaDevicePluginProps.extra_values",
                    f"sets {key!r}, which is generated from the SharedGpu",
                    "change the SharedGpu (replicas, config_map_name, config_key) instead",
                )


class NvidiaDevicePlugin(Construct):
    """A HelmRepository and a HelmRelease in the SharedGpu's device-plugin namespace."""

    def __init__(self, scope: Construct, id: str, props: NvidiaDevicePluginProps) -> None:
        super().__init__(scope, id)
        self.props = props
        gpu = props.gpu.props
        namespace = gpu.device_plugin_namespace
        labels = {"app.kubernetes.io/managed-by": "homelab-ai"}
        interval = go_duration(props.interval)
        self.repository = cdk8s.ApiObject(
            self,
            "Repository",
            api_version="source.toolkit.fluxcd.io/v1",
            kind="HelmRepository",
            metadata=cdk8s.ApiObjectMetadata(name=props.repository_name, namespace=namespace, labels=labels),
        )
        self.repository.add_json_patch(
            cdk8s.JsonPatch.add("/spec", {"url": props.repository_url, "interval": interval})
        )
        self.release = helm.HelmRelease(
            self,
            "Release",
            metadata=cdk8s.ApiObjectMetadata(name=props.release_name, namespace=namespace, labels=labels),
            spec=helm.HelmReleaseSpec(
                interval=interval,
                chart=helm.HelmReleaseSpecChart(
                    spec=helm.HelmReleaseSpecChartSpec(
                        chart=props.chart,
                        version=props.chart_version,
                        source_ref=helm.HelmReleaseSpecChartSpecSourceRef(
                            kind=helm.HelmReleaseSpecChartSpecSourceRefKind.HELM_REPOSITORY,
                            name=props.repository_name,
                            namespace=namespace,
                        ),
                    )
                ),
                install=helm.HelmReleaseSpecInstall(remediation=helm.HelmReleaseSpecInstallRemediation(retries=3)),
                upgrade=helm.HelmReleaseSpecUpgrade(remediation=helm.HelmReleaseSpecUpgradeRemediation(retries=3)),
                values=self.values(),
            ),
        )

    def values(self) -> dict[str, Any]:
        """The chart values: the SharedGpu's ConfigMap and key, and its checksum on the plugin's pods."""
        gpu = self.props.gpu
        values: dict[str, Any] = {
            "config": {"name": gpu.props.config_map_name, "default": gpu.props.config_key},
            "podAnnotations": {CHECKSUM_ANNOTATION: gpu.config_checksum},
        }
        if self.props.runtime_class_name:
            values["runtimeClassName"] = self.props.runtime_class_name
        if self.props.node_selector:
            values["nodeSelector"] = dict(self.props.node_selector)
        values.update(self.props.extra_values)
        return values
