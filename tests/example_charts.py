"""Render an example repo's homelab.py in-process, with its secrets created on the demo age key in a tmp folder.

The examples are other repos' ``homelab.py`` (``build(root)``); their SOPS files do not exist in
this repo, so each render makes them the way ``homelab-ai secrets init`` does (values typed in
are demo strings), encrypted to the public demo recipient: real sops, real ciphertext.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cdk8s

from homelab_ai.secrets import sops
from homelab_ai.secrets.secret_files import config_with_recipients, init_secrets
from homelab_ai.secrets.sops_secret import sops_secrets

Build = Callable[[Path], tuple[cdk8s.App, dict[str, str]]]
DEMO_TYPED_VALUE = "demo-oidc-client-secret-typed-in-0123456789"


def with_demo_secrets(build: Build, root: Path) -> tuple[cdk8s.App, dict[str, str]]:
    """``build(root)`` after every SopsSecret it declares has an encrypted file under ``root``."""
    app, _ = build(root)
    secrets = sops_secrets(app)
    for secret in secrets:
        secret.file.parent.mkdir(parents=True, exist_ok=True)
    config = root / sops.CONFIG_NAME
    config.write_text(config_with_recipients(config, [s.file for s in secrets], [sops.DEMO_AGE_RECIPIENT]))
    init_secrets(secrets, config, ask=lambda prompt: DEMO_TYPED_VALUE)
    return build(root)
