"""StableDiffusion(checkpoints=...): typed files, fetched by an init container into the web UI's models/."""

from __future__ import annotations

import hashlib
import json

import kubernetes_validate
import pytest

from homelab_ai import (
    Checkpoint,
    CheckpointKind,
    HomelabConfigError,
    InternetEgress,
    SopsSecret,
    SopsSecretProps,
    StableDiffusion,
    StableDiffusionProps,
)
from homelab_ai.base.pod_scripts import script_text
from tests.factories import charts, gpu, vram, write_encrypted_like_secret
from tests.fake_servers import FileServer, run_script
from tests.helpers import container, synth

SHA = "ab" * 32
SDXL = Checkpoint(
    url="https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors",
    file_name="sd_xl_base_1.0.safetensors",
    sha256=SHA,
)


def _sd(tmp_path, **overrides) -> tuple[StableDiffusion, dict]:
    app, infra, ai = charts()
    file = write_encrypted_like_secret(tmp_path / "sd.sops.yaml", "sd", ["password"])
    secret = SopsSecret(ai, "Secret", SopsSecretProps(name="sd", file=file, keys=["password"]))
    # The init container downloads over HTTPS: the pod's NetworkPolicy must let it out.
    overrides.setdefault("model_downloads", InternetEgress())
    sd = StableDiffusion(ai, "SD", StableDiffusionProps(gpu=gpu(infra), vram=vram(), secret=secret, **overrides))
    return sd, synth(app)


def _pod(objects: dict) -> dict:
    return objects[("Deployment", "stable-diffusion")]["spec"]["template"]["spec"]


def _init(objects: dict) -> dict:
    (init,) = _pod(objects)["initContainers"]
    return init


