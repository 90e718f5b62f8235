"""`secrets init` in-process, with values the test chooses: they reach the file encrypted, or nowhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

from apps.homelab import stack
from homelab_ai import HomelabConfigError, SopsSecret, SopsSecretProps
from homelab_ai.secrets import sops, sops_secret
from homelab_ai.secrets.secret_files import check_one_file_each, config_with_recipients, init_secrets, update_keys
from homelab_ai.secrets.sops_secret import sops_secrets
from tests.factories import charts
from tests.sops_helpers import SECRET_FILES, copy_repo, decrypt_values, files_containing, files_under, new_age_key

WEBUI_VALUE = "feedface" * 8
SD_VALUE = "known-password-value-for-the-leak-scan-0123456789-abcdefghijklmno"


@pytest.fixture
def known_values(monkeypatch):
    """Generators that return values the test can look for on disk."""
    monkeypatch.setitem(sops_secret.GENERATORS, "hex32", lambda: WEBUI_VALUE)
    monkeypatch.setitem(sops_secret.GENERATORS, "password", lambda: SD_VALUE)
    return [WEBUI_VALUE, SD_VALUE]


@pytest.fixture
def scratch_tmp(tmp_path, monkeypatch):
    """Python's temp folder for the test, so that a stray temp file would be found."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def _secrets(repo: Path) -> list[SopsSecret]:
    return sops_secrets(stack(repo).app)


@pytest.mark.slow
def test_init_encrypts_exactly_the_generated_values(tmp_path, known_values):
    key = tmp_path / "age.key"
    repo = copy_repo(tmp_path / "repo", new_age_key(key))
    init_secrets(_secrets(repo), repo / ".sops.yaml")
    assert decrypt_values(repo / SECRET_FILES[0], key) == {"WEBUI_SECRET_KEY": WEBUI_VALUE}
    assert decrypt_values(repo / SECRET_FILES[1], key) == {"password": SD_VALUE}
    assert files_containing(tmp_path, known_values) == []


