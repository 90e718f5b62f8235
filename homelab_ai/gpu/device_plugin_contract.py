"""The NVIDIA device plugin chart's contract: the chart values and the time-slicing config keys we set.

Read from NVIDIA/k8s-device-plugin at tag v0.20.0 (deployments/helm/nvidia-device-plugin and
api/config/v1); ``changed`` compares with v0.17.1, the previous pin.
"""

from __future__ import annotations

from homelab_ai.base.contract import AppContract, Knob, KnobKind, Source

CHART_VERSION = "0.20.0"
CHART_REPOSITORY_URL = "https://nvidia.github.io/k8s-device-plugin"

_REPO = "NVIDIA/k8s-device-plugin"
_TAG = f"v{CHART_VERSION}"
_VALUES = "deployments/helm/nvidia-device-plugin/values.yaml"


def _src(path: str, lines: str) -> Source:
    return Source(repo=_REPO, path=path, ref=_TAG, lines=lines)


def _value(name: str, lines: str, meaning: str, changed: str = "") -> Knob:
    return Knob(kind=KnobKind.CHART_VALUE, name=name, meaning=meaning, source=_src(_VALUES, lines), changed=changed)


DEVICE_PLUGIN_CONTRACT = AppContract(
    app="NVIDIA device plugin (Helm chart)",
    version=CHART_VERSION,
    image=None,
    previous_version="0.17.1",
    image_source=_src("deployments/helm/nvidia-device-plugin/Chart.yaml", "L5-6"),
    knobs=(
        _value(
            "config.name",
            "L20-22",
            "the ConfigMap holding the time-slicing config",
            changed="config.fallbackStrategies (L28, default [named, single]) is new; unset here",
        ),
        _value("config.default", "L25-26", "the key of that ConfigMap the plugin uses"),
        _value("podAnnotations", "L58", "the config's checksum, so a new replica count rolls the plugin"),
        _value("runtimeClassName", "L101", "run the plugin itself with the nvidia runtime"),
        _value("nodeSelector", "L63", "where the plugin runs (the chart's default affinity otherwise)"),
        Knob(
            kind=KnobKind.CHART_VALUE,
            name="version",
            meaning="config file format v1",
            source=_src("api/config/v1/config.go", "L35"),
        ),
        Knob(
            kind=KnobKind.CHART_VALUE,
            name="flags.migStrategy",
            meaning="none: whole GPUs, no MIG",
            source=_src("api/config/v1/flags.go", "L60"),
        ),
        Knob(
            kind=KnobKind.CHART_VALUE,
            name="sharing.timeSlicing.renameByDefault",
            meaning="false: slices stay nvidia.com/gpu",
            source=_src("api/config/v1/replicas.go", "L31"),
        ),
        Knob(
            kind=KnobKind.CHART_VALUE,
            name="sharing.timeSlicing.failRequestsGreaterThanOne",
            meaning="true: a pod asking for two slices fails instead of getting one card twice",
            source=_src("api/config/v1/replicas.go", "L32"),
            changed="now a *bool (unset means true for MPS only); set explicitly, so no change",
        ),
        Knob(
            kind=KnobKind.CHART_VALUE,
            name="sharing.timeSlicing.resources.name",
            meaning="nvidia.com/gpu",
            source=_src("api/config/v1/replicas.go", "L82"),
        ),
        Knob(
            kind=KnobKind.CHART_VALUE,
            name="sharing.timeSlicing.resources.replicas",
            meaning="slices per card",
            source=_src("api/config/v1/replicas.go", "L85"),
        ),
    ),
)