def _env(init: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in init["env"]}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[StableDiffusion, dict]:
    """Stable Diffusion without checkpoints, built once for the tests that only read it."""
    return _sd(tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def with_sdxl(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The objects of Stable Diffusion with the SDXL checkpoint, built once for the tests that only read them."""
    return _sd(tmp_path_factory.mktemp("sdxl"), checkpoints=[SDXL])[1]


def test_no_checkpoints_no_init_container_and_no_script(plain):
    sd, objects = plain
    assert "initContainers" not in _pod(objects)
    assert ("ConfigMap", "stable-diffusion-fetch-models") not in objects
    assert sd.checkpoints == ()


def test_init_container_writes_into_the_same_models_folder_the_web_ui_reads(with_sdxl):
    objects = with_sdxl
    web_ui = {m["mountPath"]: m for m in container(objects[("Deployment", "stable-diffusion")])["volumeMounts"]}
    init = {m["mountPath"]: m for m in _init(objects)["volumeMounts"]}
    models = "/app/stable-diffusion-webui/models"
    assert init[models] == web_ui[models]
    assert (init[models]["name"], init[models]["subPath"]) == ("sd-data", "models")
    args = _init(objects)["args"]
    assert args == ["--models-dir", models]


def test_models_folder_follows_root_path(tmp_path):
    _, objects = _sd(tmp_path, checkpoints=[SDXL], root_path="/webui")
    assert _init(objects)["args"] == ["--models-dir", "/webui/models"]
    assert "/webui/models" in {m["mountPath"] for m in _init(objects)["volumeMounts"]}


def test_declared_files_reach_the_init_container_as_json(tmp_path):
    lora = Checkpoint(url="https://files.lan/style.safetensors", file_name="style.safetensors", sha256=SHA, kind="lora")
    _, objects = _sd(tmp_path, checkpoints=[SDXL, lora])
    assert json.loads(_env(_init(objects))["SD_CHECKPOINTS"]) == [
        {"url": SDXL.url, "folder": "Stable-diffusion", "file_name": "sd_xl_base_1.0.safetensors", "sha256": SHA},
        {"url": lora.url, "folder": "Lora", "file_name": "style.safetensors", "sha256": SHA},
    ]


def test_script_ships_in_a_configmap_mounted_read_only(with_sdxl):
    objects = with_sdxl
    config_map = objects[("ConfigMap", "stable-diffusion-fetch-models")]
    assert config_map["data"] == {
        "sd_fetch_models.py": script_text("homelab_ai.services.stable_diffusion", "sd_fetch_models.py")
    }
    init = _init(objects)
    assert init["command"] == ["python", "/opt/homelab-ai/sd_fetch_models.py"]
    mount = next(m for m in init["volumeMounts"] if m["mountPath"] == "/opt/homelab-ai")
    volume = next(v for v in _pod(objects)["volumes"] if v["name"] == mount["name"])
    assert mount["readOnly"] is True
    assert volume["configMap"] == {"name": "stable-diffusion-fetch-models", "defaultMode": 0o444}


def test_init_container_is_pinned_sized_and_without_capabilities(with_sdxl):
    init = _init(with_sdxl)
    assert init["name"] == "fetch-models"
    assert init["image"] == "python:3.13.15-alpine3.24"
    assert init["imagePullPolicy"] == "IfNotPresent"
    assert init["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1000m", "memory": "512Mi"},
    }
    security = init["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_the_web_ui_container_is_unchanged_by_checkpoints(plain, with_sdxl):
    without_files = container(plain[1][("Deployment", "stable-diffusion")])
    with_files = container(with_sdxl[("Deployment", "stable-diffusion")])
    assert with_files == without_files


def test_deployment_and_configmap_with_checkpoints_are_valid_kubernetes(with_sdxl):
    for key in [("Deployment", "stable-diffusion"), ("ConfigMap", "stable-diffusion-fetch-models")]:
        kubernetes_validate.validate(with_sdxl[key], "1.27", strict=True)


@pytest.mark.slow
def test_the_init_containers_own_command_fetches_the_declared_file(tmp_path):
    """What the init container runs, run here: its env and args, the models folder swapped for a temp one."""
    content = b"weights" * 100
    url = "https://files.example/m.safetensors"
    checkpoint = Checkpoint(url=url, file_name="m.safetensors", sha256=hashlib.sha256(content).hexdigest())
    init = _init(_sd(tmp_path, checkpoints=[checkpoint])[1])
    with FileServer({"/m.safetensors": content}) as server:
        models = tmp_path / "models"
        env = {"PATH": "/usr/bin:/bin", **_env(init)}
        # The rendered list, with the internet host swapped for the fake one on 127.0.0.1.
        env["SD_CHECKPOINTS"] = env["SD_CHECKPOINTS"].replace("https://files.example", server.url)
        result = run_script("sd_fetch_models.py", *init["args"], "--models-dir", str(models), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (models / "Stable-diffusion/m.safetensors").read_bytes() == content


@pytest.mark.parametrize(
    ("kind", "folder"),
    [(CheckpointKind.CHECKPOINT, "Stable-diffusion"), (CheckpointKind.LORA, "Lora"), (CheckpointKind.VAE, "VAE")],
)
def test_each_kind_has_the_web_uis_folder(kind, folder):
    checkpoint = Checkpoint(url=SDXL.url, file_name="x.safetensors", sha256=SHA, kind=kind)
    assert checkpoint.relative_path == f"{folder}/x.safetensors"


def test_kind_may_be_given_by_name_and_sha256_in_capitals():
    checkpoint = Checkpoint(url=SDXL.url, file_name="x.pt", sha256=SHA.upper(), kind="VAE")
    assert (checkpoint.kind, checkpoint.sha256) == (CheckpointKind.VAE, SHA)


@pytest.mark.parametrize("url", ["ftp://host/x", "huggingface.co/x", "file:///etc/passwd", "https://", "https://a b/x"])
def test_url_that_is_not_http_is_refused(url):
    with pytest.raises(HomelabConfigError, match=r"Checkpoint\.url: .* is not an http\(s\) URL"):
        Checkpoint(url=url, file_name="x.safetensors", sha256=SHA)


@pytest.mark.parametrize("name", ["", "../x.safetensors", "Lora/x.safetensors", ".hidden", "a b.ckpt", "x\\y.pt"])
def test_file_name_that_is_not_a_plain_name_is_refused(name):
    with pytest.raises(HomelabConfigError, match=r"Checkpoint\.file_name: .* is not a plain file name"):
        Checkpoint(url=SDXL.url, file_name=name, sha256=SHA)


@pytest.mark.parametrize("sha", ["", "ab" * 31, "zz" * 32, "ab" * 33, f"sha256:{'ab' * 32}"])
def test_sha256_that_is_not_64_hex_is_refused(sha):
    with pytest.raises(HomelabConfigError, match=r"Checkpoint\.sha256: .* is not a sha256 digest"):
        Checkpoint(url=SDXL.url, file_name="x.safetensors", sha256=sha)


def test_unknown_kind_is_refused():
    with pytest.raises(HomelabConfigError, match=r"Checkpoint\.kind: 'embedding' is not a checkpoint kind"):
        Checkpoint(url=SDXL.url, file_name="x.pt", sha256=SHA, kind="embedding")


def test_two_files_at_the_same_path_are_refused(tmp_path):
    other = Checkpoint(url="https://elsewhere/x", file_name=SDXL.file_name, sha256="cd" * 32)
    with pytest.raises(HomelabConfigError, match=r"StableDiffusionProps\.checkpoints: .* declared twice"):
        _sd(tmp_path, checkpoints=[SDXL, other])


def test_same_file_name_of_another_kind_is_allowed(tmp_path):
    lora = Checkpoint(url=SDXL.url, file_name=SDXL.file_name, sha256=SHA, kind=CheckpointKind.LORA)
    sd, _ = _sd(tmp_path, checkpoints=[SDXL, lora])
    assert sd.checkpoints == (SDXL, lora)


def test_a_lone_checkpoint_is_refused_rather_than_taken_apart(tmp_path):
    with pytest.raises(HomelabConfigError, match=r"StableDiffusionProps\.checkpoints: .* is not a list of Checkpoint"):
        _sd(tmp_path, checkpoints=SDXL)


def test_chart_declares_no_checkpoint(homelab_objects):
    pod = homelab_objects[("Deployment", "stable-diffusion")]["spec"]["template"]["spec"]
    assert "initContainers" not in pod
