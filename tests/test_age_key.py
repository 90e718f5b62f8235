"""age keys: made with pyrage, written 0600, never overwritten; public keys read from key files."""

from __future__ import annotations

import stat

import pyrage
import pytest

from homelab_ai import HomelabConfigError
from homelab_ai.secrets.age_key import check_recipient, default_key_file, recipients_of_key_file, write_new_key
from homelab_ai.secrets.sops import DEMO_AGE_RECIPIENT
from tests.sops_helpers import DEMO_AGE_KEY


def test_new_key_file_is_private_and_in_age_keygen_format(tmp_path):
    path = tmp_path / "sops/age/keys.txt"
    recipient = write_new_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    lines = path.read_text().splitlines()
    assert lines[1] == f"# public key: {recipient}"
    assert str(pyrage.x25519.Identity.from_str(lines[2]).to_public()) == recipient


def test_new_key_never_overwrites_a_key_file(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("precious")
    with pytest.raises(HomelabConfigError, match=r"already exists.*`homelab-ai secrets use-key --key-file "):
        write_new_key(path)
    assert path.read_text() == "precious"


def test_recipients_of_the_demo_key_file_is_the_demo_recipient():
    assert recipients_of_key_file(DEMO_AGE_KEY) == [DEMO_AGE_RECIPIENT]


def test_a_file_without_a_key_is_refused_with_new_key(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("# nothing\n")
    with pytest.raises(HomelabConfigError, match=r"holds no age private key.*`homelab-ai secrets new-key --key-file "):
        recipients_of_key_file(path)


def test_a_missing_key_file_is_refused_with_new_key(tmp_path):
    with pytest.raises(HomelabConfigError, match=r"cannot read .*`homelab-ai secrets new-key --key-file "):
        recipients_of_key_file(tmp_path / "absent.txt")


def test_a_malformed_recipient_is_refused():
    with pytest.raises(HomelabConfigError, match=r"'age1broken' is not an age public key"):
        check_recipient("age1broken")


def test_default_key_file_follows_sops(monkeypatch, tmp_path):
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_key_file() == tmp_path / "sops/age/keys.txt"
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "mine.txt"))
    assert default_key_file() == tmp_path / "mine.txt"
