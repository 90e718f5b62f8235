"""Secrets: each SOPS file, its keys, who reads them, and the commands to set them up."""

from __future__ import annotations

from homelab_ai.cluster.flux_kustomization import AGE_KEY_ENTRY, FLUX_NAMESPACE
from homelab_ai.secrets.sops_secret import SopsSecret
from homelab_ai.synth.docs.page import (
    _GENERATORS,
    Page,
    code,
    shell,
    table,
)


def _secret_users(page: Page, secret: SopsSecret) -> str:
    users = [
        f"{w.name} ({code(env)})"
        for w in page.workloads
        for env, ref in w.props.secret_env.items()
        if ref.secret_name == secret.name
    ]
    return ", ".join(users) or "-"


def secrets_section(page: Page) -> str | None:
    if not page.secrets:
        return None
    root = page.model.project_root
    rows = []
    folders: list[str] = []
    for secret in page.secrets:
        try:
            file = secret.file.resolve().relative_to(root.resolve())
        except ValueError:
            file = secret.file
        if f"{file.parent.as_posix()}/" not in folders:
            folders.append(f"{file.parent.as_posix()}/")
        generated = ", ".join(
            f"{key}: {_GENERATORS.get(secret.props.generators.get(key, ''), 'by hand')}" for key in secret.props.keys
        )
        rows.append((secret.name, code(str(file)), generated, _secret_users(page, secret)))
    decrypting = [f for f in page.model.flux if f.decrypts_sops]
    key_secret = decrypting[0].props.sops_secret_name if decrypting else "sops-age"
    key_namespace = decrypting[0].namespace if decrypting else FLUX_NAMESPACE
    parts = [
        "## Secrets setup",
        "Secrets exist in the repo only SOPS-encrypted (values only; names and keys stay readable), and the "
        "synth refuses a missing, unencrypted or placeholder one. These are the secrets of this namespace:",
        table(("Secret", "Encrypted file", "Keys (how they are made)", "Used by (env)"), rows),
        "1. Use your own age key, not the demo one: make it and put its public key (`age1...`) in the "
        "creation rule of `.sops.yaml`. Keep the private key out of git.",
        shell("age-keygen -o age.agekey"),
        "2. Create every secret that has no encrypted file yet (values are generated and encrypted, never "
        "written in plaintext), and check them:",
        shell(
            "homelab-ai secrets init",
            "homelab-ai secrets check",
            f"# replace one, e.g.: homelab-ai secrets init --rotate {page.secrets[0].name}",
        ),
        f"3. Give Flux the private key: Secret `{key_secret}` in `{key_namespace}`, key `{AGE_KEY_ENTRY}`.",
        shell(
            f"kubectl create secret generic {key_secret} --namespace={key_namespace} "
            f"--from-file={AGE_KEY_ENTRY}=age.agekey"
        ),
        f"4. `homelab-ai synth` and `homelab-ai docs` (`make synth` runs both), commit "
        f"{', '.join(code(f) for f in folders)}, `dist/` and `docs/`, and push.",
    ]
    return "\n\n".join(parts)
