"""docs/library-guide.md: its example (examples/speech_to_text.py) runs and adds a GPU app on the same card."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml

from examples.speech_to_text import build as build_example
from homelab_ai.synth.dist import render
from tests.helpers import container, objects_by_key, run_cli_in_process

GUIDE = "docs/library-guide.md"
EXAMPLE = "examples/speech_to_text.py"


@pytest.fixture(scope="module")
def example_files():
    app, folders = build_example()
    return render(app, folders)


def test_guide_shows_the_example_verbatim(repo_root):
    guide = (repo_root / GUIDE).read_text()
    match = re.search(rf"<!-- example: {re.escape(EXAMPLE)} -->\n```python\n(.*?)```", guide, re.DOTALL)
    assert match, f"{GUIDE} has no example block for {EXAMPLE}"
    assert match.group(1) == (repo_root / EXAMPLE).read_text()
    assert "import homelab_ai\n" in match.group(1)


def test_example_puts_whisper_on_one_slice_of_the_homelabs_card(example_files):
    objects = objects_by_key(example_files)
    whisper = objects[("Deployment", "whisper")]
    spec = whisper["spec"]["template"]["spec"]
    assert container(whisper)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["runtimeClassName"] == "nvidia"
    assert whisper["spec"]["strategy"] == {"type": "Recreate"}
    assert whisper["metadata"]["namespace"] == "ai"


def test_example_writes_its_own_folder_and_flux_kustomization(example_files):
    speech = sorted(f.path for f in example_files if f.path.startswith("speech/"))
    assert speech == [
        "speech/deployment-whisper.yaml",
        "speech/kustomization.yaml",
        "speech/networkpolicy-whisper.yaml",
        "speech/persistentvolumeclaim-whisper-models.yaml",
        "speech/service-whisper.yaml",
    ]
    flux = objects_by_key(example_files)[("Kustomization", "homelab-ai-speech")]["spec"]
    assert flux["path"] == "./dist/speech"
    assert flux["dependsOn"] == [{"name": "homelab-ai-apps"}]
    assert "decryption" not in flux


def test_example_leaves_the_homelabs_infrastructure_and_ai_folders_byte_for_byte(example_files, repo_root):
    for item in example_files:
        if item.path.split("/")[0] in ("infrastructure", "ai"):
            assert item.content == (repo_root / "dist" / item.path).read_bytes(), item.path
    committed = {
        str(p.relative_to(repo_root / "dist"))
        for folder in ("infrastructure", "ai")
        for p in (repo_root / "dist" / folder).iterdir()
    }
    assert {f.path for f in example_files if f.path.split("/")[0] in ("infrastructure", "ai")} == committed


def test_example_objects_are_valid_kubernetes(example_files):
    failures = []
    for item in example_files:
        if item.path.startswith("speech/") and not item.path.endswith("kustomization.yaml"):
            try:
                kubernetes_validate.validate(yaml.safe_load(item.content), "1.27", strict=True)
            except kubernetes_validate.ValidationError as exc:
                failures.append(f"{item.path}: {exc.message}")
    assert failures == []


def test_guide_commands_synthesize_and_document_the_example(repo_root, tmp_path):
    """The two commands of the guide's "Run it", as a user types them (through the CLI, in this process)."""
    for command, out in (("synth", tmp_path / "dist"), ("docs", tmp_path / "docs")):
        result = run_cli_in_process(repo_root, "--app", "examples.speech_to_text:build", command, str(out))
        assert result.returncode == 0, result.stderr
    listed = yaml.safe_load((tmp_path / "dist/speech/kustomization.yaml").read_text())["resources"]
    assert "deployment-whisper.yaml" in listed
    assert (
        "kustomization-homelab-ai-speech.yaml"
        in yaml.safe_load((tmp_path / "dist/flux/kustomization.yaml").read_text())["resources"]
    )
    page = (tmp_path / "docs/ai-namespace.md").read_text()
    assert "3 of 4 slices are taken" in page
    assert "| whisper | ai | 5m | MODEL_IDLE_TIMEOUT |" in page
    assert "| whisper | 0 GiB | 1-2 GiB | MODEL_IDLE_TIMEOUT, after 5m idle |" in page
    assert "| **total** | 0 GiB | 17-30 GiB |" in page
    assert "ollama 16 + stable-diffusion 12 + whisper 2 = 30 GiB on a 24 GiB card, 6 GiB over" in page
    assert "| whisper | Deployment | ClusterIP | cluster-internal | 9000 | Speech to text (Whisper ASR API) |" in page
