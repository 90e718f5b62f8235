"""SharedGpu: the device plugin's time-slicing config, in the plugin's namespace."""

from __future__ import annotations

import pytest
import yaml

from homelab_ai import HomelabConfigError, SharedGpu, SharedGpuProps
from tests.factories import charts
from tests.helpers import synth


def test_config_map_goes_to_device_plugin_namespace_not_ai():
    app, infra, _ = charts()
    SharedGpu(infra, "Gpu", SharedGpuProps(card="X", vram_gib=24))
    cm = synth(app)[("ConfigMap", "nvidia-time-slicing")]
    assert cm["metadata"]["namespace"] == "nvidia-device-plugin"


def test_device_plugin_namespace_is_settable_and_created():
    app, infra, _ = charts()
    SharedGpu(
        infra,
        "Gpu",
        SharedGpuProps(card="X", vram_gib=24, device_plugin_namespace="kube-system", create_namespace=False),
    )
    objects = synth(app)
    assert objects[("ConfigMap", "nvidia-time-slicing")]["metadata"]["namespace"] == "kube-system"
    assert ("Namespace", "kube-system") not in objects


def test_config_has_time_slicing_replicas_for_nvidia_gpu():
    app, infra, _ = charts()
    SharedGpu(infra, "Gpu", SharedGpuProps(card="X", vram_gib=24, replicas=4))
    config = yaml.safe_load(synth(app)[("ConfigMap", "nvidia-time-slicing")]["data"]["any"])
    assert config["version"] == "v1"
    assert config["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": 4}]
    assert config["sharing"]["timeSlicing"]["failRequestsGreaterThanOne"] is True


@pytest.mark.parametrize("replicas", [0, -1])
def test_refuses_non_positive_replicas(replicas):
    with pytest.raises(HomelabConfigError, match=r"SharedGpuProps\.replicas"):
        SharedGpuProps(card="X", vram_gib=24, replicas=replicas)


def test_refuses_zero_vram():
    with pytest.raises(HomelabConfigError, match=r"SharedGpuProps\.vram_gib"):
        SharedGpuProps(card="X", vram_gib=0)
