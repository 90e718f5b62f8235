"""The spec's `ai` namespace, as apps/ synthesizes it: every service, IP, port, volume and secret."""

from __future__ import annotations

import re

import pytest

from homelab_ai.services.contract import CONTRACTS
from tests.helpers import container, env_of

GPU_WORKLOADS = [("StatefulSet", "ollama"), ("Deployment", "stable-diffusion")]

# Pinned = the same bits on every pull: a digest, or a tag that names a release (x.y.z, with any
# suffix such as -alpine3.21) or a dated build (YYYYMMDD[hhmmss]). Branch- and channel-like tags
# (latest, full, main, nightly, stable, 3.12-alpine) move and are not pins.
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_RELEASE_TAG = re.compile(r"(^|[^0-9.])v?[0-9]+\.[0-9]+\.[0-9]+([^0-9.]|$)")
_DATED_TAG = re.compile(r"(^|[^0-9])(19|20)[0-9]{6}([0-9]{4}([0-9]{2})?)?([^0-9]|$)")


# Images whose floating tag is a known, documented gap (the contract says why; the docs list it).
DECLARED_PIN_GAPS = {c.image.reference for c in CONTRACTS if c.pin_gap and c.image is not None}


def is_pinned(image: str) -> bool:
    """A digest, or a tag naming a version or a dated build."""
    if _DIGEST.search(image):
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag at all (a registry port is not a tag)
        return False
    return bool(_RELEASE_TAG.search(tag) or _DATED_TAG.search(tag))


@pytest.mark.parametrize(
    "image",
    [
        "ollama/ollama:0.6.8",
        "ghcr.io/open-webui/open-webui:v0.6.5",
        "python:3.12.10-alpine3.21",
        "universonic/stable-diffusion-webui:nightly-20240613120000-full",
        "aidockorg/stable-diffusion-webui-cuda:v1.10.1",
        f"universonic/stable-diffusion-webui:full@sha256:{'a' * 64}",
        "registry.local:5000/team/app:1.2.3",
    ],
)
def test_a_version_tag_or_a_digest_is_a_pin(image):
    assert is_pinned(image)


@pytest.mark.parametrize(
    "image",
    [
        "universonic/stable-diffusion-webui:full",
        "ollama/ollama:latest",
        "ollama/ollama",
        "example/app:main",
        "example/app:nightly",
        "example/app:stable",
        "example/app:master",
        "python:3.12-alpine",
        "python:3",
        "registry.local:5000/team/app",
        f"example/app:latest@sha256:{'a' * 63}",
    ],
)
def test_a_floating_tag_is_not_a_pin(image):
    assert not is_pinned(image)


def test_the_only_floating_image_shipped_is_the_declared_automatic1111_gap(homelab_objects):
    images = {
        c["image"]
        for obj in homelab_objects.values()
        if obj["kind"] in ("Deployment", "StatefulSet", "Job")
        for c in obj["spec"]["template"]["spec"]["containers"]
        + obj["spec"]["template"]["spec"].get("initContainers", [])
    }
    assert {image for image in images if not is_pinned(image)} == DECLARED_PIN_GAPS
    assert {"universonic/stable-diffusion-webui:full"} == DECLARED_PIN_GAPS


def test_ollama_is_statefulset_named_ollama_so_its_pod_is_ollama_0(homelab_objects):
    sts = homelab_objects[("StatefulSet", "ollama")]
    assert sts["metadata"]["namespace"] == "ai"
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["serviceName"] == "ollama"


def test_ollama_service_is_clusterip_on_11434_not_headless(homelab_objects):
    svc = homelab_objects[("Service", "ollama")]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"].get("clusterIP") != "None"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 11434, "targetPort": 11434}]
    assert "annotations" not in svc["metadata"]


