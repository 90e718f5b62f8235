"""`homelab-ai secrets`, end to end: real sops, fresh age keys, a throwaway copy of the repo.

The round trip is the issue's "done when": from a clone with your own key, `secrets init` and
`synth`, commit, and every Secret in dist/ decrypts with that key, while no plaintext value is
anywhere in dist/ or the git tree.
"""

from __future__ import annotations

import re
import shutil
import stat

import pytest
import yaml

from homelab_ai.secrets import sops
from tests.sops_helpers import (
    DEMO_AGE_KEY,
    DIST_SECRETS,
    SECRET_FILES,
    copy_repo,
    decrypt_values,
    files_containing,
    files_under,
    git,
    new_age_key,
    run_cli,
    unencrypted_secrets,
)

# The slow tier (`make test-fast` leaves it out): starts sops for every command.
pytestmark = pytest.mark.slow

WEBUI, SD = SECRET_FILES


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """A user's clone with their own key: `secrets init`, `synth dist`, `git commit`."""
    base = tmp_path_factory.mktemp("round-trip")
    key = base / "age.key"
    recipient = new_age_key(key)
    repo = copy_repo(base / "repo", recipient)
    assert git(repo, "init", "-q").returncode == 0
    init = run_cli(repo, "secrets", "init")
    synth = run_cli(repo, "synth", "dist")
    assert git(repo, "add", "-A").returncode == 0
    assert git(repo, "commit", "-q", "-m", "secrets").returncode == 0
    values = {name: decrypt_values(repo / name, key) for name in SECRET_FILES}
    return {"repo": repo, "key": key, "recipient": recipient, "init": init, "synth": synth, "values": values}


def test_init_creates_every_declared_secret(round_trip):
    init = round_trip["init"]
    assert init.returncode == 0, init.stderr
    assert f"created {WEBUI} (Secret open-webui-secret: WEBUI_SECRET_KEY)" in init.stdout
    assert f"created {SD} (Secret stable-diffusion-secret: password)" in init.stdout


