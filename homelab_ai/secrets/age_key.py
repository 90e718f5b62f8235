"""age keys for SOPS: make one, find the default key file, read the public half of a key file.

Key generation uses PyPI ``pyrage`` (the ``secrets`` extra), so no ``age-keygen`` binary is needed.
A new key file is created 0600 in one step and never overwritten.
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

from homelab_ai.base.errors import HomelabConfigError


def _pyrage():
    try:
        import pyrage
    except ImportError:
        raise HomelabConfigError(
            "age key",
            "pyrage is not installed",
            "run `pip install 'homelab-ai[secrets]'` (or `make venv` in the repo)",
        ) from None
    return pyrage


def default_key_file() -> Path:
    """Where sops looks for age private keys when SOPS_AGE_KEY_FILE is not set."""
    if os.environ.get("SOPS_AGE_KEY_FILE"):
        return Path(os.environ["SOPS_AGE_KEY_FILE"]).expanduser()
    if os.environ.get("XDG_CONFIG_HOME"):
        base = Path(os.environ["XDG_CONFIG_HOME"])
    elif platform.system() == "Darwin":
        base = Path.home() / "Library" / "Application Support"
    elif platform.system() == "Windows":
        base = Path(os.environ.get("APPDATA", Path.home()))
    else:
        base = Path.home() / ".config"
    return base / "sops" / "age" / "keys.txt"


def check_recipient(recipient: str) -> str:
    """``recipient`` if it is a valid age public key (``age1...``), else a HomelabConfigError."""
    try:
        _pyrage().x25519.Recipient.from_str(recipient)
    except Exception:
        raise HomelabConfigError(
            "--recipient",
            f"{recipient!r} is not an age public key",
            "pass the 'public key: age1...' line of your key file, or use --key-file",
        ) from None
    return recipient


def recipients_of_key_file(path: Path) -> list[str]:
    """The public keys of every ``AGE-SECRET-KEY-`` line in ``path`` (the age-keygen format)."""
    pyrage = _pyrage()
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise HomelabConfigError(
            "--key-file",
            f"cannot read {path} ({exc.strerror})",
            f"check the path, or create a key with `homelab-ai secrets new-key --key-file {path}`",
        ) from None
    recipients = []
    for line in lines:
        line = line.strip()
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                recipients.append(str(pyrage.x25519.Identity.from_str(line).to_public()))
            except Exception:
                raise HomelabConfigError(
                    "--key-file", f"{path} has a malformed AGE-SECRET-KEY line", "restore the key file from your backup"
                ) from None
    if not recipients:
        raise HomelabConfigError(
            "--key-file",
            f"{path} holds no age private key (no AGE-SECRET-KEY- line)",
            f"create one with `homelab-ai secrets new-key --key-file {path}`",
        )
    return recipients


def write_new_key(path: Path) -> str:
    """Generate an age key into a new file ``path`` (mode 0600; never overwrites); return its public key."""
    pyrage = _pyrage()
    if path.exists():
        raise HomelabConfigError(
            "--key-file",
            f"{path} already exists, and homelab-ai never overwrites a key file",
            f"use the key in it with `homelab-ai secrets use-key --key-file {path}`, "
            "or pick another path with `homelab-ai secrets new-key --key-file PATH`",
        )
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    text = f"# created: {created}\n# public key: {recipient}\n{identity}\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return recipient
