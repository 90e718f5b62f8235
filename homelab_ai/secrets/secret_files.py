"""Create, rotate, check and re-key the chart's SOPS-encrypted Secret files: the library half of `homelab-ai secrets`.

Values are generated in memory and reach sops through its stdin; only ciphertext is ever written,
and only after it has been checked to hold no plaintext value. Every file is prepared before the
first one is written, so a failure (a broken .sops.yaml, a missing key) leaves the repo as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.secrets import sops
from homelab_ai.secrets.sops_secret import (
    GENERATORS,
    SopsSecret,
    display_path,
    document_problems,
)

Ask = Callable[[str], str]
"""Asks the user for a value with a prompt (getpass on a terminal); never echoed."""


def check_one_file_each(secrets: Sequence[SopsSecret]) -> None:
    """Two SopsSecrets on one file would overwrite each other's values."""
    by_file: dict[Path, str] = {}
    for secret in secrets:
        other = by_file.setdefault(secret.file.resolve(), secret.name)
        if other != secret.name:
            raise HomelabConfigError(
                f"SopsSecret({secret.name}).file",
                f"{display_path(secret.file)} is also the file of SopsSecret {other!r}",
                f"give each SopsSecret its own file, e.g. apps/secrets/{secret.name}.sops.yaml",
            )


def config_of(root: Path) -> Path:
    config = root / sops.CONFIG_NAME
    if not config.is_file():
        raise HomelabConfigError(
            sops.CONFIG_NAME,
            f"{config} does not exist, so sops has no creation rule to encrypt with",
            "run `homelab-ai secrets new-key` (it creates your key and .sops.yaml)",
        )
    return config


def generate_values(secret: SopsSecret, ask: Ask | None) -> dict[str, str]:
    """New values for every key of ``secret``: its generator, else asked for (never echoed)."""
    values: dict[str, str] = {}
    for key in secret.keys:
        kind = secret.props.generators.get(key)
        if kind is not None:
            values[key] = GENERATORS[kind]()
            continue
        if ask is None:
            raise HomelabConfigError(
                f"SopsSecret({secret.name}).generators",
                f"key {key!r} has no generator and there is no terminal to ask for its value",
                f"run `homelab-ai secrets init --rotate {secret.name}` in a terminal (it asks without echo), or "
                f"give {key!r} a generator ({', '.join(GENERATORS)})",
            )
        value = ask(f"value of {key!r} for Secret {secret.name!r} (not echoed): ")
        if not value:
            raise HomelabConfigError(f"SopsSecret({secret.name})", f"empty value for {key!r}", "type a value")
        values[key] = value
    return values


def encrypt_secret(secret: SopsSecret, values: Mapping[str, str], config: Path, env: Mapping[str, str] | None) -> bytes:
    """Encrypt a Secret manifest with ``values`` through sops' stdin and refuse any ciphertext that leaks."""
    plaintext = yaml.safe_dump(secret.plaintext_manifest(values), sort_keys=False, width=1_000_000).encode()
    return verified_ciphertext(secret, _sops_encrypt(plaintext, secret, config, env), values.values())


def _sops_encrypt(plaintext: bytes, secret: SopsSecret, config: Path, env: Mapping[str, str] | None) -> bytes:
    try:
        return sops.encrypt(plaintext, secret.file, config=config, env=env)
    except sops.SopsError as exc:
        raise HomelabConfigError(
            sops.CONFIG_NAME,
            str(exc),
            f"repair the creation rule for {display_path(secret.file)} (restore the file with "
            "`git checkout -- .sops.yaml`), or switch to your own key with `homelab-ai secrets new-key`",
        ) from None


def verified_ciphertext(secret: SopsSecret, ciphertext: bytes, values: Iterable[str]) -> bytes:
    """``ciphertext`` if it passes the synth checks and holds none of ``values``; else nothing is written."""
    where = f"SopsSecret {secret.name!r} ({display_path(secret.file)})"
    leaked = any(value and value.encode() in ciphertext for value in values)
    try:
        doc = yaml.safe_load(ciphertext)
    except yaml.YAMLError:
        doc = None
    problems = [] if isinstance(doc, dict) else [f"{where}: sops returned no YAML document"]
    if isinstance(doc, dict):
        problems = document_problems(doc, where=where, name=secret.name, namespace=secret.namespace, keys=secret.keys)
    if leaked or problems:
        raise HomelabConfigError(
            sops.CONFIG_NAME,
            f"sops output for {display_path(secret.file)} is not safe to write "
            f"({'a plaintext value is in it' if leaked else '; '.join(problems)}); nothing was written",
            f"give the creation rule that matches {display_path(secret.file)} `encrypted_regex: "
            f"{sops.ENCRYPTED_REGEX}` and an age recipient, then run the command again",
        )
    return ciphertext


