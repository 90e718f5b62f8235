"""The idle-unloader sidecar wired into the Stable Diffusion pod (its behaviour: tests/test_sd_idle_unloader.py)."""

from __future__ import annotations

import hashlib

import pytest

from homelab_ai.services.stable_diffusion.idle_unloader import SCRIPT
from tests.helpers import container

# Wiring into the Stable Diffusion pod --------------------------------------------------------------


def _sidecar(homelab_objects) -> dict:
    return container(homelab_objects[("Deployment", "stable-diffusion")], 1)


def test_sidecar_is_the_second_container_of_the_sd_pod_and_small(homelab_objects):
    sidecar = _sidecar(homelab_objects)
    assert sidecar["name"] == "idle-unloader"
    assert sidecar["image"] == "python:3.13.15-alpine3.24"
    assert sidecar["imagePullPolicy"] == "IfNotPresent"
    assert sidecar["resources"] == {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    }
    assert "nvidia.com/gpu" not in sidecar["resources"]["limits"]
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True
    assert sidecar["securityContext"]["runAsNonRoot"] is True


def test_sidecar_runs_the_script_from_a_configmap_generated_from_the_file(homelab_objects):
    pod = homelab_objects[("Deployment", "stable-diffusion")]["spec"]["template"]
    sidecar = _sidecar(homelab_objects)
    config_map = homelab_objects[("ConfigMap", "stable-diffusion-idle-unloader")]
    assert config_map["metadata"]["namespace"] == "ai"
    assert config_map["data"] == {"sd_idle_unloader.py": SCRIPT.read_text()}
    assert sidecar["command"] == ["python", "/opt/sd-idle-unloader/sd_idle_unloader.py"]
    mount = sidecar["volumeMounts"][0]
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "stable-diffusion-idle-unloader"
    assert (mount["mountPath"], mount["readOnly"]) == ("/opt/sd-idle-unloader", True)


def test_a_new_script_rolls_the_sd_pod(homelab_objects):
    annotations = homelab_objects[("Deployment", "stable-diffusion")]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["homelab-ai/idle-unloader-checksum"] == hashlib.sha256(SCRIPT.read_bytes()).hexdigest()


def test_sidecar_watches_the_web_ui_on_loopback_with_the_sd_timeout(homelab_objects):
    env = {e["name"]: e for e in _sidecar(homelab_objects)["env"]}
    assert env["SD_URL"]["value"] == "http://127.0.0.1:7860"
    assert env["SD_IDLE_TIMEOUT_SECONDS"]["value"] == "600"
    assert env["SD_POLL_INTERVAL_SECONDS"]["value"] == "15"


def test_sidecar_authenticates_with_the_sd_api_password(homelab_objects):
    env = {e["name"]: e for e in _sidecar(homelab_objects)["env"]}
    web_ui_env = {e["name"]: e for e in container(homelab_objects[("Deployment", "stable-diffusion")])["env"]}
    assert env["SD_API_USER"]["value"] == "admin"
    assert env["SD_API_PASSWORD"]["valueFrom"] == web_ui_env["SD_WEBUI_PASSWORD"]["valueFrom"]


def test_the_sidecar_serves_the_api_gate_on_the_service_and_past_the_network_policy(homelab_objects):
    env = {e["name"]: e.get("value") for e in _sidecar(homelab_objects)["env"]}
    assert env["SD_GATE_PORT"] == "7861"
    assert {"containerPort": 7861, "name": "api-gate"} in _sidecar(homelab_objects)["ports"]
    service = homelab_objects[("Service", "stable-diffusion")]
    assert {"name": "api-gate", "port": 7861, "targetPort": 7861} in service["spec"]["ports"]
    policy = homelab_objects[("NetworkPolicy", "stable-diffusion")]
    assert {"port": 7861, "protocol": "TCP"} in policy["spec"]["ingress"][0]["ports"]
    # The web UI's API client here is the VRAM arbiter; it may reach the gate like any SD port.
    arbiter_egress = homelab_objects[("NetworkPolicy", "vram-arbiter")]["spec"]["egress"]
    assert {
        "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "stable-diffusion"}}}],
        "ports": [{"port": 7861, "protocol": "TCP"}],
    } in arbiter_egress


