"""The sops wrapper: real sops, plaintext in through stdin, ciphertext out, .sops.yaml read like sops does."""

from __future__ import annotations

from pathlib import Path

import pyrage
import pytest
import yaml

from homelab_ai.secrets import sops
from tests.sops_helpers import DEMO_AGE_KEY, files_containing


def _config(root: Path, text: str) -> Path:
    (root / ".sops.yaml").write_text(text)
    return root / ".sops.yaml"


RULES = (
    "creation_rules:\n"
    "  - path_regex: (^|/)apps/secrets/[^/]+\\.sops\\.yaml$\n"
    f"    encrypted_regex: ^(data|stringData)$\n    age: {sops.DEMO_AGE_RECIPIENT}\n"
)
PLAIN = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\nstringData:\n  TOKEN: s3cr3t-marker-value\n"


@pytest.mark.slow
def test_encrypt_reads_stdin_and_writes_no_file(tmp_path):
    config = _config(tmp_path, RULES)
    before = sorted(tmp_path.rglob("*"))
    ciphertext = sops.encrypt(PLAIN, tmp_path / "apps/secrets/web.sops.yaml", config=config)
    assert sorted(tmp_path.rglob("*")) == before
    assert b"s3cr3t-marker-value" not in ciphertext
    doc = yaml.safe_load(ciphertext)
    assert doc["metadata"] == {"name": "web"}
    assert doc["stringData"]["TOKEN"].startswith("ENC[AES256_GCM,")
    assert sops.file_age_recipients(doc) == [sops.DEMO_AGE_RECIPIENT]


@pytest.mark.slow
def test_decrypt_returns_the_plaintext_with_the_private_key(tmp_path):
    config = _config(tmp_path, RULES)
    target = tmp_path / "apps/secrets/web.sops.yaml"
    target.parent.mkdir(parents=True)
    target.write_bytes(sops.encrypt(PLAIN, target, config=config))
    plain = yaml.safe_load(sops.decrypt(target, env={"SOPS_AGE_KEY_FILE": str(DEMO_AGE_KEY)}))
    assert plain["stringData"] == {"TOKEN": "s3cr3t-marker-value"}
    assert files_containing(tmp_path, ["s3cr3t-marker-value"]) == []


@pytest.mark.slow
def test_decrypt_without_the_key_is_a_sops_error(tmp_path, monkeypatch):
    config = _config(tmp_path, RULES)
    target = tmp_path / "apps/secrets/web.sops.yaml"
    target.parent.mkdir(parents=True)
    target.write_bytes(sops.encrypt(PLAIN, target, config=config))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(sops.SopsError, match=r"sops could not decrypt .*web.sops.yaml: Failed to get the data key"):
        sops.decrypt(target, env={"SOPS_AGE_KEY_FILE": str(tmp_path / "none.txt")})


@pytest.mark.slow
def test_encrypt_without_a_matching_rule_is_a_sops_error(tmp_path):
    config = _config(tmp_path, RULES)
    with pytest.raises(sops.SopsError, match=r"could not encrypt other/web.sops.yaml .*no matching creation rules"):
        sops.encrypt(PLAIN, tmp_path / "other/web.sops.yaml", config=config)


def test_creation_rule_is_the_first_match_relative_to_the_config(tmp_path):
    config = _config(tmp_path, "creation_rules:\n  - path_regex: ^apps/\n    age: age1a\n  - age: age1b\n")
    rules = sops.load_config(config)
    assert sops.creation_rule(rules, config, tmp_path / "apps/secrets/x.sops.yaml")["age"] == "age1a"
    assert sops.creation_rule(rules, config, tmp_path / "other/x.sops.yaml")["age"] == "age1b"


def test_rule_recipients_read_comma_lists_and_key_groups():
    rule = {"age": "age1a, age1b\n", "key_groups": [{"age": ["age1c"]}]}
    assert sops.rule_age_recipients(rule) == ["age1a", "age1b", "age1c"]


def test_find_config_looks_upwards(tmp_path):
    config = _config(tmp_path, RULES)
    (tmp_path / "apps/secrets").mkdir(parents=True)
    assert sops.find_config(tmp_path / "apps/secrets") == config


@pytest.mark.parametrize("text", ["creation_rules: [unclosed\n", "just: a mapping\n"])
def test_a_broken_config_is_a_sops_error_naming_the_file(tmp_path, text):
    config = _config(tmp_path, text)
    with pytest.raises(sops.SopsError, match=r"\.sops\.yaml: "):
        sops.load_config(config)


def test_flux_age_secret_command_matches_the_gitops_convention():
    assert sops.flux_age_secret_command("key.txt") == (
        "kubectl create secret generic sops-age --namespace=flux-system --from-file=age.agekey=key.txt"
    )


@pytest.mark.slow
def test_encrypt_ignores_recipients_from_the_environment(tmp_path, monkeypatch):
    config = _config(tmp_path, RULES)
    monkeypatch.setenv("SOPS_AGE_RECIPIENTS", str(pyrage.x25519.Identity.generate().to_public()))
    ciphertext = sops.encrypt(PLAIN, tmp_path / "apps/secrets/web.sops.yaml", config=config)
    assert sops.file_age_recipients(yaml.safe_load(ciphertext)) == [sops.DEMO_AGE_RECIPIENT]
