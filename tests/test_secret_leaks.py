"""The committed repo: no plaintext secret value in dist/ or the git tree, no unencrypted Secret, no literals."""

from __future__ import annotations

import re

import pytest

from homelab_ai.cluster.pod_security import pod_spec
from homelab_ai.secrets import sops
from homelab_ai.secrets.age_key import recipients_of_key_file
from tests.sops_helpers import DEMO_AGE_KEY, DIST_SECRETS, decrypt_values, files_containing, files_under, git
from tests.yaml_io import load_yaml, load_yaml_all

SECRETISH_ENV = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|PRIVATE", re.IGNORECASE)


@pytest.fixture(scope="module")
def committed_values(repo_root) -> list[str]:
    """The values of the repo's demo secrets (decryptable by anyone: that is what the demo key is)."""
    return [v for source in DIST_SECRETS for v in decrypt_values(repo_root / source, DEMO_AGE_KEY).values()]


def _workload_containers(repo_root):
    for path in files_under(repo_root / "dist"):
        doc = load_yaml(path.read_bytes()) or {}  # the synth's marker file is comments only
        if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
            yield path, from_pod(doc)


def from_pod(doc: dict) -> list[dict]:
    spec = pod_spec(doc) or {}  # a CronJob's pod is in its jobTemplate
    return spec.get("containers", []) + spec.get("initContainers", [])


def test_dist_secret_files_are_the_source_files_byte_for_byte(repo_root):
    for source, copied in DIST_SECRETS.items():
        assert (repo_root / copied).read_bytes() == (repo_root / source).read_bytes()


def test_no_secret_value_in_dist_outside_the_encrypted_files(repo_root, committed_values):
    assert files_containing(repo_root / "dist", committed_values) == []


def test_no_secret_value_in_any_tracked_file(repo_root, committed_values):
    for value in committed_values:
        found = git(repo_root, "grep", "-F", "-l", "-e", value)
        assert found.returncode == 1, found.stdout  # 1: no match


def test_every_secret_in_dist_and_the_git_tree_is_sops_encrypted(repo_root):
    tracked = [repo_root / p for p in git(repo_root, "ls-files", "*.yaml", "*.yml").stdout.split()]
    assert tracked
    secrets = []
    for path in [*tracked, *files_under(repo_root / "dist")]:
        for doc in load_yaml_all(path.read_bytes()):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                secrets.append(path)
                values = [*(doc.get("data") or {}).values(), *(doc.get("stringData") or {}).values()]
                assert "sops" in doc, path
                assert values and all(str(v).startswith("ENC[AES256_GCM,") for v in values), path
    assert len(secrets) >= 4  # two sources, two copies in dist/


def test_secret_looking_env_vars_come_from_secret_key_refs(repo_root):
    checked = 0
    for path, containers in _workload_containers(repo_root):
        for container in containers:
            for entry in container.get("env", []):
                if SECRETISH_ENV.search(entry["name"]):
                    assert "value" not in entry, f"{path}: {entry['name']} is a literal"
                    assert "secretKeyRef" in entry["valueFrom"], f"{path}: {entry['name']}"
                    checked += 1
    assert checked >= 3  # WEBUI_SECRET_KEY, AUTOMATIC1111_API_PASSWORD, SD_WEBUI_PASSWORD


def test_no_container_env_or_arg_carries_a_secret_value(repo_root, committed_values):
    for path, containers in _workload_containers(repo_root):
        for container in containers:
            literals = [e.get("value", "") for e in container.get("env", [])]
            literals += container.get("args", []) + container.get("command", [])
            assert not [lit for lit in literals if any(v in lit for v in committed_values)], path


def test_sops_yaml_encrypts_only_data_and_string_data_for_the_demo_key(repo_root):
    [rule] = sops.load_config(repo_root / ".sops.yaml")["creation_rules"]
    assert rule["encrypted_regex"] == "^(data|stringData)$"
    assert sops.rule_age_recipients(rule) == recipients_of_key_file(DEMO_AGE_KEY) == [sops.DEMO_AGE_RECIPIENT]
    for source in DIST_SECRETS:
        assert sops.creation_rule({"creation_rules": [rule]}, repo_root / ".sops.yaml", repo_root / source) == rule
