"""Renovate keeps every pin current: its config validates, and its own extraction finds every pin dist/ uses.

Both run Renovate itself (the npm package pinned in package.json), offline: the validator, and the
``local`` platform with ``--dry-run=extract``, which scans this checkout with renovate.json's
managers and writes what it found to a report without asking any registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib

import pytest

from homelab_ai.services.oauth2_proxy.contract import OAUTH2_PROXY_IMAGE
from tests.contract_checks import REPO_ROOT, containers, dist_objects

# The slow tier (`make test-fast` leaves it out): runs Renovate's own tools (node).
pytestmark = pytest.mark.slow

BIN = REPO_ROOT / "node_modules" / ".bin"
TIMEOUT = 300  # seconds; an extraction takes a few


def _renovate_bin(name: str):
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make node` (npm ci installs Renovate from package.json)")
    return path


def _env(base_dir, log_level: str = "warn") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENOVATE_", "GITHUB_", "GH_"))}
    env.update(LOG_LEVEL=log_level, RENOVATE_BASE_DIR=str(base_dir))
    return env


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, list[dict]]:
    """Renovate's extraction of this checkout: manager -> [{'packageFile': ..., 'deps': [...]}]."""
    work = tmp_path_factory.mktemp("renovate")
    report = work / "report.json"
    command = [
        str(_renovate_bin("renovate")),
        "--platform=local",
        "--dry-run=extract",
        "--onboarding=false",
        "--require-config=required",
        "--report-type=file",
        f"--report-path={report}",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, env=_env(work), capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(report.read_text())["repositories"]["local"]["packageFiles"]


def _deps(extracted: dict[str, list[dict]], manager: str) -> list[dict]:
    return [dep for package_file in extracted.get(manager, []) for dep in package_file["deps"]]


def test_renovates_own_validator_accepts_renovate_json():
    result = subprocess.run(
        [str(_renovate_bin("renovate-config-validator")), "--strict", "renovate.json"],
        cwd=REPO_ROOT,
        env=_env(REPO_ROOT / ".cache", log_level="info"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Config validated successfully" in result.stdout + result.stderr


def test_renovate_finds_every_image_that_dist_runs(extracted):
    found = set()
    for dep in _deps(extracted, "regex"):
        if dep["datasource"] == "docker":
            digest = f"@{dep['currentDigest']}" if dep.get("currentDigest") else ""
            found.add(f"{dep['depName']}:{dep['currentValue']}{digest}")
    images = {c["image"] for _, _, c in containers(dist_objects())}
    # oauth2-proxy runs only with AiStackProps.sign_in, which the spec's chart does not set.
    assert images | {OAUTH2_PROXY_IMAGE.reference} == found


def test_renovate_finds_the_device_plugin_chart_dist_installs_and_its_repository(extracted):
    charts = {
        (d["depName"], d["currentValue"], tuple(d.get("registryUrls") or ()))
        for d in _deps(extracted, "regex")
        if d["datasource"] == "helm"
    }
    objects = dist_objects()
    release = next(o for o in objects if o["kind"] == "HelmRelease")
    repository = next(o for o in objects if o["kind"] == "HelmRepository")
    spec = release["spec"]["chart"]["spec"]
    assert charts == {(spec["chart"], spec["version"], (repository["spec"]["url"],))}


def test_renovate_finds_every_python_dependency_of_pyproject(extracted):
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    declared = {
        *pyproject["build-system"]["requires"],
        *project["dependencies"],
        *(d for group in project["optional-dependencies"].values() for d in group),
    }
    names = {d.split(">", 1)[0].split("<", 1)[0].split("=", 1)[0].strip().lower() for d in declared}
    found = {d["packageName"].lower() for d in _deps(extracted, "pep621") if d["datasource"] == "pypi"}
    assert names == found


def test_renovate_finds_every_npm_dependency_of_package_json(extracted):
    declared = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]
    found = {d["depName"]: d["currentValue"] for d in _deps(extracted, "npm")}
    assert found == declared


def test_gpu_apps_are_bumped_together_with_the_vram_review_in_the_pull_request():
    config = json.loads((REPO_ROOT / "renovate.json").read_text())
    rule = next(r for r in config["packageRules"] if r.get("groupName") == "GPU apps")
    gpu_images = {
        c["image"].rsplit(":", 1)[0]
        for _, _, c in containers(dist_objects())
        if "nvidia.com/gpu" in (c.get("resources", {}).get("limits") or {})
    }
    assert gpu_images == {"ollama/ollama", "universonic/stable-diffusion-webui"}
    assert set(rule["matchDepNames"]) == gpu_images | {"nvidia-device-plugin"}
    assert rule["labels"] == ["gpu", "vram-budget"]
    assert "homelab-ai budget" in rule["prBodyNotes"][0]


def test_the_automatic1111_image_gets_its_digest_pinned():
    config = json.loads((REPO_ROOT / "renovate.json").read_text())
    assert {"matchDepNames": ["universonic/stable-diffusion-webui"], "pinDigests": True}.items() <= {
        k: v for r in config["packageRules"] if r.get("pinDigests") for k, v in r.items()
    }.items()
