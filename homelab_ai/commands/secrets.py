"""`homelab-ai secrets`: create, rotate, check and re-key the chart's SOPS-encrypted Secrets.

Values are generated in memory and reach sops through its stdin; only ciphertext is ever written,
and only after it has been checked to hold no plaintext value. Every file is prepared before the
first one is written, so a failure (a broken .sops.yaml, a missing key) leaves the repo as it was.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import cdk8s
import yaml

from homelab_ai import sops
from homelab_ai.age_key import check_recipient, default_key_file, recipients_of_key_file, write_new_key
from homelab_ai.errors import HomelabConfigError
from homelab_ai.project import app_spec, load_build, project_root
from homelab_ai.sops_secret import (
    GENERATORS,
    SopsSecret,
    display_path,
    document_problems,
    plaintext_secret_problems,
    sops_secrets,
)

Ask = Callable[[str], str]

_DESCRIPTION = """\
Create, rotate, check and re-key the SOPS-encrypted Secrets that the chart declares (SopsSecret).
Plaintext values exist only in memory and in sops' stdin; only encrypted files are written.

  homelab-ai secrets init               create every declared secret that has no file yet
  homelab-ai secrets init --rotate NAME replace secret NAME with new values
  homelab-ai secrets check              the synth-time checks alone (no private key needed)
  homelab-ai secrets new-key            make your own age key, switch .sops.yaml to it and
                                        re-encrypt every secret (secrets on the demo key get new values)
  homelab-ai secrets use-key --key-file PATH | --recipient AGE1...
                                        the same with a key you already have
  homelab-ai secrets update-keys        re-encrypt every secret to the recipients in .sops.yaml
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "secrets",
        help="create, rotate, check and re-key the SOPS-encrypted secrets",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)

    init = actions.add_parser(
        "init",
        help="create every declared secret that has no encrypted file yet",
        description="Generate the values of every SopsSecret whose file is missing (hex32: 64 hex characters "
        "like `openssl rand -hex 32`; password: 64 URL-safe characters; keys without a generator are asked "
        "for on the terminal), encrypt them with sops and the creation rules of .sops.yaml, and write only "
        "the encrypted files. Existing files are kept unless named with --rotate.",
    )
    init.add_argument(
        "--rotate",
        metavar="NAME",
        action="append",
        default=[],
        help="replace the secret NAME (metadata.name) with new values, even if its file exists; repeatable",
    )
    init.set_defaults(func=run_init)

    check = actions.add_parser(
        "check",
        help="run the synth-time secret checks alone",
        description="Check every SopsSecret's file without decrypting it: present, SOPS-encrypted, every value "
        "ENC[...], name and namespace as declared, every referenced key present, no placeholder, encrypted "
        "for every recipient in .sops.yaml; and that no chart renders a plaintext Secret. Exits 1 on any problem.",
    )
    check.add_argument("--strict", action="store_true", help="also fail on warnings (e.g. the demo key)")
    check.set_defaults(func=run_check)

    new_key = actions.add_parser(
        "new-key",
        help="make your own age key and switch every secret to it",
        description="Generate an age key into --key-file (mode 0600, never overwritten), then do what "
        "`use-key --key-file` does. Back the key file up: without it nobody can decrypt the secrets.",
    )
    new_key.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help=f"where to write the private key (default: sops' own key file, now {default_key_file()})",
    )
    new_key.set_defaults(func=run_new_key)

    use_key = actions.add_parser(
        "use-key",
        help="switch .sops.yaml and every secret to an age key you have",
        description="Set the age recipients of .sops.yaml's creation rules for the secret files, then "
        "re-encrypt every secret to them (see update-keys). Secrets encrypted to the public demo key get new "
        "values, since their old values were never secret.",
    )
    source = use_key.add_mutually_exclusive_group()
    source.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help=f"an age key file; its public keys become the recipients (default: {default_key_file()})",
    )
    source.add_argument(
        "--recipient",
        action="append",
        default=[],
        metavar="AGE1...",
        help="an age public key to encrypt to; repeatable (e.g. a backup key)",
    )
    use_key.set_defaults(func=run_use_key)

    update_keys = actions.add_parser(
        "update-keys",
        help="re-encrypt every secret to the recipients in .sops.yaml",
        description="For every secret whose file is not encrypted to exactly the age recipients of its "
        ".sops.yaml creation rule: values on the public demo key are replaced with new ones; other files are "
        "decrypted in memory (your private key via SOPS_AGE_KEY_FILE or sops' default key file) and encrypted "
        "again. Missing files are created as init does.",
    )
    update_keys.set_defaults(func=run_update_keys)