def test_init_generates_the_values_the_issue_asks_for(round_trip):
    values = round_trip["values"]
    assert re.fullmatch(r"[0-9a-f]{64}", values[WEBUI]["WEBUI_SECRET_KEY"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}", values[SD]["password"])


def test_synth_accepts_the_new_secrets(round_trip):
    assert round_trip["synth"].returncode == 0, round_trip["synth"].stderr


def test_every_secret_in_dist_decrypts_to_the_generated_values(round_trip):
    repo, key = round_trip["repo"], round_trip["key"]
    for source, copied in DIST_SECRETS.items():
        assert decrypt_values(repo / copied, key) == round_trip["values"][source]


def test_dist_files_are_the_source_files_byte_for_byte(round_trip):
    repo = round_trip["repo"]
    for source, copied in DIST_SECRETS.items():
        assert (repo / copied).read_bytes() == (repo / source).read_bytes()


def test_secret_files_are_encrypted_to_the_users_key_only(round_trip):
    for name in SECRET_FILES:
        doc = yaml.safe_load((round_trip["repo"] / name).read_bytes())
        assert sops.file_age_recipients(doc) == [round_trip["recipient"]]
        assert doc["sops"]["encrypted_regex"] == "^(data|stringData)$"


def test_no_plaintext_value_in_dist_or_the_working_tree(round_trip):
    values = [v for secret in round_trip["values"].values() for v in secret.values()]
    assert files_containing(round_trip["repo"], values) == []


def test_no_plaintext_value_in_the_committed_git_tree(round_trip):
    repo = round_trip["repo"]
    assert git(repo, "ls-files", "--", "dist/ai/kustomization.yaml").stdout.strip()  # dist/ is committed
    for secret in round_trip["values"].values():
        for value in secret.values():
            found = git(repo, "grep", "-F", "-l", "-e", value, "HEAD")
            assert found.returncode == 1, found.stdout  # 1: no match


def test_no_unencrypted_secret_in_dist_or_the_git_tree(round_trip):
    repo = round_trip["repo"]
    tracked = [repo / p for p in git(repo, "ls-files").stdout.split()]
    assert unencrypted_secrets(tracked) == []
    assert unencrypted_secrets(files_under(repo / "dist")) == []


def test_no_container_env_or_arg_carries_a_secret_value(round_trip):
    values = [v for secret in round_trip["values"].values() for v in secret.values()]
    for path in files_under(round_trip["repo"] / "dist"):
        doc = yaml.safe_load(path.read_bytes()) or {}  # the synth's marker file is comments only
        if doc.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            literals = [e.get("value", "") for e in container.get("env", [])] + container.get("args", [])
            assert not [lit for lit in literals if any(v in lit for v in values)], path


def test_check_accepts_the_new_secrets_without_the_private_key(round_trip):
    result = run_cli(round_trip["repo"], "secrets", "check")
    assert result.returncode == 0, result.stderr
    assert "2 secret(s) checked: synth will accept them" in result.stdout
    assert "DEMO" not in result.stderr


# --- init keeps, rotates, refuses ----------------------------------------------------------------


@pytest.fixture(scope="module")
def initialised_clone(tmp_path_factory):
    """A clone with the user's key after `secrets init`, made once: the tests below start from copies."""
    base = tmp_path_factory.mktemp("initialised")
    key = base / "age.key"
    repo = copy_repo(base / "repo", new_age_key(key))
    assert run_cli(repo, "secrets", "init").returncode == 0
    return repo, key


@pytest.fixture
def user_repo(tmp_path, initialised_clone):
    """A clone with the user's key and both secrets created: this test's own copy of the one made once."""
    pristine_repo, pristine_key = initialised_clone
    key = tmp_path / "age.key"
    shutil.copy2(pristine_key, key)
    repo = shutil.copytree(pristine_repo, tmp_path / "repo", symlinks=True)
    return repo, key


def test_init_keeps_existing_files_byte_for_byte(user_repo):
    repo, _ = user_repo
    before = {name: (repo / name).read_bytes() for name in SECRET_FILES}
    result = run_cli(repo, "secrets", "init")
    assert result.returncode == 0, result.stderr
    assert f"kept    {WEBUI} (exists; `--rotate open-webui-secret` replaces it)" in result.stdout
    assert {name: (repo / name).read_bytes() for name in SECRET_FILES} == before


def test_rotate_replaces_one_secret_and_keeps_the_other(user_repo):
    repo, key = user_repo
    webui_before = (repo / WEBUI).read_bytes()
    sd_before = decrypt_values(repo / SD, key)
    result = run_cli(repo, "secrets", "init", "--rotate", "stable-diffusion-secret")
    assert result.returncode == 0, result.stderr
    assert f"rotated {SD}" in result.stdout
    assert (repo / WEBUI).read_bytes() == webui_before
    assert decrypt_values(repo / SD, key)["password"] != sd_before["password"]


def test_rotate_refuses_an_unknown_name_with_the_declared_ones(user_repo):
    result = run_cli(user_repo[0], "secrets", "init", "--rotate", "nope")
    assert result.returncode == 1
    assert (
        "error: --rotate: no SopsSecret named 'nope' in the chart (declared: open-webui-secret, "
        "stable-diffusion-secret). Fix: use one of the declared names, e.g. "
        "`homelab-ai secrets init --rotate open-webui-secret`"
    ) in result.stderr


def test_init_without_sops_yaml_names_new_key(tmp_path):
    repo = copy_repo(tmp_path / "repo", sops.DEMO_AGE_RECIPIENT)
    (repo / ".sops.yaml").unlink()
    result = run_cli(repo, "secrets", "init")
    assert result.returncode == 1
    assert "does not exist, so sops has no creation rule to encrypt with" in result.stderr
    assert "Fix: run `homelab-ai secrets new-key`" in result.stderr
    assert list((repo / "apps/secrets").iterdir()) == []


def test_init_with_a_broken_sops_yaml_fails_and_writes_nothing(tmp_path):
    repo = copy_repo(tmp_path / "repo", "age1broken")
    before = sorted(str(p) for p in files_under(tmp_path))
    result = run_cli(repo, "secrets", "init")
    assert result.returncode == 1
    assert f"error: .sops.yaml: sops could not encrypt {WEBUI} with " in result.stderr
    assert 'malformed recipient "age1broken"' in result.stderr
    assert (
        f"Fix: repair the creation rule for {WEBUI} (restore the file with `git checkout -- .sops.yaml`), "
        "or switch to your own key with `homelab-ai secrets new-key`"
    ) in result.stderr
    assert sorted(str(p) for p in files_under(tmp_path)) == before


# --- check: exit codes, messages, and the commands it names actually fix the problem --------------


def test_check_fails_on_a_missing_file_and_init_fixes_it(user_repo):
    repo, _ = user_repo
    (repo / WEBUI).unlink()
    result = run_cli(repo, "secrets", "check")
    assert result.returncode == 1
    assert "error: synth would refuse the secrets (1 problem(s)):" in result.stderr
    assert f"SopsSecret 'open-webui-secret' ({WEBUI}): file is missing; run `homelab-ai secrets init`" in result.stderr
    assert "ok      stable-diffusion-secret" in result.stdout
    assert run_cli(repo, "secrets", "init").returncode == 0
    assert run_cli(repo, "secrets", "check").returncode == 0


def test_check_fails_on_a_plaintext_value_and_rotate_fixes_it(user_repo):
    repo, _ = user_repo
    text = (repo / WEBUI).read_text()
    (repo / WEBUI).write_text(re.sub(r"WEBUI_SECRET_KEY: ENC\[.*\]", "WEBUI_SECRET_KEY: hunter2", text))
    result = run_cli(repo, "secrets", "check")
    assert result.returncode == 1
    assert (
        "stringData.WEBUI_SECRET_KEY is not encrypted (not ENC[...]); "
        "run `homelab-ai secrets init --rotate open-webui-secret`"
    ) in result.stderr
    synth = run_cli(repo, "synth", "dist")
    assert synth.returncode == 1
    assert "run `homelab-ai secrets init --rotate open-webui-secret`" in synth.stderr
    assert not (repo / "dist").exists()
    assert run_cli(repo, "secrets", "init", "--rotate", "open-webui-secret").returncode == 0
    assert run_cli(repo, "secrets", "check").returncode == 0


def test_check_fails_on_a_renamed_secret_and_rotate_fixes_it(user_repo):
    repo, _ = user_repo
    text = (repo / SD).read_text()
    (repo / SD).write_text(text.replace("name: stable-diffusion-secret", "name: sd-secret"))
    result = run_cli(repo, "secrets", "check")
    assert result.returncode == 1
    assert (
        "metadata.name is 'sd-secret' but the construct declares 'stable-diffusion-secret'; "
        "run `homelab-ai secrets init --rotate stable-diffusion-secret`"
    ) in result.stderr
    assert run_cli(repo, "secrets", "init", "--rotate", "stable-diffusion-secret").returncode == 0
    assert run_cli(repo, "secrets", "check").returncode == 0


def test_check_fails_when_sops_yaml_names_a_key_the_files_lack_and_update_keys_fixes_it(user_repo, tmp_path):
    repo, key = user_repo
    backup = tmp_path / "backup.key"
    backup_recipient = new_age_key(backup)
    config = repo / ".sops.yaml"
    config.write_text(re.sub(r"age: (\S+)", rf"age: \1,{backup_recipient}", config.read_text()))
    result = run_cli(repo, "secrets", "check")
    assert result.returncode == 1
    assert f"asks for {backup_recipient} too, so a cluster holding that key cannot decrypt it" in result.stderr
    assert "run `homelab-ai secrets update-keys`" in result.stderr
    before = decrypt_values(repo / WEBUI, key)
    fixed = run_cli(repo, "secrets", "update-keys", key_file=key)
    assert fixed.returncode == 0, fixed.stderr
    assert f"re-encrypted {WEBUI} (same values, new recipients)" in fixed.stdout
    assert run_cli(repo, "secrets", "check").returncode == 0
    assert decrypt_values(repo / WEBUI, backup) == before


def test_check_strict_fails_on_the_demo_key(tmp_path):
    repo = copy_repo(tmp_path / "repo", sops.DEMO_AGE_RECIPIENT, with_secrets=True)
    relaxed = run_cli(repo, "secrets", "check")
    assert relaxed.returncode == 0
    assert "encrypted to the public DEMO age key" in relaxed.stderr
    strict = run_cli(repo, "secrets", "check", "--strict")
    assert strict.returncode == 1
    assert "(strict) SopsSecret 'open-webui-secret'" in strict.stderr
    assert "run `homelab-ai secrets new-key`" in strict.stderr


# --- switching keys ----------------------------------------------------------------------------------


def test_new_key_switches_a_demo_clone_to_a_private_key_with_new_values(tmp_path):
    repo = copy_repo(tmp_path / "repo", sops.DEMO_AGE_RECIPIENT, with_secrets=True)
    demo_values = {name: decrypt_values(repo / name, DEMO_AGE_KEY) for name in SECRET_FILES}
    key = tmp_path / "home/sops/age/keys.txt"
    result = run_cli(repo, "secrets", "new-key", "--key-file", str(key))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    recipient = key.read_text().splitlines()[1].removeprefix("# public key: ")
    config = (repo / ".sops.yaml").read_text()
    assert f"age: {recipient}" in config
    assert sops.DEMO_AGE_RECIPIENT not in config
    assert f"rotated {WEBUI} (new values: the old ones were on the public demo key)" in result.stdout
    assert (
        f"kubectl create secret generic sops-age --namespace=flux-system --from-file=age.agekey={key}" in result.stdout
    )
    for name in SECRET_FILES:
        assert decrypt_values(repo / name, key).keys() == demo_values[name].keys()
        assert decrypt_values(repo / name, key) != demo_values[name]
        with pytest.raises(sops.SopsError):
            decrypt_values(repo / name, DEMO_AGE_KEY)
    check = run_cli(repo, "secrets", "check", "--strict")
    assert check.returncode == 0, check.stderr


def test_new_key_refuses_to_overwrite_a_key_file(tmp_path):
    repo = copy_repo(tmp_path / "repo", sops.DEMO_AGE_RECIPIENT, with_secrets=True)
    key = tmp_path / "keys.txt"
    key.write_text("precious\n")
    result = run_cli(repo, "secrets", "new-key", "--key-file", str(key))
    assert result.returncode == 1
    assert f"`homelab-ai secrets use-key --key-file {key}`" in result.stderr
    assert key.read_text() == "precious\n"


def test_use_key_re_encrypts_own_secrets_to_a_new_key_keeping_the_values(user_repo, tmp_path):
    repo, old = user_repo
    new = tmp_path / "new.key"
    new_age_key(new)
    values = {name: decrypt_values(repo / name, old) for name in SECRET_FILES}
    result = run_cli(repo, "secrets", "use-key", "--key-file", str(new), key_file=old)
    assert result.returncode == 0, result.stderr
    for name in SECRET_FILES:
        assert decrypt_values(repo / name, new) == values[name]
        with pytest.raises(sops.SopsError):
            decrypt_values(repo / name, old)


def test_use_key_without_the_old_key_fails_and_changes_nothing(user_repo, tmp_path):
    repo, _old = user_repo
    new = tmp_path / "new.key"
    new_age_key(new)
    before = {p: p.read_bytes() for p in [repo / ".sops.yaml", *(repo / n for n in SECRET_FILES)]}
    result = run_cli(
        repo, "secrets", "use-key", "--key-file", str(new), key_file=tmp_path / "absent.key", HOME=str(tmp_path)
    )
    assert result.returncode == 1
    assert f"cannot decrypt {WEBUI} to re-encrypt it" in result.stderr
    assert "Fix: point SOPS_AGE_KEY_FILE at the private key it is encrypted for, or give it new values with " in (
        result.stderr
    )
    assert "`homelab-ai secrets init --rotate open-webui-secret`" in result.stderr
    assert {p: p.read_bytes() for p in before} == before


def test_use_key_refuses_a_malformed_recipient(user_repo):
    result = run_cli(user_repo[0], "secrets", "use-key", "--recipient", "age1nope")
    assert result.returncode == 1
    assert "--recipient: 'age1nope' is not an age public key" in result.stderr


# --- the CLI documents itself ------------------------------------------------------------------------


def test_secrets_help_lists_every_action(repo_root):
    result = run_cli(repo_root, "secrets", "--help")
    assert result.returncode == 0
    for action in ("init", "--rotate NAME", "check", "new-key", "use-key", "update-keys"):
        assert action in result.stdout


@pytest.mark.parametrize("action", ["init", "check", "new-key", "use-key", "update-keys"])
def test_each_action_has_its_own_help(repo_root, action):
    result = run_cli(repo_root, "secrets", action, "--help")
    assert result.returncode == 0
    assert f"usage: homelab-ai secrets {action}" in result.stdout


def test_every_secrets_action_in_the_readme_exists(repo_root):
    readme = (repo_root / "README.md").read_text()
    mentioned = set(re.findall(r"homelab-ai secrets ([a-z][a-z-]+)", readme))
    assert mentioned >= {"init", "check", "new-key", "use-key", "update-keys"}
    for action in mentioned:
        assert run_cli(repo_root, "secrets", action, "--help").returncode == 0, action