def test_api_clients_use_the_gate_when_there_is_an_idle_unloader():
    _, sd = _sd_chart()
    assert sd.api_url == "http://stable-diffusion.ai.svc.cluster.local:7861"


@pytest.fixture(scope="module")
def without_unloader():
    """Stable Diffusion without the idle unloader beside Ollama on one card, built once for the tests that read it."""
    return _sd_chart(beside_ollama=True, idle_unloader=False)


def test_without_the_idle_unloader_clients_call_the_web_ui_itself(without_unloader):
    _, sd = without_unloader
    assert sd.api_url == sd.url == "http://stable-diffusion.ai.svc.cluster.local:7860"
    ports = _pod(sd)["spec"]["template"]["spec"]["containers"][0].get("ports")
    assert [p["containerPort"] for p in ports] == [7860]


def test_the_gate_port_must_be_its_own():
    from homelab_ai import HomelabConfigError

    with pytest.raises(HomelabConfigError, match=r"SdIdleUnloaderProps.gate_port: 8099 is already"):
        _sd_chart(gate_port=8099)
    with pytest.raises(HomelabConfigError, match=r"AppWorkloadProps.extra_ports: .* repeats the container port"):
        _sd_chart(gate_port=7860)


@pytest.mark.stack
def test_sd_budget_names_the_sidecar_as_its_unload_policy():
    from apps.homelab import stack

    sd = stack().stable_diffusion.gpu_app
    assert sd.idle_unload is not None
    assert "unload-checkpoint" in sd.idle_unload.mechanism
    assert sd.idle_unload.timeout.total_seconds() == 600


def _sd_chart(*, beside_ollama: bool = False, **sd_props):
    """Stable Diffusion on a card of its own, or on one it shares with Ollama when ``beside_ollama``."""
    from homelab_ai import LlmBackend, LlmBackendProps, SopsSecret, SopsSecretProps, StableDiffusion
    from homelab_ai import StableDiffusionProps as Props
    from tests.factories import charts, gpu, vram

    app, infra, ai = charts()
    card = gpu(infra)
    secret = SopsSecret(ai, "Secret", SopsSecretProps(name="sd", file="unused.sops.yaml", keys=["password"]))
    if beside_ollama:
        LlmBackend(ai, "Ollama", LlmBackendProps(gpu=card, vram=vram(0, 8, 12)))
    sd = StableDiffusion(ai, "SD", Props(gpu=card, vram=vram(0, 8, 12), secret=secret, **sd_props))
    return app, sd


def _pod(sd) -> dict:
    import cdk8s

    return cdk8s.ApiObject.of(sd.gpu_app.app.workload).to_json()


def test_sd_without_the_idle_unloader_on_a_shared_card_is_refused(without_unloader):
    from homelab_ai.synth.dist import collect_problems

    app, _ = without_unloader
    problems = [p for p in collect_problems(app) if p.startswith("GPU budget")]
    assert len(problems) == 1
    assert "stable-diffusion shares 'Test GPU' (24 GiB) with ollama but has no idle-unload policy" in problems[0]


def test_sd_without_the_idle_unloader_has_no_sidecar(without_unloader):
    _, sd = without_unloader
    assert [c["name"] for c in _pod(sd)["spec"]["template"]["spec"]["containers"]] == ["stable-diffusion"]
    assert sd.idle_unloader is None


def test_idle_unloader_needs_the_api():
    from homelab_ai import HomelabConfigError

    with pytest.raises(HomelabConfigError, match=r"StableDiffusionProps.idle_unloader: the idle unloader calls"):
        _sd_chart(enable_api=False)


def test_sd_idle_settings_reach_the_sidecar():
    from datetime import timedelta

    _, sd = _sd_chart(idle_timeout=timedelta(minutes=3), idle_poll_interval=timedelta(seconds=5))
    env = {e["name"]: e.get("value") for e in container(_pod(sd), 1)["env"]}
    assert (env["SD_IDLE_TIMEOUT_SECONDS"], env["SD_POLL_INTERVAL_SECONDS"]) == ("180", "5")
