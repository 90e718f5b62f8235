"""Settings the chart owns reach the apps every time and cannot be overridden by accident.

Open WebUI takes them from its environment on every start (ENABLE_PERSISTENT_CONFIG=False) and is
ready only when /ready says so; Ollama's context window is pinned so its VRAM stays in its
envelope; a pod that reads a Secret carries the checksum of that Secret's encrypted file.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from homelab_ai import (
    HealthCheck,
    HomelabConfigError,
    LlmBackend,
    LlmBackendProps,
    OpenWebUI,
    OpenWebUIProps,
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
    return synth(app), file


def test_open_webui_reads_its_settings_from_the_environment_on_every_start(tmp_path):
    objects, _ = _webui(tmp_path)
    assert env_of(objects[("Deployment", "open-webui")])["ENABLE_PERSISTENT_CONFIG"]["value"] == "False"


@pytest.mark.parametrize("name", ["ENABLE_PERSISTENT_CONFIG", "OLLAMA_BASE_URL", "WEBUI_SECRET_KEY"])
def test_open_webui_refuses_extra_env_that_overrides_a_setting_the_chart_owns(tmp_path, name):
    with pytest.raises(HomelabConfigError) as error:
        _webui(tmp_path, extra_env={name: "x"})
    assert error.value.field == "OpenWebUIProps.extra_env"
    assert f"sets {name}, which the chart owns" in str(error.value)


def test_open_webui_takes_other_settings_from_extra_env(tmp_path):
    objects, _ = _webui(tmp_path, extra_env={"DEFAULT_LOCALE": "de"})
    assert env_of(objects[("Deployment", "open-webui")])["DEFAULT_LOCALE"]["value"] == "de"


def test_open_webui_is_ready_on_ready_and_alive_on_health(tmp_path):
    objects, _ = _webui(tmp_path)
    c = container(objects[("Deployment", "open-webui")])
    assert c["startupProbe"]["httpGet"]["path"] == "/ready"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"


def test_a_pod_reading_a_sops_secret_carries_the_sha256_of_its_encrypted_file(tmp_path):
    import hashlib

    objects, file = _webui(tmp_path)
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
def test_ollama_refuses_a_context_length_that_is_not_a_positive_whole_number(bad):
    _, infra, _ = charts()
    with pytest.raises(HomelabConfigError) as error:
        LlmBackendProps(gpu=gpu(infra), vram=vram(0, 8, 16), context_length=bad)
    assert error.value.field == "LlmBackendProps.context_length"


def test_ollama_refuses_the_context_length_in_extra_env():
    _, infra, _ = charts()
    with pytest.raises(HomelabConfigError) as error:
        LlmBackendProps(gpu=gpu(infra), vram=vram(0, 8, 16), extra_env={"OLLAMA_CONTEXT_LENGTH": "32768"})
    assert "set context_length instead" in str(error.value)


def test_a_ready_path_must_be_absolute():
    with pytest.raises(HomelabConfigError) as error:
        HealthCheck(path="/health", ready_path="ready", startup_budget=timedelta(minutes=1))
    assert error.value.field == "HealthCheck.ready_path"