BROKEN_CONFIGS = {
    "malformed recipient": "creation_rules:\n  - path_regex: apps/secrets/\n    age: age1broken\n",
    "not YAML": "creation_rules: [unclosed\n",
    "no rule for the files": "creation_rules:\n  - path_regex: ^elsewhere/\n    age: {recipient}\n",
    "no recipient": "creation_rules:\n  - path_regex: apps/secrets/\n",
    # sops succeeds but leaves stringData in plaintext: init must notice and write nothing.
    "encrypts nothing": "creation_rules:\n  - path_regex: apps/secrets/\n    encrypted_regex: ^nothing$\n"
    "    age: {recipient}\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("config", BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS.keys())
def test_a_broken_sops_yaml_leaves_no_plaintext_anywhere(tmp_path, known_values, scratch_tmp, config):
    recipient = new_age_key(tmp_path / "age.key")
    repo = copy_repo(tmp_path / "repo", recipient)
    (repo / ".sops.yaml").write_text(config.format(recipient=recipient))
    before = sorted(files_under(tmp_path))
    with pytest.raises(HomelabConfigError) as refused:
        init_secrets(_secrets(repo), repo / ".sops.yaml")
    assert files_containing(tmp_path, known_values) == []
    assert sorted(files_under(tmp_path)) == before
    assert not any(v in str(refused.value) for v in known_values)


@pytest.mark.slow
def test_sops_output_with_plaintext_is_refused_with_the_rule_to_fix(tmp_path, known_values):
    recipient = new_age_key(tmp_path / "age.key")
    repo = copy_repo(tmp_path / "repo", recipient)
    (repo / ".sops.yaml").write_text(BROKEN_CONFIGS["encrypts nothing"].format(recipient=recipient))
    with pytest.raises(HomelabConfigError) as refused:
        init_secrets(_secrets(repo), repo / ".sops.yaml")
    message = str(refused.value)
    assert "is not safe to write (a plaintext value is in it); nothing was written" in message
    assert "`encrypted_regex: ^(data|stringData)$`" in message


@pytest.mark.slow
def test_a_failure_on_the_second_secret_writes_not_even_the_first(tmp_path, known_values, monkeypatch):
    repo = copy_repo(tmp_path / "repo", new_age_key(tmp_path / "age.key"))
    real_encrypt = sops.encrypt
    calls = []

    def fail_second(plaintext, target, **kwargs):
        calls.append(target)
        if len(calls) == 2:
            raise sops.SopsError("simulated failure")
        return real_encrypt(plaintext, target, **kwargs)

    monkeypatch.setattr(sops, "encrypt", fail_second)
    with pytest.raises(HomelabConfigError, match="simulated failure"):
        init_secrets(_secrets(repo), repo / ".sops.yaml")
    assert list((repo / "apps/secrets").iterdir()) == []


def _prompted_secret(tmp_path: Path) -> SopsSecret:
    _, _, ai = charts()
    props = SopsSecretProps(name="api", file=tmp_path / "repo/apps/secrets/api.sops.yaml", keys=["TOKEN"])
    return SopsSecret(ai, "Api", props)


@pytest.mark.slow
def test_a_key_without_generator_is_asked_for_on_the_terminal(tmp_path):
    key = tmp_path / "age.key"
    repo = copy_repo(tmp_path / "repo", new_age_key(key))
    prompts = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return "typed-by-the-user"

    init_secrets([_prompted_secret(tmp_path)], repo / ".sops.yaml", ask=ask)
    assert prompts == ["value of 'TOKEN' for Secret 'api' (not echoed): "]
    assert decrypt_values(repo / "apps/secrets/api.sops.yaml", key) == {"TOKEN": "typed-by-the-user"}


@pytest.mark.slow
def test_a_key_without_generator_and_no_terminal_is_refused_with_the_fix(tmp_path):
    repo = copy_repo(tmp_path / "repo", new_age_key(tmp_path / "age.key"))
    with pytest.raises(HomelabConfigError) as refused:
        init_secrets([_prompted_secret(tmp_path)], repo / ".sops.yaml", ask=None)
    assert str(refused.value) == (
        "SopsSecret(api).generators: key 'TOKEN' has no generator and there is no terminal to ask for its value. "
        "Fix: run `homelab-ai secrets init --rotate api` in a terminal (it asks without echo), or give 'TOKEN' a "
        "generator (hex32, password, base64url32)"
    )


# --- .sops.yaml as use-key writes it ---------------------------------------------------------------


@pytest.mark.stack
def test_the_committed_sops_yaml_is_what_use_key_writes_for_the_demo_key(repo_root):
    files = [s.file for s in _secrets(repo_root)]
    config = repo_root / ".sops.yaml"
    assert config_with_recipients(config, files, [sops.DEMO_AGE_RECIPIENT]) == config.read_text()


def test_use_key_adds_a_rule_when_none_matches(tmp_path):
    config = tmp_path / ".sops.yaml"
    config.write_text("creation_rules:\n  - path_regex: ^other/\n    age: age1other\n")
    text = config_with_recipients(config, [tmp_path / "apps/secrets/x.sops.yaml"], ["age1mine", "age1backup"])
    rules = yaml.safe_load(text)["creation_rules"]
    assert rules[0] == {"path_regex": "^other/", "age": "age1other"}
    assert rules[1] == {
        "path_regex": r"(^|/)apps/secrets/[^/]+\.sops\.yaml$",
        "encrypted_regex": "^(data|stringData)$",
        "age": "age1mine,age1backup",
    }


def test_use_key_refuses_to_rewrite_key_groups(tmp_path):
    config = tmp_path / ".sops.yaml"
    config.write_text("creation_rules:\n  - key_groups:\n      - age: [age1a]\n")
    with pytest.raises(HomelabConfigError, match=r"uses key_groups.*set its age recipients by hand"):
        config_with_recipients(config, [tmp_path / "apps/secrets/x.sops.yaml"], ["age1mine"])


def test_two_secrets_on_one_file_are_refused(tmp_path):
    _, _, ai = charts()
    file = tmp_path / "shared.sops.yaml"
    a = SopsSecret(ai, "A", SopsSecretProps(name="a", file=file, keys=["K"]))
    b = SopsSecret(ai, "B", SopsSecretProps(name="b", file=file, keys=["K"]))
    with pytest.raises(
        HomelabConfigError, match=r"is also the file of SopsSecret 'a'. Fix: give each SopsSecret its own"
    ):
        check_one_file_each([a, b])


def test_an_empty_typed_value_is_refused(tmp_path):
    repo = copy_repo(tmp_path / "repo", new_age_key(tmp_path / "age.key"))
    with pytest.raises(HomelabConfigError, match=r"SopsSecret\(api\): empty value for 'TOKEN'. Fix: type a value"):
        init_secrets([_prompted_secret(tmp_path)], repo / ".sops.yaml", ask=lambda prompt: "")
    assert not (repo / "apps/secrets/api.sops.yaml").exists()


@pytest.mark.stack
def test_update_keys_refuses_a_plaintext_file_with_the_rotate_command(tmp_path):
    repo = copy_repo(tmp_path / "repo", new_age_key(tmp_path / "age.key"))
    secrets = _secrets(repo)
    init_secrets(secrets, repo / ".sops.yaml")
    (repo / SECRET_FILES[0]).write_text("kind: Secret\nstringData:\n  WEBUI_SECRET_KEY: hunter2\n")
    with pytest.raises(HomelabConfigError) as refused:
        update_keys(secrets, repo / ".sops.yaml")
    assert str(refused.value).endswith(
        "open-webui.sops.yaml is not a SOPS-encrypted file, so it cannot be re-encrypted. "
        "Fix: run `homelab-ai secrets init --rotate open-webui-secret`"
    )


@pytest.mark.stack
def test_update_keys_refuses_a_file_no_rule_matches_with_use_key(tmp_path):
    recipient = new_age_key(tmp_path / "age.key")
    repo = copy_repo(tmp_path / "repo", recipient)
    secrets = _secrets(repo)
    init_secrets(secrets, repo / ".sops.yaml")
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: ^elsewhere/\n    age: {recipient}\n")
    with pytest.raises(
        HomelabConfigError,
        match=r"no creation rule matches .*open-webui.sops.yaml. Fix: run "
        r"`homelab-ai secrets use-key` \(it adds one\)",
    ):
        update_keys(secrets, repo / ".sops.yaml")


@pytest.mark.stack
def test_update_keys_refuses_to_carry_over_a_broken_file_and_names_rotate(tmp_path):
    key = tmp_path / "age.key"
    repo = copy_repo(tmp_path / "repo", new_age_key(key))
    secrets = _secrets(repo)
    init_secrets(secrets, repo / ".sops.yaml")
    path = repo / SECRET_FILES[1]
    path.write_text(path.read_text().replace("name: stable-diffusion-secret", "name: renamed"))
    config = repo / ".sops.yaml"
    config.write_text(config.read_text().replace("age: ", f"age: {new_age_key(tmp_path / 'b.key')},"))
    with pytest.raises(HomelabConfigError) as refused:
        update_keys(secrets, config, env={"SOPS_AGE_KEY_FILE": str(key)})
    message = str(refused.value)
    assert "re-encrypting would keep what is wrong with it: " in message
    assert "metadata.name is 'renamed' but the construct declares 'stable-diffusion-secret'" in message
    assert message.endswith("Fix: give it new values with `homelab-ai secrets init --rotate stable-diffusion-secret`")