@pytest.mark.parametrize(("name", "ip"), [("open-webui", "10.10.2.25"), ("stable-diffusion", "10.10.2.26")])
def test_web_uis_are_on_their_fixed_ips_port_80(homelab_objects, name, ip):
    svc = homelab_objects[("Service", name)]
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"]["metallb.io/loadBalancerIPs"] == ip
    assert svc["spec"]["ports"][0]["port"] == 80


@pytest.mark.parametrize(
    ("claim", "size", "storage_class"),
    [
        ("ollama-models", "100Gi", "longhorn"),
        # User data is on the Retain class: a deleted claim leaves the Longhorn volume behind.
        ("open-webui-data", "10Gi", "longhorn-retain"),
        ("sd-data", "150Gi", "longhorn-retain"),
    ],
)
def test_volumes_are_longhorn_claims_of_the_spec_sizes(homelab_objects, claim, size, storage_class):
    pvc = homelab_objects[("PersistentVolumeClaim", claim)]
    assert pvc["spec"]["storageClassName"] == storage_class
    assert pvc["spec"]["resources"]["requests"]["storage"] == size


def test_ollama_models_volume_is_where_ollama_keeps_models(homelab_objects):
    sts = homelab_objects[("StatefulSet", "ollama")]
    mounts = container(sts)["volumeMounts"]
    # Not under /root (mode 700): the server runs as UID 10001.
    assert {"mountPath": "/models", "name": "ollama-models", "readOnly": False} in mounts
    assert env_of(sts)["OLLAMA_MODELS"]["value"] == "/models/models"


def test_ollama_idle_unload_and_concurrency_settings(homelab_objects):
    env = env_of(homelab_objects[("StatefulSet", "ollama")])
    assert env["OLLAMA_KEEP_ALIVE"]["value"] == "5m"
    assert env["OLLAMA_MAX_LOADED_MODELS"]["value"] == "1"
    assert env["OLLAMA_NUM_PARALLEL"]["value"] == "1"


def test_open_webui_talks_to_ollama_through_the_vram_arbiter_by_cluster_url(homelab_objects):
    env = env_of(homelab_objects[("Deployment", "open-webui")])
    assert env["OLLAMA_BASE_URL"]["value"] == "http://vram-arbiter.ai.svc.cluster.local:11434"


def test_open_webui_secret_key_comes_from_sops_secret(homelab_objects):
    env = env_of(homelab_objects[("Deployment", "open-webui")])
    assert env["WEBUI_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "open-webui-secret",
        "key": "WEBUI_SECRET_KEY",
    }


def test_open_webui_generates_images_through_the_vram_arbiter_with_stable_diffusions_auth(homelab_objects):
    env = env_of(homelab_objects[("Deployment", "open-webui")])
    assert env["ENABLE_IMAGE_GENERATION"]["value"] == "true"
    assert env["IMAGE_GENERATION_ENGINE"]["value"] == "automatic1111"
    # Through the VRAM arbiter, which reloads an unloaded checkpoint before it forwards a generation
    # (without an arbiter, through the idle unloader's gate: tests/test_sd_idle_unloader_wiring.py).
    assert env["AUTOMATIC1111_BASE_URL"]["value"] == "http://vram-arbiter.ai.svc.cluster.local:7860"
    assert env["AUTOMATIC1111_API_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "stable-diffusion-secret",
        "key": "password",
    }
    assert env["AUTOMATIC1111_API_AUTH"]["value"] == "admin:$(AUTOMATIC1111_API_PASSWORD)"


def test_open_webui_data_directory_is_on_its_volume(homelab_objects):
    dep = homelab_objects[("Deployment", "open-webui")]
    assert env_of(dep)["DATA_DIR"]["value"] == "/app/backend/data"
    assert {"mountPath": "/app/backend/data", "name": "open-webui-data", "readOnly": False} in container(dep)[
        "volumeMounts"
    ]


