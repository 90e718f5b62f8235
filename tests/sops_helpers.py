"""Real sops, real age keys: a throwaway copy of the repo, the CLI run in it, and leak scans."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyrage
import yaml

from homelab_ai.secrets import sops
from tests.helpers import run_cli_in_process

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_AGE_KEY = REPO_ROOT / "tests/fixtures/demo-age.key"
SECRET_FILES = ("apps/secrets/open-webui.sops.yaml", "apps/secrets/stable-diffusion.sops.yaml")
DIST_SECRETS = {
    "apps/secrets/open-webui.sops.yaml": "dist/ai/secret-open-webui-secret.sops.yaml",
    "apps/secrets/stable-diffusion.sops.yaml": "dist/ai/secret-stable-diffusion-secret.sops.yaml",
}


def new_age_key(path: Path) -> str:
    """A fresh age key written to ``path`` (age-keygen format); returns its public key."""
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    path.write_text(f"# public key: {recipient}\n{identity}\n")
    path.chmod(0o600)
    return recipient


def copy_repo(target: Path, recipient: str, *, with_secrets: bool = False) -> Path:
    """The chart's project (apps/, pyproject.toml, .sops.yaml for ``recipient``) in ``target``.

    homelab_ai itself is installed (editable), so the copy needs only what a user's repo holds.
    """
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO_ROOT / "apps", target / "apps", ignore=shutil.ignore_patterns("__pycache__"))
    if not with_secrets:
        for name in SECRET_FILES:
            (target / name).unlink()
    shutil.copy2(REPO_ROOT / "pyproject.toml", target / "pyproject.toml")
    config = (REPO_ROOT / ".sops.yaml").read_text().replace(sops.DEMO_AGE_RECIPIENT, recipient)
    (target / ".sops.yaml").write_text(config)
    return target


def cli_env(key_file: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for a CLI run: no private key unless given, no user config read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env.update(JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", SOPS_DISABLE_VERSION_CHECK="1")
    if key_file is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key_file)
    env.update(extra)
    return env


def run_cli(cwd: Path, *args: str, key_file: Path | None = None, **extra_env: str) -> subprocess.CompletedProcess:
    """`homelab-ai ARGS` in ``cwd`` as a user runs it (its own environment, stdin not a terminal), in
    this process: the command's code path without a new Python and jsii per call (tests/helpers.py)."""
    return run_cli_in_process(cwd, *args, env=cli_env(key_file, **extra_env))


def run_cli_process(
    cwd: Path, *args: str, key_file: Path | None = None, **extra_env: str
) -> subprocess.CompletedProcess:
    """`homelab-ai ARGS` in ``cwd`` as its own process: for the few true end-to-end tests."""
    return subprocess.run(
        [sys.executable, "-m", "homelab_ai.cli", *args],
        cwd=cwd,
        env=cli_env(key_file, **extra_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def decrypt_values(path: Path, key_file: Path) -> dict[str, str]:
    """``stringData`` of an encrypted Secret, decrypted with ``key_file`` by the sops binary."""
    doc = yaml.safe_load(sops.decrypt(path, env={"SOPS_AGE_KEY_FILE": str(key_file)}))
    return {str(k): str(v) for k, v in doc["stringData"].items()}


def files_under(root: Path, *, skip: Iterable[str] = (".git", "__pycache__")) -> Iterator[Path]:
    skipped = set(skip)
    for path in root.rglob("*"):
        if path.is_file() and not skipped.intersection(path.relative_to(root).parts):
            yield path


def files_containing(root: Path, values: Iterable[str], *, skip: Iterable[str] = (".git",)) -> list[str]:
    """Files under ``root`` whose bytes contain any of ``values``: a plaintext leak."""
    needles = [v.encode() for v in values if v]
    return [str(p) for p in files_under(root, skip=skip) if any(n in p.read_bytes() for n in needles)]


def unencrypted_secrets(paths: Iterable[Path]) -> list[str]:
    """YAML documents of kind Secret that are not SOPS-encrypted, or have a value that is not ENC[...]."""
    found = []
    for path in paths:
        if path.suffix not in (".yaml", ".yml"):
            continue
        try:
            docs = list(yaml.safe_load_all(path.read_bytes()))
        except yaml.YAMLError:
            continue
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "Secret":
                continue
            values = [*(doc.get("data") or {}).values(), *(doc.get("stringData") or {}).values()]
            if "sops" not in doc or not all(str(v).startswith("ENC[AES256_GCM,") for v in values):
                found.append(str(path))
    return found


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
