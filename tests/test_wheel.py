"""The wheel is the product: built from a clean copy, installed into a fresh venv, used from another repo.

An editable install hides packaging bugs (a file that is not package data is there in the checkout
and missing from the wheel), so these tests never import homelab_ai from this repo: they run the
installed wheel's Python and `homelab-ai` command in folders outside the repo, the way a user does
after `pip install homelab-ai`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.crd_schemas import schema_problems

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples/speech_to_text.py"
TIMEOUT = 300


def _outside_env() -> dict[str, str]:
    """This process's environment without what points Python at the repo (pip would see homelab_ai installed)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = _outside_env() if env is None else env
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _clean_copy(target: Path) -> Path:
    """The repo's files as a clone would have them (tracked and new, never ignored ones: no .venv, no build/)."""
    listed = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO_ROOT)
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = _clean_copy(root / "src")
    built = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(root / "out"), "."], source)
    assert built.returncode == 0, built.stderr
    (found,) = (root / "out").glob("homelab_ai-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and its dependencies (and the `secrets` extra: sops, age keys).

    The venv gets no pip of its own (installing one costs more than the rest): this pip installs into it
    (`pip --python`), resolving the wheel's dependencies from its metadata as `pip install` in the venv would.
    """
    root = tmp_path_factory.mktemp("venv") / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(root)], REPO_ROOT.parent)
    assert created.returncode == 0, created.stderr
    python = root / "bin/python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile"]
    installed = _run([*install, f"{wheel}[secrets]"], root.parent)
    assert installed.returncode == 0, installed.stderr
    return root


def _user_env(venv: Path, **extra: str) -> dict[str, str]:
    """The user's shell: the venv's commands first, nothing of this repo on the Python path."""
    env = _outside_env()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", SOPS_DISABLE_VERSION_CHECK="1", **extra)
    return env


def test_wheel_holds_homelab_ai_and_nothing_else_at_top_level(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"homelab_ai", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}


def test_wheel_ships_every_generated_binding_with_its_jsii_tarball(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tarballs = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "homelab_ai/_crds").rglob("*.jsii.tgz"))
    assert len(tarballs) == 3  # Flux Kustomization, Flux HelmRelease, Longhorn RecurringJob
    assert [t for t in tarballs if t not in names] == []


def test_wheel_ships_the_in_pod_programs_and_py_typed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "homelab_ai/py.typed",
        "homelab_ai/services/ollama/ollama_pull.py",
        "homelab_ai/services/stable_diffusion/sd_fetch_models.py",
        "homelab_ai/services/stable_diffusion/sd_idle_unloader.py",
        "homelab_ai/cluster/longhorn/longhorn_jobs.py",
    } <= names


def test_wheel_ships_the_schema_of_the_doctors_json_report(wheel):
    assert "homelab_ai/ops/doctor_report.schema.json" in zipfile.ZipFile(wheel).namelist()


def test_wheel_metadata_has_an_spdx_license_expression(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    assert "License-Expression: Apache-2.0" in lines


def test_installed_wheel_works_beside_a_users_own_imports_package(venv, tmp_path):
    """A cdk8s project's own `imports/` (with an __init__.py) first on sys.path shadows nothing of ours."""
    user = tmp_path / "user-chart"
    (user / "imports").mkdir(parents=True)
    (user / "imports/__init__.py").write_text("MARK = 'users own imports'\n")
    code = """
import imports, cdk8s, homelab_ai
from homelab_ai.synth.dist import render
assert imports.MARK == 'users own imports'
app = cdk8s.App()
infra = cdk8s.Chart(app, 'infra')
gpu = homelab_ai.SharedGpu(infra, 'Gpu', homelab_ai.SharedGpuProps(card='NVIDIA GeForce RTX 4090', vram_gib=24))
flux = cdk8s.Chart(app, 'flux')
props = homelab_ai.FluxKustomizationProps(name='infra', folder='infra', charts=[infra])
homelab_ai.FluxKustomization(flux, 'Infra', props)
files = render(app, {'infra': 'infra', 'flux': 'flux'})
print(homelab_ai.__file__)
print(sorted(f.path for f in files))
"""
    result = _run([str(venv / "bin/python"), "-c", code], user, _user_env(venv, PYTHONPATH=str(user)))
    assert result.returncode == 0, result.stderr
    location, paths = result.stdout.splitlines()[-2:]
    assert location.startswith(str(venv))
    assert "flux/kustomization-infra.yaml" in paths
    assert "infra/configmap-nvidia-time-slicing.yaml" in paths


# --- a repo of one's own, as the library guide walks through it ---------------------------------


@pytest.fixture(scope="module")
def initialized(venv, tmp_path_factory) -> Path:
    """What `homelab-ai init` writes into a new folder, run once: read it, or copy it before changing it."""
    root = tmp_path_factory.mktemp("init")
    result = _run(["homelab-ai", "init", str(root / "new")], root, _user_env(venv))
    assert result.returncode == 0, result.stderr
    return root / "new"


@pytest.fixture(scope="module")
def user_repo(venv, initialized, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """`homelab-ai init` (a copy of its folder), the guide's example as homelab.py, your own age key: the guide's
    steps."""
    root = tmp_path_factory.mktemp("user")
    repo, key = root / "my-homelab", root / "age.agekey"
    env = _user_env(venv, SOPS_AGE_KEY_FILE=str(key))
    shutil.copytree(initialized, repo)
    shutil.copy(EXAMPLE, repo / "homelab.py")
    for step in (
        ["homelab-ai", "secrets", "new-key", "--key-file", str(key)],
        ["homelab-ai", "secrets", "check"],
        ["homelab-ai", "synth"],
        ["homelab-ai", "docs"],
    ):
        done = _run(step, repo, env)
        assert done.returncode == 0, f"{' '.join(step)}: {done.stderr}"
    return repo, env


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_writes_a_repo_that_homelab_ai_and_cdk8s_find(initialized):
    assert sorted(_tree(initialized)) == [
        ".gitignore",
        "README.md",
        "cdk8s.yaml",
        "homelab.py",
        "pyproject.toml",
        "secrets/.gitkeep",
    ]
    assert yaml.safe_load((initialized / "cdk8s.yaml").read_text())["app"] == "homelab-ai synth"


def test_init_refuses_to_overwrite_a_file(venv, tmp_path):
    (tmp_path / "homelab.py").write_text("# mine\n")
    result = _run(["homelab-ai", "init", str(tmp_path)], tmp_path, _user_env(venv))
    assert result.returncode == 1
    assert "already has homelab.py" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "homelab.py").read_text() == "# mine\n"


def test_user_repo_dist_holds_their_stack_and_their_app(user_repo):
    repo, _ = user_repo
    dist = _tree(repo / "dist")
    assert "speech/deployment-whisper.yaml" in dist
    assert "flux/kustomization-homelab-ai-speech.yaml" in dist
    webui = yaml.safe_load(dist["ai/service-open-webui.yaml"])
    assert webui["metadata"]["annotations"]["metallb.io/loadBalancerIPs"] == "192.168.1.240"
    whisper = yaml.safe_load(dist["speech/deployment-whisper.yaml"])
    assert whisper["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_user_repo_secrets_are_encrypted_to_their_key_and_copied_byte_for_byte(user_repo):
    repo, _ = user_repo
    for name in ("open-webui", "stable-diffusion"):
        source = (repo / f"secrets/{name}.sops.yaml").read_bytes()
        assert (repo / f"dist/ai/secret-{name}-secret.sops.yaml").read_bytes() == source
        assert b"ENC[AES256_GCM," in source
    assert "age1" in (repo / ".sops.yaml").read_text()


def test_user_repo_output_is_valid_kubernetes_and_valid_custom_resources(user_repo):
    repo, _ = user_repo
    failures = [
        f"{path}: {problem}"
        for path, content in _tree(repo / "dist").items()
        if not path.endswith(("kustomization.yaml", ".sops.yaml", ".homelab-ai-dist"))  # the last: the synth's marker
        for problem in schema_problems(yaml.safe_load(content))
    ]
    assert failures == []


def test_user_repo_budget_counts_their_app_on_the_stacks_card(user_repo):
    repo, _ = user_repo
    page = (repo / "docs/ai-namespace.md").read_text()
    assert "| whisper | 0 GiB | 1-2 GiB | MODEL_IDLE_TIMEOUT, after 5m idle |" in page
    assert "ollama 16 + stable-diffusion 12 + whisper 2 = 30 GiB on a 24 GiB card, 6 GiB over" in page
    assert "3 of 4 slices are taken" in page


def test_cdk8s_synth_with_the_users_cdk8s_yaml_writes_the_same_dist(user_repo, tmp_path):
    repo, env = user_repo
    cli = REPO_ROOT / "node_modules/.bin/cdk8s"
    assert cli.exists(), "node_modules/.bin/cdk8s missing: run `make test` (it runs `npm ci`)"
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy)
    before = _tree(copy / "dist")
    shutil.rmtree(copy / "dist")
    result = _run([str(cli), "synth", "--no-check-upgrade"], copy, env)
    assert result.returncode == 0, result.stderr
    assert _tree(copy / "dist") == before


def test_an_app_that_overbooks_the_stacks_card_is_refused(user_repo, tmp_path):
    repo, env = user_repo
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy)
    facts = copy / "homelab.py"
    facts.write_text(
        facts.read_text().replace("active_min_gib=1, active_max_gib=2", "active_min_gib=20, active_max_gib=30")
    )
    before = _tree(copy / "dist")
    result = _run(["homelab-ai", "synth"], copy, env)
    assert result.returncode == 1
    assert "whisper" in result.stderr and "30 GiB" in result.stderr
    assert "Traceback" not in result.stderr
    assert _tree(copy / "dist") == before