def test_stable_diffusion_is_deployment_with_api_and_auth_from_secret(homelab_objects):
    dep = homelab_objects[("Deployment", "stable-diffusion")]
    args = container(dep)["args"]
    assert "--api" in args
    assert args[args.index("--api-auth") + 1] == "admin:$(SD_WEBUI_PASSWORD)"
    assert args[args.index("--gradio-auth") + 1] == "admin:$(SD_WEBUI_PASSWORD)"
    assert env_of(dep)["SD_WEBUI_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "stable-diffusion-secret"


def test_stable_diffusion_models_folder_is_on_sd_data(homelab_objects):
    dep = homelab_objects[("Deployment", "stable-diffusion")]
    mounts = {m["mountPath"]: m for m in container(dep)["volumeMounts"]}
    models = mounts["/app/stable-diffusion-webui/models"]
    assert (models["name"], models["subPath"]) == ("sd-data", "models")
    assert mounts["/app/stable-diffusion-webui/outputs"]["name"] == "sd-data"


@pytest.mark.parametrize("key", GPU_WORKLOADS)
def test_each_gpu_workload_gets_exactly_one_gpu_in_yaml(homelab_objects, key):
    res = container(homelab_objects[key])["resources"]
    assert res["limits"]["nvidia.com/gpu"] == 1
    assert res["requests"]["nvidia.com/gpu"] == 1
    assert homelab_objects[key]["spec"]["template"]["spec"]["runtimeClassName"] == "nvidia"


def test_open_webui_gets_no_gpu(homelab_objects):
    res = container(homelab_objects[("Deployment", "open-webui")])["resources"]
    assert "nvidia.com/gpu" not in res["limits"]


def test_time_slicing_has_four_replicas_outside_ai_namespace(homelab_objects):
    import yaml

    cm = homelab_objects[("ConfigMap", "nvidia-time-slicing")]
    assert cm["metadata"]["namespace"] == "nvidia-device-plugin"
    assert yaml.safe_load(cm["data"]["any"])["sharing"]["timeSlicing"]["resources"][0]["replicas"] == 4


@pytest.mark.stack
def test_spec_vram_envelopes_are_declared():
    from apps.homelab import stack

    homelab = stack()
    envelopes = {a.name: (a.vram.idle_gib, a.vram.active_min_gib, a.vram.active_max_gib) for a in homelab.gpu.apps}
    assert envelopes == {"ollama": (0, 8, 16), "stable-diffusion": (0, 8, 12)}
    assert homelab.gpu.props.vram_gib == 24


def test_every_container_is_sized_pinned_and_probed(homelab_objects):
    for (kind, name), obj in homelab_objects.items():
        if kind not in ("Deployment", "StatefulSet"):
            continue
        spec = obj["spec"]["template"]["spec"]
        for c in spec["containers"]:
            assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(c), name
        for c in spec["containers"] + spec.get("initContainers", []):
            assert c["imagePullPolicy"] == "IfNotPresent", name
            pinned = is_pinned(c["image"]) or c["image"] in DECLARED_PIN_GAPS
            assert pinned, f"{name}: {c['image']} is not pinned to a version or digest, nor a declared gap"
            assert set(c["resources"]) == {"requests", "limits"}, name
            assert set(c["resources"]["requests"]) >= {"cpu", "memory"}, name
            assert set(c["resources"]["limits"]) >= {"cpu", "memory"}, name


def test_model_loaders_get_far_more_than_cdk8s_plus_default_memory(homelab_objects):
    res = container(homelab_objects[("StatefulSet", "ollama")])["resources"]
    assert int(res["limits"]["memory"].removesuffix("Mi")) >= 16 * 1024


def test_no_object_name_is_chart_prefixed_or_hashed(homelab_objects):
    names = {name for _, name in homelab_objects}
    assert {
        "ollama",
        "open-webui",
        "stable-diffusion",
        "ollama-models",
        "open-webui-data",
        "sd-data",
        "open-webui-secret",
        "stable-diffusion-secret",
        "ai",
        "nvidia-time-slicing",
    } <= names
    assert not [n for n in names if n.startswith("ai-")]