def replace_file(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` (ciphertext or public keys only) in one rename; no stray file on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_all(prepared: Sequence[tuple[SopsSecret, bytes]]) -> None:
    for secret, ciphertext in prepared:
        replace_file(secret.file, ciphertext)


def init_secrets(
    secrets: Sequence[SopsSecret],
    config: Path,
    *,
    rotate: Sequence[str] = (),
    ask: Ask | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Create missing secret files and those named in ``rotate``; return one report line per secret."""
    names = [s.name for s in secrets]
    for name in rotate:
        if name not in names:
            raise HomelabConfigError(
                "--rotate",
                f"no SopsSecret named {name!r} in the chart (declared: {', '.join(names) or 'none'})",
                f"use one of the declared names, e.g. `homelab-ai secrets init --rotate {names[0]}`"
                if names
                else "declare a SopsSecret first",
            )
    prepared = []
    report = []
    for secret in secrets:
        if secret.name in rotate or not secret.file.exists():
            prepared.append((secret, encrypt_secret(secret, generate_values(secret, ask), config, env)))
            verb = "rotated" if secret.file.exists() else "created"
            report.append(f"{verb} {display_path(secret.file)} (Secret {secret.name}: {', '.join(secret.keys)})")
        else:
            report.append(f"kept    {display_path(secret.file)} (exists; `--rotate {secret.name}` replaces it)")
    _write_all(prepared)
    return report


def update_keys(
    secrets: Sequence[SopsSecret],
    config: Path,
    *,
    ask: Ask | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Re-encrypt every secret whose recipients differ from its creation rule's; see ``update-keys --help``."""
    rules = sops.load_config(config)
    prepared = []
    report = []
    for secret in secrets:
        shown = display_path(secret.file)
        if not secret.file.exists():
            prepared.append((secret, encrypt_secret(secret, generate_values(secret, ask), config, env)))
            report.append(f"created {shown}")
            continue
        doc = _sops_document(secret)
        rule = sops.creation_rule(rules, config, secret.file)
        if rule is None:
            raise HomelabConfigError(
                sops.CONFIG_NAME,
                f"no creation rule matches {shown}",
                "run `homelab-ai secrets use-key` (it adds one), or add a path_regex for it",
            )
        wanted = sops.rule_age_recipients(rule)
        have = sops.file_age_recipients(doc)
        if sorted(have) == sorted(wanted):
            report.append(f"kept    {shown} (already encrypted to .sops.yaml's recipients)")
        elif sops.DEMO_AGE_RECIPIENT in have and sops.DEMO_AGE_RECIPIENT not in wanted:
            prepared.append((secret, encrypt_secret(secret, generate_values(secret, ask), config, env)))
            report.append(f"rotated {shown} (new values: the old ones were on the public demo key)")
        else:
            _refuse_to_carry_over_problems(secret, doc)
            prepared.append((secret, _reencrypt(secret, config, env)))
            report.append(f"re-encrypted {shown} (same values, new recipients)")
    _write_all(prepared)
    return report


def _sops_document(secret: SopsSecret) -> dict:
    try:
        doc = yaml.safe_load(secret.file.read_bytes())
    except yaml.YAMLError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("sops"), dict):
        raise HomelabConfigError(
            f"SopsSecret({secret.name})",
            f"{display_path(secret.file)} is not a SOPS-encrypted file, so it cannot be re-encrypted",
            f"run `homelab-ai secrets init --rotate {secret.name}`",
        )
    return doc


def _refuse_to_carry_over_problems(secret: SopsSecret, doc: Mapping) -> None:
    """Re-encryption keeps the content, so a file that synth would refuse must be rotated instead."""
    where = f"SopsSecret {secret.name!r} ({display_path(secret.file)})"
    problems = document_problems(doc, where=where, name=secret.name, namespace=secret.namespace, keys=secret.keys)
    if problems:
        raise HomelabConfigError(
            f"SopsSecret({secret.name})",
            f"re-encrypting would keep what is wrong with it: {'; '.join(problems)}",
            f"give it new values with `homelab-ai secrets init --rotate {secret.name}`",
        )


def _reencrypt(secret: SopsSecret, config: Path, env: Mapping[str, str] | None) -> bytes:
    """Decrypt to memory with the caller's private key, encrypt again with the current creation rule."""
    try:
        plaintext = sops.decrypt(secret.file, env=env)
    except sops.SopsError as exc:
        raise HomelabConfigError(
            f"SopsSecret({secret.name})",
            f"cannot decrypt {display_path(secret.file)} to re-encrypt it ({exc})",
            "point SOPS_AGE_KEY_FILE at the private key it is encrypted for, or give it new values with "
            f"`homelab-ai secrets init --rotate {secret.name}`",
        ) from None
    doc = yaml.safe_load(plaintext)
    values = [str(v) for section in ("data", "stringData") for v in ((doc or {}).get(section) or {}).values()]
    return verified_ciphertext(secret, _sops_encrypt(plaintext, secret, config, env), values)


# --- .sops.yaml ---------------------------------------------------------------------------------

_WHAT_TO_ENCRYPT = ("encrypted_regex", "unencrypted_regex", "encrypted_suffix", "unencrypted_suffix")
_CONFIG_HEADER = """\
# SOPS creation rules for homelab-ai (`homelab-ai secrets use-key` writes this file). Only
# data/stringData are encrypted, so names, keys and metadata stay readable for review and for
# `homelab-ai secrets check`. Flux decrypts with the private key in Secret flux-system/sops-age.
"""
_DEMO_NOTE = """\
#
# The recipient below is the DEMO key (private half in tests/fixtures/demo-age.key, public on
# purpose). Replace it with your own before creating real secrets: `homelab-ai secrets new-key`.
"""


def config_with_recipients(config: Path, files: Sequence[Path], recipients: Sequence[str]) -> str:
    """``.sops.yaml``'s text with ``recipients`` as the age keys of every rule that matches ``files``.

    Rules for other files are kept; files that no rule matches get a rule for their folder.
    """
    data = sops.load_config(config) if config.is_file() else {"creation_rules": []}
    rules = data["creation_rules"]
    age = ",".join(recipients)
    for file in files:
        rule = sops.creation_rule(data, config, file)
        if rule is None:
            folder = Path(sops.relative_to_config(config, file)).parent.as_posix()
            rule = {"path_regex": rf"(^|/){re.escape(folder)}/[^/]+\.sops\.yaml$"}
            rules.append(rule)
        if rule.get("key_groups"):
            raise HomelabConfigError(
                sops.CONFIG_NAME,
                f"the rule for {display_path(file)} uses key_groups, which homelab-ai does not rewrite",
                "set its age recipients by hand, then run `homelab-ai secrets update-keys`",
            )
        if not any(k in rule for k in _WHAT_TO_ENCRYPT):
            rule["encrypted_regex"] = sops.ENCRYPTED_REGEX
        rule["age"] = age
    header = _CONFIG_HEADER + (_DEMO_NOTE if sops.DEMO_AGE_RECIPIENT in recipients else "")
    return header + yaml.safe_dump(data, sort_keys=False, width=1_000_000)


def use_key(
    secrets: Sequence[SopsSecret],
    root: Path,
    recipients: Sequence[str],
    *,
    ask: Ask | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Point .sops.yaml at ``recipients`` and re-encrypt every secret; on failure .sops.yaml is restored."""
    config = root / sops.CONFIG_NAME
    before = config.read_bytes() if config.is_file() else None
    text = config_with_recipients(config, [s.file for s in secrets], recipients)
    replace_file(config, text.encode())
    try:
        report = update_keys(secrets, config, ask=ask, env=env)
    except BaseException:
        if before is None:
            config.unlink(missing_ok=True)
        else:
            replace_file(config, before)
        raise
    return [f"{display_path(config)}: age recipients now {', '.join(recipients)}", *report]
