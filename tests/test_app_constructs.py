"""LlmBackend, OpenWebUI and StableDiffusion: what each emits and which props each refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from homelab_ai import (
    HomelabConfigError,
    LlmBackend,
    LlmBackendProps,
    OpenWebUI,
    OpenWebUIProps,
    SharedGpu,
    SopsSecret,
    SopsSecretProps,
    StableDiffusion,
    StableDiffusionProps,
)
from tests.factories import charts, gpu, vram, write_encrypted_like_secret
from tests.helpers import container, env_of, synth


def _backend(ai, card, **overrides) -> LlmBackend:
    return LlmBackend(ai, "Ollama", LlmBackendProps(gpu=card, vram=vram(0, 8, 16), **overrides))


def _secret(ai, tmp_path, name: str, keys: list[str]) -> SopsSecret:
    path = write_encrypted_like_secret(tmp_path / f"{name}.sops.yaml", name, keys)
    return SopsSecret(ai, f"Secret-{name}", SopsSecretProps(name=name, file=path, keys=keys))


@pytest.fixture(scope="module")
def props_parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[SharedGpu, SopsSecret]:
    """A card and Stable Diffusion's secret for tests that only build props (nothing is added to their charts)."""
    _, infra, ai = charts()
    return gpu(infra), _secret(ai, tmp_path_factory.mktemp("app-constructs"), "sd", ["password"])


def test_llm_backend_url_is_the_namespaced_cluster_dns_name():
    _, infra, ai = charts()
    assert _backend(ai, gpu(infra)).url == "http://ollama.ai.svc.cluster.local:11434"


def test_llm_backend_keep_alive_is_rendered_as_go_duration():
    app, infra, ai = charts()
    _backend(ai, gpu(infra), keep_alive=timedelta(hours=1, minutes=30))
    assert env_of(synth(app)[("StatefulSet", "ollama")])["OLLAMA_KEEP_ALIVE"]["value"] == "1h30m"


def test_llm_backend_concurrency_is_settable():
    app, infra, ai = charts()
    _backend(ai, gpu(infra), max_loaded_models=2, num_parallel=4)
    env = env_of(synth(app)[("StatefulSet", "ollama")])
    assert (env["OLLAMA_MAX_LOADED_MODELS"]["value"], env["OLLAMA_NUM_PARALLEL"]["value"]) == ("2", "4")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("keep_alive", timedelta(0), r"LlmBackendProps.keep_alive: .* positive"),
        ("keep_alive", 300, r"LlmBackendProps.keep_alive"),
        ("max_loaded_models", 0, r"LlmBackendProps.max_loaded_models"),
        ("num_parallel", -1, r"LlmBackendProps.num_parallel"),
        ("name", "Ollama", r"LlmBackendProps.name: 'Ollama' is not a DNS-1123 label"),
        ("port", 70000, r"LlmBackendProps.port"),
    ],
)
def test_llm_backend_refuses_bad_props(props_parts, field, value, message):
    card, _ = props_parts
    with pytest.raises(HomelabConfigError, match=message):
        LlmBackendProps(gpu=card, vram=vram(), **{field: value})


def test_open_webui_without_stable_diffusion_has_no_image_generation(tmp_path):
    app, infra, ai = charts()
    backend = _backend(ai, gpu(infra))
    OpenWebUI(ai, "UI", OpenWebUIProps(backend=backend, secret=_secret(ai, tmp_path, "ui", ["WEBUI_SECRET_KEY"])))
    env = env_of(synth(app)[("Deployment", "open-webui")])
    assert "ENABLE_IMAGE_GENERATION" not in env
    assert env["OLLAMA_BASE_URL"]["value"] == backend.url


def test_open_webui_refuses_a_secret_without_its_key(tmp_path):
    _, infra, ai = charts()
    secret = _secret(ai, tmp_path, "ui", ["OTHER"])
    with pytest.raises(HomelabConfigError, match=r"key 'WEBUI_SECRET_KEY' is not declared"):
        OpenWebUI(ai, "UI", OpenWebUIProps(backend=_backend(ai, gpu(infra)), secret=secret))


def test_stable_diffusion_root_path_moves_models_and_outputs(tmp_path):
    app, infra, ai = charts()
    StableDiffusion(
        ai,
        "SD",
        StableDiffusionProps(
            gpu=gpu(infra),
            vram=vram(0, 8, 12),
            secret=_secret(ai, tmp_path, "sd", ["password"]),
            root_path="/stable-diffusion-webui",
        ),
    )
    mounts = {m["mountPath"] for m in container(synth(app)[("Deployment", "stable-diffusion")])["volumeMounts"]}
    assert {"/stable-diffusion-webui/models", "/stable-diffusion-webui/outputs"} <= mounts


def test_stable_diffusion_models_path_is_the_checkpoint_folder(props_parts):
    card, secret = props_parts
    props = StableDiffusionProps(
        gpu=card,
        vram=vram(0, 8, 12),
        secret=secret,
        root_path="/stable-diffusion-webui",
    )
    assert props.models_path == "/stable-diffusion-webui/models/Stable-diffusion"


def test_stable_diffusion_without_api_has_no_api_flags(tmp_path):
    app, infra, ai = charts()
    StableDiffusion(
        ai,
        "SD",
        StableDiffusionProps(
            gpu=gpu(infra),
            vram=vram(0, 8, 12),
            secret=_secret(ai, tmp_path, "sd", ["password"]),
            enable_api=False,
            idle_unloader=False,
        ),
    )
    args = container(synth(app)[("Deployment", "stable-diffusion")])["args"]
    assert "--api" not in args and "--api-auth" not in args
    assert "--gradio-auth" in args


@pytest.mark.parametrize("root", ["stable-diffusion-webui", "/stable-diffusion-webui/", ""])
def test_stable_diffusion_refuses_root_path_that_is_not_absolute(props_parts, root):
    card, secret = props_parts
    with pytest.raises(HomelabConfigError, match=r"StableDiffusionProps.root_path"):
        StableDiffusionProps(gpu=card, vram=vram(), secret=secret, root_path=root)


def test_stable_diffusion_refuses_username_that_breaks_user_password_pair(props_parts):
    card, secret = props_parts
    with pytest.raises(HomelabConfigError, match=r"StableDiffusionProps.username"):
        StableDiffusionProps(gpu=card, vram=vram(), secret=secret, username="a:b")
