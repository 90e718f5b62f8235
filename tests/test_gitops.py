"""dist/ is what GitOps applies: kustomize-buildable folders, SOPS files intact, facts flow to dist/ and docs/."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from apps.homelab import stack
from tests.helpers import run_cli_in_process
from tests.tools import require_tool


def _key(doc: dict) -> tuple[str, str, str | None, str]:
    return (doc["apiVersion"], doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])


@pytest.fixture(scope="module")
def synthesized(homelab_dist, homelab_files) -> tuple[Path, list]:
    return homelab_dist, homelab_files


@pytest.fixture(scope="module")
def kustomize(synthesized) -> Callable[[str], tuple[dict, ...]]:
    """`kubectl kustomize dist/FOLDER` as objects, run once per folder for the module: tests only read them."""
    out, _ = synthesized
    built: dict[str, tuple[dict, ...]] = {}

    def build(folder: str) -> tuple[dict, ...]:
        if folder not in built:
            kubectl = require_tool("kubectl")
            result = subprocess.run(
                [kubectl, "kustomize", str(out / folder)], capture_output=True, text=True, timeout=120, check=False
            )
            assert result.returncode == 0, result.stderr
            built[folder] = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
        return built[folder]

    return build


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["ai", "flux", "infrastructure"])
def test_kubectl_kustomize_builds_each_folder_into_exactly_the_synthesized_objects(synthesized, kustomize, folder):
    _, files = synthesized
    built = {_key(doc): doc for doc in kustomize(folder)}
    expected = {}
    for item in files:
        if item.path.startswith(f"{folder}/") and not item.path.endswith("/kustomization.yaml"):
            doc = yaml.safe_load(item.content)
            expected[_key(doc)] = doc
    assert expected
    assert built == expected


def test_sops_files_in_dist_are_the_source_files_byte_for_byte(synthesized):
    out, _ = synthesized
    secrets = stack().secrets
    for secret in secrets:
        copied = out / "ai" / secret.output_name
        assert copied.read_bytes() == secret.file.read_bytes()
    assert sorted(p.name for p in out.rglob("*.sops.yaml")) == sorted(s.output_name for s in secrets)


@pytest.mark.slow
def test_kustomize_yields_the_sops_secrets_with_their_encrypted_values_and_mac(kustomize):
    secrets = {d["metadata"]["name"]: d for d in kustomize("ai") if d["kind"] == "Secret"}
    for secret in stack().secrets:
        assert secrets[secret.name] == yaml.safe_load(secret.file.read_bytes())
        assert secrets[secret.name]["sops"]["mac"].startswith("ENC[AES256_GCM,")


def test_file_names_and_order_are_stable(synthesized):
    _, files = synthesized
    paths = [item.path for item in files]
    assert paths == sorted(paths)
    assert "flux/kustomization-homelab-ai-apps.yaml" in paths
    assert "ai/service-stable-diffusion.yaml" in paths


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _copy_repo(repo_root: Path, target: Path) -> Path:
    """The repo's files as a clone has them (tracked and new, never git-ignored ones: no .venv, no .cache of
    compiled modules, which grows to hundreds of megabytes in a worktree that has run the suite a few times)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        source = repo_root / name
        if source.is_file():  # a tracked file deleted in the work tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.stack
def test_a_fact_changed_in_the_chart_changes_both_dist_and_docs(repo_root, tmp_path):
    copy = _copy_repo(repo_root, tmp_path / "repo")
    facts = copy / "apps/homelab.py"
    source = facts.read_text()
    assert source.count('ip="10.10.2.26"') == 1
    facts.write_text(source.replace('ip="10.10.2.26"', 'ip="10.10.2.99"'))
    before_dist, before_docs = _tree(copy / "dist"), _tree(copy / "docs")

    for command in (("synth", "dist"), ("docs", "docs")):  # `make synth`, run in this process on the copy
        result = run_cli_in_process(copy, *command)
        assert result.returncode == 0, result.stderr

    changed_dist = {p for p, digest in _tree(copy / "dist").items() if before_dist.get(p) != digest}
    changed_docs = {p for p, digest in _tree(copy / "docs").items() if before_docs.get(p) != digest}
    assert changed_dist == {"ai/service-stable-diffusion.yaml"}
    assert changed_docs == {"ai-namespace.md"}
    service = yaml.safe_load((copy / "dist/ai/service-stable-diffusion.yaml").read_text())
    assert service["metadata"]["annotations"]["metallb.io/loadBalancerIPs"] == "10.10.2.99"
    page = (copy / "docs/ai-namespace.md").read_text()
    assert "10.10.2.99" in page
    assert "10.10.2.26" not in page
