"""`homelab-ai secrets`: create, rotate, check and re-key the chart's SOPS-encrypted Secrets.

The command line around homelab_ai.secrets.secret_files: it finds the chart's SopsSecrets, asks on
the terminal for values without a generator, and prints what changed and what to do next.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import cdk8s

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.secrets import sops
from homelab_ai.secrets.age_key import check_recipient, default_key_file, recipients_of_key_file, write_new_key
from homelab_ai.secrets.secret_files import (
    Ask,
    check_one_file_each,
    config_of,
    init_secrets,
    update_keys,
    use_key,
)
from homelab_ai.secrets.sops_secret import (
    SopsSecret,
    display_path,
    plaintext_secret_problems,
    sops_secrets,
)
from homelab_ai.synth.project import app_spec, load_build, project_root

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
    print("next: `homelab-ai secrets check`, then `homelab-ai synth` and commit (only encrypted files were written)")
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
    print("next: `homelab-ai secrets check`, `homelab-ai synth`, commit; then load the private key into the cluster:")
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
