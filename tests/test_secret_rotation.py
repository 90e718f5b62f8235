"""Rotating a secret restarts exactly the pods that read it, and Open WebUI gets the new value only through its env.

In a temporary copy of the repo (encrypted to the demo key, as committed), `homelab-ai secrets init
--rotate stable-diffusion-secret` writes a new encrypted file; the chart built from the copy gives
every pod that reads that Secret (the web UI with its idle-unloader sidecar, Open WebUI, and the VRAM
arbiter) a new pod template, leaves Ollama's alone, and renders no secret value anywhere.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from apps.homelab import build
from homelab_ai.cluster.app_workload import secret_checksum_key
from homelab_ai.secrets import sops
from homelab_ai.synth.dist import render
from tests.helpers import objects_by_key
from tests.sops_helpers import DEMO_AGE_KEY, copy_repo, decrypt_values, run_cli

# Renders a whole stack (an integration test): `make test` runs it, the unit tier leaves it out.
pytestmark = pytest.mark.stack

SD_SECRET = "stable-diffusion-secret"
SD_FILE = "apps/secrets/stable-diffusion.sops.yaml"
ANNOTATION = secret_checksum_key(SD_SECRET)


def _pod_template_hash(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj["spec"]["template"], sort_keys=True).encode()).hexdigest()


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    """(objects before, objects after, old password, new password, the copy) for a rotation in a copy of the repo."""
    repo = copy_repo(tmp_path_factory.mktemp("rotation") / "repo", sops.DEMO_AGE_RECIPIENT, with_secrets=True)
    before = objects_by_key(render(*build(repo)))
    old = decrypt_values(repo / SD_FILE, DEMO_AGE_KEY)["password"]
    result = run_cli(repo, "secrets", "init", "--rotate", SD_SECRET, key_file=DEMO_AGE_KEY)
    assert result.returncode == 0, result.stderr
    new = decrypt_values(repo / SD_FILE, DEMO_AGE_KEY)["password"]
    after = objects_by_key(render(*build(repo)))
    return before, after, old, new, repo


def test_the_rotation_made_a_new_password(rotated):
    _, _, old, new, _ = rotated
    assert old != new


@pytest.mark.parametrize("name", ["stable-diffusion", "open-webui", "vram-arbiter"])
def test_every_pod_that_reads_the_rotated_secret_gets_a_new_pod_template(rotated, name):
    before, after, _, _, _ = rotated
    key = ("Deployment", name)
    assert _pod_template_hash(before[key]) != _pod_template_hash(after[key])
    old_sum = before[key]["spec"]["template"]["metadata"]["annotations"][ANNOTATION]
    new_sum = after[key]["spec"]["template"]["metadata"]["annotations"][ANNOTATION]
    assert (len(old_sum), len(new_sum)) == (64, 64)
    assert old_sum != new_sum


def test_each_checksum_is_the_sha256_of_the_encrypted_file_that_reaches_dist(rotated):
    _, after, _, _, repo = rotated
    annotations = after[("Deployment", "open-webui")]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        ANNOTATION: hashlib.sha256((repo / SD_FILE).read_bytes()).hexdigest(),
        secret_checksum_key("open-webui-secret"): hashlib.sha256(
            (repo / "apps/secrets/open-webui.sops.yaml").read_bytes()
        ).hexdigest(),
    }


def test_a_pod_that_does_not_read_the_secret_keeps_its_pod_template(rotated):
    before, after, _, _, _ = rotated
    assert _pod_template_hash(before[("StatefulSet", "ollama")]) == _pod_template_hash(after[("StatefulSet", "ollama")])


def test_open_webui_changes_only_by_the_checksum_and_takes_the_password_through_its_env(rotated):
    before, after, _, _, _ = rotated
    webui_before = before[("Deployment", "open-webui")]["spec"]["template"]
    webui_after = after[("Deployment", "open-webui")]["spec"]["template"]
    annotations = dict(webui_after["metadata"]["annotations"])
    annotations[ANNOTATION] = webui_before["metadata"]["annotations"][ANNOTATION]
    assert {**webui_after, "metadata": {**webui_after["metadata"], "annotations": annotations}} == webui_before
    env = {e["name"]: e for e in webui_after["spec"]["containers"][0]["env"]}
    assert env["AUTOMATIC1111_API_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"key": "password", "name": SD_SECRET}}
    assert env["AUTOMATIC1111_API_AUTH"]["value"] == "admin:$(AUTOMATIC1111_API_PASSWORD)"
    assert env["ENABLE_PERSISTENT_CONFIG"]["value"] == "False"


def test_no_rendered_object_holds_the_old_or_the_new_password(rotated):
    before, after, old, new, _ = rotated
    rendered = json.dumps([*before.values(), *after.values()])
    assert old not in rendered
    assert new not in rendered