# --- the chart's secrets ------------------------------------------------------------------------


def load_chart(app_override: str | None) -> tuple[Path, cdk8s.App, list[SopsSecret]]:
    """Build the chart app (no validation: files may be missing) and find its SopsSecrets."""
    root = project_root()
    app, _folders = load_build(root, app_spec(root, app_override))()
    secrets = sops_secrets(app)
    check_one_file_each(secrets)
    return root, app, secrets


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


# --- handlers -----------------------------------------------------------------------------------


def _terminal_ask() -> Ask | None:
    """getpass on the controlling terminal, when there is one (values are never echoed)."""
    return getpass.getpass if sys.stdin.isatty() else None


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def run_init(args: argparse.Namespace) -> int:
    try:
        root, _app, secrets = load_chart(args.app)
        _print(init_secrets(secrets, config_of(root), rotate=args.rotate, ask=_terminal_ask()))
    except (HomelabConfigError, sops.SopsError) as exc:
        return _fail(exc)
    print("next: `homelab-ai secrets check`, then `make synth` and commit (only encrypted files were written)")
    return 0


def run_check(args: argparse.Namespace) -> int:
    try:
        _root, app, secrets = load_chart(args.app)
    except HomelabConfigError as exc:
        return _fail(exc)
    problems: list[str] = []
    warnings: list[str] = []
    for secret in secrets:
        found = secret.problems()
        problems += found
        warnings += secret.synth_warnings()
        if not found:
            print(f"ok      {secret.name} ({display_path(secret.file)}: {', '.join(secret.keys)})")
    problems += plaintext_secret_problems(app)
    for message in warnings:
        print(f"warning: {message}", file=sys.stderr)
    if args.strict:
        problems += [f"(strict) {w}" for w in warnings]
    if problems:
        lines = "".join(f"\n  - {p}" for p in problems)
        print(f"error: synth would refuse the secrets ({len(problems)} problem(s)):{lines}", file=sys.stderr)
        return 1
    print(f"{len(secrets)} secret(s) checked: synth will accept them")
    return 0


def _finish_switch(report: Sequence[str], key_file: Path | None) -> None:
    _print(report)
    load = sops.flux_age_secret_command(key_file or "PATH/TO/YOUR/age.key")
    print("next: `homelab-ai secrets check`, `make synth`, commit; then load the private key into the cluster:")
    print(f"  {load}")


def run_use_key(args: argparse.Namespace) -> int:
    try:
        key_file = None
        if args.recipient:
            recipients = [check_recipient(r) for r in args.recipient]
        else:
            key_file = args.key_file or default_key_file()
            recipients = recipients_of_key_file(key_file)
        root, _app, secrets = load_chart(args.app)
        report = use_key(secrets, root, recipients, ask=_terminal_ask())
    except (HomelabConfigError, sops.SopsError) as exc:
        return _fail(exc)
    _finish_switch(report, key_file)
    return 0


def run_new_key(args: argparse.Namespace) -> int:
    key_file = args.key_file or default_key_file()
    try:
        root, _app, secrets = load_chart(args.app)
        recipient = write_new_key(key_file)
    except HomelabConfigError as exc:
        return _fail(exc)
    print(f"wrote a new age key to {key_file} (mode 0600; public key {recipient}); back it up somewhere safe")
    try:
        report = use_key(secrets, root, [recipient], ask=_terminal_ask())
    except (HomelabConfigError, sops.SopsError) as exc:
        return _fail(exc)
    _finish_switch(report, key_file)
    return 0


def run_update_keys(args: argparse.Namespace) -> int:
    try:
        root, _app, secrets = load_chart(args.app)
        _print(update_keys(secrets, config_of(root), ask=_terminal_ask()))
    except (HomelabConfigError, sops.SopsError) as exc:
        return _fail(exc)
    return 0
