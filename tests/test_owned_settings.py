"""Settings the chart owns reach the apps every time and cannot be overridden by accident.

Open WebUI takes them from its environment on every start (ENABLE_PERSISTENT_CONFIG=False) and is
ready only when /ready says so; Ollama's context window is pinned so its VRAM stays in its
envelope; a pod that reads a Secret carries the checksum of that Secret's encrypted file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from homelab_ai import (
    HealthCheck,
    HomelabConfigError,
    LlmBackend,
    LlmBackendProps,
    OpenWebUI,
    OpenWebUIProps,
    SharedGpu,
    SopsSecret,
    SopsSecretProps,
)
from homelab_ai.cluster.app_workload import AppWorkload, secret_checksum_key
from homelab_ai.secrets.sops_secret import SecretKeyRef
from tests.factories import app_props, charts, gpu, vram, write_encrypted_like_secret
from tests.helpers import container, env_of, synth


def _webui(tmp_path, **overrides):
    app, infra, ai = charts()
    backend = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram(0, 8, 16)))
    file = write_encrypted_like_secret(tmp_path / "ui.sops.yaml", "ui", ["WEBUI_SECRET_KEY"])
    secret = SopsSecret(ai, "Secret", SopsSecretProps(name="ui", file=file, keys=["WEBUI_SECRET_KEY"]))
    OpenWebUI(ai, "UI", OpenWebUIProps(backend=backend, secret=secret, **overrides))
    return synth(app), file, backend, secret


@pytest.fixture(scope="module")
def default_webui(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, LlmBackend, SopsSecret]:
    """Open WebUI with the default props, built once: its objects, secret file, backend and secret, read only."""
    return _webui(tmp_path_factory.mktemp("owned-settings"))


@pytest.fixture(scope="module")
def shared_gpu() -> SharedGpu:
    """A card for props that are refused before anything is built on it."""
    _, infra, _ = charts()
    return gpu(infra)


def test_open_webui_reads_its_settings_from_the_environment_on_every_start(default_webui):
    objects, *_ = default_webui
    assert env_of(objects[("Deployment", "open-webui")])["ENABLE_PERSISTENT_CONFIG"]["value"] == "False"


@pytest.mark.parametrize("name", ["ENABLE_PERSISTENT_CONFIG", "OLLAMA_BASE_URL", "WEBUI_SECRET_KEY"])
def test_open_webui_refuses_extra_env_that_overrides_a_setting_the_chart_owns(default_webui, name):
    _, _, backend, secret = default_webui
    with pytest.raises(HomelabConfigError) as error:
        OpenWebUIProps(backend=backend, secret=secret, extra_env={name: "x"})
    assert error.value.field == "OpenWebUIProps.extra_env"
    assert f"sets {name}, which the chart owns" in str(error.value)


def test_open_webui_takes_other_settings_from_extra_env(tmp_path):
    objects, *_ = _webui(tmp_path, extra_env={"DEFAULT_LOCALE": "de"})
    assert env_of(objects[("Deployment", "open-webui")])["DEFAULT_LOCALE"]["value"] == "de"


def test_open_webui_is_ready_on_ready_and_alive_on_health(default_webui):
    objects, *_ = default_webui
    c = container(objects[("Deployment", "open-webui")])
    assert c["startupProbe"]["httpGet"]["path"] == "/ready"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"


def test_a_pod_reading_a_sops_secret_carries_the_sha256_of_its_encrypted_file(default_webui):
    import hashlib

    objects, file, *_ = default_webui
    annotations = objects[("Deployment", "open-webui")]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"checksum/secret-ui": hashlib.sha256(file.read_bytes()).hexdigest()}


def test_a_secret_not_managed_here_adds_no_checksum():
    app, _, ai = charts()
    AppWorkload(ai, "W", app_props(secret_env={"TOKEN": SecretKeyRef(secret_name="external", key="token")}))
    assert "annotations" not in synth(app)[("Deployment", "demo")]["spec"]["template"]["metadata"]


def test_a_long_secret_name_gets_a_checksum_key_kubernetes_accepts():
    key = secret_checksum_key("s" * 200)
    prefix, name = key.split("/")
    assert prefix == "checksum"
    assert len(name) == 63
    assert name != secret_checksum_key("s" * 199).split("/")[1]


def test_ollama_context_length_defaults_to_4096_tokens():
    app, infra, ai = charts()
    LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram(0, 8, 16)))
    assert env_of(synth(app)[("StatefulSet", "ollama")])["OLLAMA_CONTEXT_LENGTH"]["value"] == "4096"


def test_ollama_context_length_is_settable():
    app, infra, ai = charts()
    LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram(0, 8, 16), context_length=8192))
    assert env_of(synth(app)[("StatefulSet", "ollama")])["OLLAMA_CONTEXT_LENGTH"]["value"] == "8192"


@pytest.mark.parametrize("bad", [0, -1, 2.5, float("nan")])
def test_ollama_refuses_a_context_length_that_is_not_a_positive_whole_number(shared_gpu, bad):
    with pytest.raises(HomelabConfigError) as error:
        LlmBackendProps(gpu=shared_gpu, vram=vram(0, 8, 16), context_length=bad)
    assert error.value.field == "LlmBackendProps.context_length"


def test_ollama_refuses_the_context_length_in_extra_env(shared_gpu):
    with pytest.raises(HomelabConfigError) as error:
        LlmBackendProps(gpu=shared_gpu, vram=vram(0, 8, 16), extra_env={"OLLAMA_CONTEXT_LENGTH": "32768"})
    assert "set context_length instead" in str(error.value)


def test_a_ready_path_must_be_absolute():
    with pytest.raises(HomelabConfigError) as error:
        HealthCheck(path="/health", ready_path="ready", startup_budget=timedelta(minutes=1))
    assert error.value.field == "HealthCheck.ready_path"
