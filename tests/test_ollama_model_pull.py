"""LlmBackend(models=...) and its OllamaModelPull Job: named by the list, self-contained, bounded."""

from __future__ import annotations

import re

import pytest

from homelab_ai import (
    HomelabConfigError,
    InternetEgress,
    LlmBackend,
    LlmBackendProps,
    OllamaModelPull,
    OllamaModelPullProps,
    SharedGpu,
)
from homelab_ai.base.pod_scripts import script_text
from tests.factories import charts, gpu, vram
from tests.fake_servers import FakeOllama, run_script
from tests.helpers import container, synth


def _backend_objects(**overrides) -> dict:
    app, infra, ai = charts()
    overrides.setdefault("model_downloads", InternetEgress())  # `ollama pull` downloads over HTTPS
    LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram(), **overrides))
    return synth(app)


def _jobs(objects: dict) -> list[dict]:
    return [obj for (kind, _), obj in objects.items() if kind == "Job"]


def _job(**overrides) -> dict:
    (job,) = _jobs(_backend_objects(**{"models": ["llama3.2"], **overrides}))
    return job


def _pull_props(**overrides) -> OllamaModelPullProps:
    return OllamaModelPullProps(**{"models": ["llama3.2"], "server_url": "http://ollama:11434", **overrides})


@pytest.fixture(scope="module")
def one_model() -> dict:
    """The objects of a backend that lists llama3.2, built once for the tests that only read them."""
    return _backend_objects(models=["llama3.2"])


@pytest.fixture(scope="module")
def two_models_job() -> dict:
    """The pull Job of a backend that lists llama3.2 and qwen2.5:14b, built once for the tests that only read it."""
    return _job(models=["llama3.2", "qwen2.5:14b"])


@pytest.fixture(scope="module")
def card() -> SharedGpu:
    """A card for props that are refused or only read (nothing is built on it)."""
    return gpu(charts()[1])


def test_no_models_no_job_and_no_script():
    objects = _backend_objects()
    assert _jobs(objects) == []
    assert ("ConfigMap", "ollama-pull-models") not in objects


def test_job_name_carries_a_hash_of_the_list_and_an_annotation_with_it(two_models_job):
    job = two_models_job
    assert job["metadata"]["name"].startswith("ollama-pull-models-")
    assert len(job["metadata"]["name"].rsplit("-", 1)[1]) == 8
    assert job["metadata"]["annotations"]["homelab-ai/models"] == "llama3.2,qwen2.5:14b"


def test_job_name_changes_when_the_list_changes(one_model):
    (job,) = _jobs(one_model)
    assert job["metadata"]["name"] != _job(models=["llama3.2", "mistral"])["metadata"]["name"]


def test_job_name_ignores_order_and_the_implicit_latest_tag():
    assert (
        _job(models=["mistral", "llama3.2"])["metadata"]["name"]
        == _job(models=["llama3.2:latest", "mistral"])["metadata"]["name"]
    )


def test_job_pulls_from_the_backend_url_every_listed_model(two_models_job):
    args = container(two_models_job)["args"]
    assert args[args.index("--server") + 1] == "http://ollama.ai.svc.cluster.local:11434"
    assert args[-2:] == ["llama3.2", "qwen2.5:14b"]


def test_script_ships_in_a_configmap_mounted_into_the_job(one_model):
    objects = one_model
    (job,) = _jobs(objects)
    config_map = objects[("ConfigMap", "ollama-pull-models")]
    assert config_map["data"] == {"ollama_pull.py": script_text("homelab_ai.services.ollama", "ollama_pull.py")}
    pod = job["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "script", "configMap": {"name": "ollama-pull-models", "defaultMode": 0o444}}]
    c = container(job)
    assert c["command"] == ["python", "/opt/homelab-ai/ollama_pull.py"]
    assert c["volumeMounts"] == [{"name": "script", "mountPath": "/opt/homelab-ai", "readOnly": True}]


def test_job_is_bounded_retried_and_kept_for_flux(one_model):
    (job,) = _jobs(one_model)
    spec = job["spec"]
    assert spec["backoffLimit"] == 3
    assert spec["activeDeadlineSeconds"] == 6 * 3600
    assert "ttlSecondsAfterFinished" not in spec  # Flux would recreate a TTL-deleted Job every reconcile
    assert job["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/force"] == "enabled"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_image_is_pinned_sized_and_pulled_if_not_present(one_model):
    (job,) = _jobs(one_model)
    c = container(job)
    assert c["image"] == "python:3.13.15-alpine3.24"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }


