"""The NVIDIA device plugin HelmRelease uses the SharedGpu's ConfigMap, and rolls when it changes."""

from __future__ import annotations

import pytest
import yaml

from homelab_ai import (
    HomelabConfigError,
    NvidiaDevicePlugin,
    NvidiaDevicePluginProps,
    NvidiaRuntimeClass,
    NvidiaRuntimeClassProps,
    SharedGpu,
    SharedGpuProps,
)
from homelab_ai.synth.dist import collect_problems
from tests.factories import charts
from tests.helpers import synth


def _plugin_objects(gpu_props: SharedGpuProps, **plugin) -> dict:
    app, infra, _ = charts()
    gpu = SharedGpu(infra, "Gpu", gpu_props)
    NvidiaDevicePlugin(infra, "Plugin", NvidiaDevicePluginProps(gpu=gpu, **plugin))
    return synth(app)


def _release(gpu_props: SharedGpuProps, **plugin) -> dict:
    return _plugin_objects(gpu_props, **plugin)[("HelmRelease", "nvidia-device-plugin")]


def test_release_values_name_the_time_slicing_configmap_and_its_key(homelab_objects):
    release = homelab_objects[("HelmRelease", "nvidia-device-plugin")]
    config_map = homelab_objects[("ConfigMap", "nvidia-time-slicing")]
    values = release["spec"]["values"]
    assert values["config"] == {"name": "nvidia-time-slicing", "default": "any"}
    assert list(config_map["data"]) == [values["config"]["default"]]
    assert release["metadata"]["namespace"] == config_map["metadata"]["namespace"] == "nvidia-device-plugin"


def test_release_installs_a_pinned_chart_from_its_helm_repository(homelab_objects):
    release = homelab_objects[("HelmRelease", "nvidia-device-plugin")]
    repository = homelab_objects[("HelmRepository", "nvidia-device-plugin")]
    chart = release["spec"]["chart"]["spec"]
    assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    assert (chart["chart"], chart["version"]) == ("nvidia-device-plugin", "0.20.0")
    assert chart["sourceRef"] == {
        "kind": "HelmRepository",
        "name": "nvidia-device-plugin",
        "namespace": "nvidia-device-plugin",
    }
    assert repository["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert repository["metadata"]["namespace"] == "nvidia-device-plugin"
    assert repository["spec"] == {"url": "https://nvidia.github.io/k8s-device-plugin", "interval": "1h"}


def test_a_config_change_rolls_the_plugin_and_an_unchanged_one_does_not():
    def checksum(**gpu) -> str:
        props = SharedGpuProps(card="X", vram_gib=24, **gpu)
        return _release(props)["spec"]["values"]["podAnnotations"]["checksum/config"]

    unchanged = {"replicas": 4, "rename_by_default": False, "config_key": "any"}
    before = checksum(**unchanged)
    assert checksum(**unchanged) == before  # a second, separate build of the same props
    assert checksum(**{**unchanged, "replicas": 5}) != before
    assert checksum(**{**unchanged, "rename_by_default": True}) != before
    assert checksum(**{**unchanged, "config_key": "homelab"}) != before


def test_checksum_is_of_the_configmap_that_is_written(homelab_objects):
    import hashlib

    config_map = homelab_objects[("ConfigMap", "nvidia-time-slicing")]
    ((key, data),) = config_map["data"].items()
    expected = hashlib.sha256(f"{key}\n{data}".encode()).hexdigest()
    values = homelab_objects[("HelmRelease", "nvidia-device-plugin")]["spec"]["values"]
    assert values["podAnnotations"] == {"checksum/config": expected}


def test_the_plugin_runs_with_the_nvidia_runtime_class_in_the_spec_chart(homelab_objects):
    values = homelab_objects[("HelmRelease", "nvidia-device-plugin")]["spec"]["values"]
    assert values["runtimeClassName"] == "nvidia"


def test_a_renamed_configmap_is_what_the_plugin_loads():
    props = SharedGpuProps(card="X", vram_gib=24, config_map_name="gpu-sharing", config_key="rtx")
    objects = _plugin_objects(props)
    values = objects[("HelmRelease", "nvidia-device-plugin")]["spec"]["values"]
    assert values["config"] == {"name": "gpu-sharing", "default": "rtx"}
    assert yaml.safe_load(objects[("ConfigMap", "gpu-sharing")]["data"]["rtx"])["version"] == "v1"


def test_node_selector_and_extra_values_reach_the_chart():
    release = _release(
        SharedGpuProps(card="X", vram_gib=24),
        node_selector={"nvidia.com/gpu.present": "true"},
        extra_values={"gfd": {"enabled": True}},
    )
    values = release["spec"]["values"]
    assert values["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert values["gfd"] == {"enabled": True}
    assert "runtimeClassName" not in values


@pytest.fixture(scope="module")
def gpu() -> SharedGpu:
    """A card for props that are refused before anything joins the tree (the tests only read it)."""
    _, infra, _ = charts()
    return SharedGpu(infra, "Gpu", SharedGpuProps(card="X", vram_gib=24))


@pytest.mark.parametrize("key", ["config", "podAnnotations"])
def test_extra_values_cannot_cut_the_link_to_the_shared_gpu(gpu, key):
    with pytest.raises(HomelabConfigError, match=rf"NvidiaDevicePluginProps.extra_values: sets '{key}'"):
        NvidiaDevicePluginProps(gpu=gpu, extra_values={key: {}})


@pytest.mark.parametrize("version", ["0.17", ">=0.17.0", "latest", "v0.17.1"])
def test_chart_version_must_be_pinned(gpu, version):
    with pytest.raises(HomelabConfigError, match=r"NvidiaDevicePluginProps.chart_version"):
        NvidiaDevicePluginProps(gpu=gpu, chart_version=version)


def test_runtime_class_nvidia_is_cluster_scoped_with_the_nvidia_handler(homelab_objects, homelab_files):
    runtime_class = homelab_objects[("RuntimeClass", "nvidia")]
    assert runtime_class["apiVersion"] == "node.k8s.io/v1"
    assert runtime_class["handler"] == "nvidia"
    assert "namespace" not in runtime_class["metadata"]
    assert "infrastructure/runtimeclass-nvidia.yaml" in {f.path for f in homelab_files}


def test_gpu_pods_name_the_runtime_class_the_chart_emits(homelab_objects):
    names = {name for kind, name in homelab_objects if kind == "RuntimeClass"}
    for key in (("StatefulSet", "ollama"), ("Deployment", "stable-diffusion")):
        assert homelab_objects[key]["spec"]["template"]["spec"]["runtimeClassName"] in names


def test_runtime_class_in_a_namespaced_chart_is_refused():
    app, _, ai = charts()
    NvidiaRuntimeClass(ai, "Runtime")
    assert collect_problems(app) == [
        "RuntimeClass 'nvidia' is cluster-scoped but chart 'ai' stamps namespace 'ai' on it. "
        "Fix: create NvidiaRuntimeClass in a chart without a namespace"
    ]


def test_runtime_class_may_select_gpu_nodes():
    app, infra, _ = charts()
    NvidiaRuntimeClass(infra, "Runtime", NvidiaRuntimeClassProps(node_selector={"gpu": "true"}))
    assert synth(app)[("RuntimeClass", "nvidia")]["scheduling"] == {"nodeSelector": {"gpu": "true"}}


def test_no_runtime_class_unless_the_chart_asks():
    app, infra, _ = charts()
    SharedGpu(infra, "Gpu", SharedGpuProps(card="X", vram_gib=24))
    assert not [key for key in synth(app) if key[0] == "RuntimeClass"]