def test_job_runs_unprivileged_on_a_read_only_root(one_model):
    (job,) = _jobs(one_model)
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert container(job)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_backend_exposes_its_declared_models():
    _, infra, ai = charts()
    backend = LlmBackend(
        ai,
        "Ollama",
        LlmBackendProps(gpu=gpu(infra), vram=vram(), models=["llama3.2", "mistral"], model_downloads=InternetEgress()),
    )
    assert backend.models == ("llama3.2", "mistral")
    assert isinstance(backend.model_pull, OllamaModelPull)
    assert backend.model_pull.pod_labels == {"app.kubernetes.io/name": "ollama-pull-models"}


@pytest.mark.slow
def test_the_jobs_own_arguments_drive_the_script():
    """What the Job runs, run here: its args with the server swapped for a fake on loopback."""
    job = _job(models=["llama3.2", "mistral"])
    with FakeOllama(present=["llama3.2:latest"], pullable={"mistral": 1000}) as ollama:
        result = run_script("ollama_pull.py", *container(job)["args"], "--server", ollama.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p["model"] for p in ollama.pulls()] == ["mistral"]


@pytest.mark.parametrize(
    "name", ["llama3.2", "qwen2.5:14b", "library/x:tag", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"]
)
def test_model_names_ollama_accepts_are_accepted(name):
    assert _pull_props(models=[name]).models == (name,)


@pytest.mark.parametrize("name", ["", "llama 3", "-x", "a:b:c", "x/", "a/b/c/d", ":tag", "x:", "llama3.2\n"])
def test_malformed_model_name_is_refused_naming_the_field(card, name):
    with pytest.raises(HomelabConfigError, match=r"LlmBackendProps\.models: .* is not an Ollama model name"):
        LlmBackendProps(gpu=card, vram=vram(), models=[name])


def test_a_bare_string_is_refused_rather_than_split_into_letters(card):
    with pytest.raises(HomelabConfigError, match=r"LlmBackendProps\.models: 'llama3.2' is not a list"):
        LlmBackendProps(gpu=card, vram=vram(), models="llama3.2")


def test_the_same_model_twice_is_refused(card):
    with pytest.raises(HomelabConfigError, match=re.escape("'llama3.2:latest' and 'llama3.2' are the same model")):
        LlmBackendProps(gpu=card, vram=vram(), models=["llama3.2", "llama3.2:latest"])


def test_backend_name_too_long_for_the_job_is_refused_when_models_are_listed(card):
    with pytest.raises(HomelabConfigError, match=r"LlmBackendProps\.name: .* too long"):
        LlmBackendProps(gpu=card, vram=vram(), name="o" * 43, models=["llama3.2"], model_downloads=InternetEgress())
    assert LlmBackendProps(gpu=card, vram=vram(), name="o" * 43).models == ()


def test_pull_job_without_models_is_refused():
    with pytest.raises(HomelabConfigError, match=r"OllamaModelPullProps\.models: no model listed"):
        _pull_props(models=[])


def test_pull_job_needs_an_http_server_url():
    with pytest.raises(HomelabConfigError, match=r"OllamaModelPullProps\.server_url: 'ollama:11434' is not"):
        _pull_props(server_url="ollama:11434")


def test_chart_pulls_llama32_from_its_ollama(homelab_objects):
    jobs = [
        obj
        for (kind, _), obj in homelab_objects.items()
        if kind == "Job" and obj["metadata"]["labels"]["app.kubernetes.io/component"] == "model-pull"
    ]
    assert [job["metadata"]["annotations"]["homelab-ai/models"] for job in jobs] == ["llama3.2"]
    args = container(jobs[0])["args"]
    assert args[args.index("--server") + 1] == "http://ollama.ai.svc.cluster.local:11434"
    assert jobs[0]["metadata"]["namespace"] == "ai"


def test_models_without_a_way_to_the_internet_are_refused(card):
    """`ollama pull` fetches from the Ollama registry over HTTPS: without egress the Job never finishes."""
    with pytest.raises(HomelabConfigError, match=r"LlmBackendProps\.models: 1 model\(s\) are pulled .* on 443"):
        LlmBackendProps(gpu=card, vram=vram(), models=["llama3.2"])
    with pytest.raises(HomelabConfigError, match=r"LlmBackendProps\.models: .*Fix: set model_downloads=InternetEgress"):
        LlmBackendProps(gpu=card, vram=vram(), models=["x"], model_downloads=InternetEgress(ports=(80,)))
