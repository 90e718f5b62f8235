"""The SOPS file checks on parsed documents: each refusal with its exact message (no key, no sops binary).

tests/test_sops_secret.py shows them through the construct and the synth.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.secrets.sops_secret import (
    SopsSecret,
    SopsSecretProps,
    check_sops_file,
    display_path,
    document_problems,
)
from tests.factories import charts, write_encrypted_like_secret

ENC = "ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]"
WHERE = "SopsSecret 'web' (web.sops.yaml)"
ROTATE = "run `homelab-ai secrets init --rotate web`"
GOOD = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "web", "namespace": "ai"},
    "type": "Opaque",
    "stringData": {"key": ENC},
    "sops": {"age": [{"recipient": "age1xyz", "enc": "x"}], "mac": ENC, "version": "3.11.0"},
}


def problems(doc: dict, keys=("key",), namespace: str | None = "ai") -> list[str]:
    return document_problems(doc, where=WHERE, name="web", namespace=namespace, keys=keys)


def changed(**parts: object) -> dict:
    doc = copy.deepcopy(GOOD)
    doc.update(parts)
    return doc


def test_a_well_formed_document_has_no_problem():
    assert problems(GOOD) == []


@pytest.mark.parametrize(
    "sops",
    [
        {"mac": ENC},  # no recipients
        {"age": [{"recipient": "age1xyz"}], "mac": "not encrypted"},
        {"age": [{"recipient": "age1xyz"}]},  # no mac
        {"age": [], "pgp": None, "mac": ENC},
        "not a mapping",
    ],
)
def test_sops_metadata_without_recipients_or_an_encrypted_mac_is_refused(sops):
    assert problems(changed(sops=sops)) == [
        f"{WHERE}: 'sops' metadata is incomplete (no recipients or no encrypted mac), so sops did not write it "
        f"and nothing can decrypt it; {ROTATE}"
    ]


@pytest.mark.parametrize("kind", ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms", "key_groups"])
def test_any_kind_of_master_key_counts_as_a_recipient(kind):
    assert problems(changed(sops={kind: [{"x": "y"}], "mac": ENC})) == []


def test_another_kind_or_api_version_is_refused():
    assert problems(changed(kind="ConfigMap")) == [f"{WHERE}: is 'v1' 'ConfigMap', expected a v1 Secret; {ROTATE}"]
    assert problems(changed(apiVersion="v2")) == [f"{WHERE}: is 'v2' 'Secret', expected a v1 Secret; {ROTATE}"]


def test_another_name_or_namespace_is_refused():
    assert problems(changed(metadata={"name": "other", "namespace": "web"})) == [
        f"{WHERE}: metadata.name is 'other' but the construct declares 'web'; {ROTATE}",
        f"{WHERE}: metadata.namespace is 'web' but the construct declares 'ai'; {ROTATE}",
    ]


def test_metadata_that_is_not_a_mapping_counts_as_empty():
    assert problems(changed(metadata="oops")) == [
        f"{WHERE}: metadata.name is None but the construct declares 'web'; {ROTATE}",
        f"{WHERE}: metadata.namespace is None but the construct declares 'ai'; {ROTATE}",
    ]


def test_the_namespace_is_not_checked_when_the_construct_has_none():
    assert problems(changed(metadata={"name": "web"}), namespace=None) == []


def test_values_in_data_and_string_data_must_be_encrypted():
    doc = changed(data={"a": "plain", "b": "", "c": None, "d": "CHANGE_ME", "e": ENC}, stringData={"key": "x" * 8})
    assert problems(doc, keys=("key", "e")) == [
        f"{WHERE}: data.a is not encrypted (not ENC[...]); {ROTATE}",
        f"{WHERE}: data.b is empty; {ROTATE}",
        f"{WHERE}: data.c is empty; {ROTATE}",
        f"{WHERE}: data.d is a placeholder, not encrypted; {ROTATE}",
        f"{WHERE}: stringData.key is a placeholder, not encrypted; {ROTATE}",
    ]


def test_a_section_that_is_not_a_mapping_is_refused_and_the_other_still_read():
    doc = changed(data=["a"], stringData={"key": ENC})
    assert problems(doc) == [f"{WHERE}: data is not a mapping; {ROTATE}"]


def test_a_key_that_a_consumer_references_must_be_there():
    assert problems(GOOD, keys=("key", "other", "third")) == [
        f"{WHERE}: key 'other' that a consumer references is absent; {ROTATE}",
        f"{WHERE}: key 'third' that a consumer references is absent; {ROTATE}",
    ]


def test_a_key_with_an_empty_value_is_there_but_empty():
    assert problems(changed(stringData={"key": None})) == [f"{WHERE}: stringData.key is empty; {ROTATE}"]


def test_placeholders_left_in_the_plaintext_parts_are_refused_where_they_are():
    doc = changed(
        metadata={"name": "web", "namespace": "ai", "annotations": {"note": "REPLACE_WITH the team"}},
        Xnote="PLACEHOLDER",
    )
    doc["metadata"]["finalizers"] = ["ok", "CHANGE-ME"]
    assert problems(doc) == [
        f"{WHERE}: metadata.annotations.note still looks like a placeholder ('REPLACE_WITH the team'); {ROTATE}",
        f"{WHERE}: metadata.finalizers[1] still looks like a placeholder ('CHANGE-ME'); {ROTATE}",
        f"{WHERE}: Xnote still looks like a placeholder ('PLACEHOLDER'); {ROTATE}",
    ]


def test_a_placeholder_key_name_is_refused_and_its_value_is_reported_once():
    doc = changed(stringData={"key": ENC, "REPLACE_WITH_KEY": "CHANGE_ME"})
    assert problems(doc) == [
        f"{WHERE}: stringData.REPLACE_WITH_KEY is a placeholder, not encrypted; {ROTATE}",
        f"{WHERE}: key name stringData.REPLACE_WITH_KEY looks like a placeholder; {ROTATE}",
    ]


def test_the_sops_block_is_sops_own_business_wherever_it_is():
    doc = {"sops": {"age": [{"recipient": "age1xyz"}], "mac": ENC, "note": "PLACEHOLDER"}}
    doc.update({k: v for k, v in GOOD.items() if k != "sops"})
    doc["metadata"] = {"name": "web", "namespace": "ai", "labels": {"x": "CHANGE_ME"}}
    assert problems(doc) == [f"{WHERE}: metadata.labels.x still looks like a placeholder ('CHANGE_ME'); {ROTATE}"]


def test_an_encrypted_string_is_never_a_placeholder():
    assert problems(changed(metadata={"name": "web", "namespace": "ai", "annotations": {"a": ENC}})) == []


# The file ------------------------------------------------------------------------------------------


def test_a_file_that_is_not_a_mapping_is_not_sops_encrypted(tmp_path):
    path = tmp_path / "web.sops.yaml"
    path.write_text("- a\n- b\n")
    assert check_sops_file(path, "web", "ai", ["key"]) == [
        f"SopsSecret 'web' ({path}): not SOPS-encrypted (no 'sops' metadata); {ROTATE} (it replaces the file "
        "with an encrypted one; if the plaintext was ever committed, its values are public: rotating replaces them)"
    ]


def test_a_file_for_too_few_recipients_names_what_it_has_and_what_is_missing(tmp_path):
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: .*\\.sops\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        "    age: age1one,age1two,age1three\n"
    )
    path = write_encrypted_like_secret(tmp_path / "web.sops.yaml", "web", ["key"])
    doc = yaml.safe_load(path.read_text())
    doc["sops"]["age"] = [{"recipient": "age1one", "enc": "x"}, {"recipient": "age1other", "enc": "y"}]
    path.write_text(yaml.safe_dump(doc))
    where = f"SopsSecret 'web' ({path})"
    assert check_sops_file(path, "web", "ai", ["key"]) == [
        f"{where}: encrypted for age1one, age1other but {tmp_path / '.sops.yaml'} asks for age1two, age1three too, "
        "so a cluster holding that key cannot decrypt it; run `homelab-ai secrets update-keys`"
    ]
    doc["sops"]["age"] = []
    doc["sops"]["pgp"] = [{"fp": "x"}]
    path.write_text(yaml.safe_dump(doc))
    assert check_sops_file(path, "web", "ai", ["key"])[0].startswith(
        f"{where}: encrypted for no age recipient but {tmp_path / '.sops.yaml'} asks for age1one, age1two, age1three"
    )


def test_display_path_is_relative_below_the_working_directory_else_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "apps" / "x.sops.yaml") == "apps/x.sops.yaml"
    assert display_path(Path("/elsewhere/x.sops.yaml")) == "/elsewhere/x.sops.yaml"


@pytest.mark.parametrize("name", ["web.sops.yaml", "web.sops.yml"])
def test_both_sops_yaml_spellings_are_accepted(name):
    assert SopsSecretProps(name="web", file=name, keys=["k"]).file == Path(name)


def test_a_file_not_named_sops_yaml_is_refused_with_the_fix():
    with pytest.raises(HomelabConfigError) as caught:
        SopsSecretProps(name="web", file="apps/secrets/web.yaml", keys=["k"])
    assert str(caught.value) == (
        "SopsSecretProps.file: 'apps/secrets/web.yaml' does not end in .sops.yaml. Fix: name it NAME.sops.yaml "
        "(e.g. apps/secrets/open-webui.sops.yaml) so that the .sops.yaml creation rule matches it and readers see "
        "it is encrypted"
    )


def test_an_undeclared_key_reference_names_the_declared_ones_and_the_fix(tmp_path):
    _app, _infra, ai = charts()
    secret = SopsSecret(ai, "S", SopsSecretProps(name="web", file=tmp_path / "w.sops.yaml", keys=["a", "b"]))
    with pytest.raises(HomelabConfigError) as caught:
        secret.key_ref("c")
    assert str(caught.value) == (
        "SopsSecret(web).key_ref: key 'c' is not declared (declared: a, b). Fix: add 'c' to SopsSecretProps.keys "
        "and re-run `homelab-ai secrets init --rotate web`"
    )


def test_a_file_that_is_not_a_mapping_has_no_demo_key_warning(tmp_path):
    _app, _infra, ai = charts()
    path = tmp_path / "w.sops.yaml"
    path.write_text("[1, 2]\n")
    secret = SopsSecret(ai, "S", SopsSecretProps(name="web", file=path, keys=["a"]))
    assert secret.synth_warnings() == []


def test_a_key_reference_carries_the_checksum_of_the_encrypted_file(tmp_path):
    import hashlib

    _app, _infra, ai = charts()
    path = write_encrypted_like_secret(tmp_path / "w.sops.yaml", "web", ["a"])
    secret = SopsSecret(ai, "S", SopsSecretProps(name="web", file=path, keys=["a"]))
    assert secret.key_ref("a").checksum == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_construct_checks_the_namespace_of_its_chart(tmp_path):
    _app, _infra, ai = charts()
    path = write_encrypted_like_secret(tmp_path / "w.sops.yaml", "web", ["a"], namespace="other")
    secret = SopsSecret(ai, "S", SopsSecretProps(name="web", file=path, keys=["a"]))
    assert [p for p in secret.problems() if "metadata.namespace" in p] == [
        f"SopsSecret 'web' ({path}): metadata.namespace is 'other' but the construct declares 'ai'; "
        "run `homelab-ai secrets init --rotate web`"
    ]


def test_the_demo_key_warning_names_the_secret_and_the_command(tmp_path):
    from homelab_ai.secrets.sops import DEMO_AGE_RECIPIENT

    _app, _infra, ai = charts()
    path = write_encrypted_like_secret(tmp_path / "w.sops.yaml", "web", ["a"])
    path.write_text(path.read_text().replace("age1xyz", DEMO_AGE_RECIPIENT))
    secret = SopsSecret(ai, "S", SopsSecretProps(name="web", file=path, keys=["a"]))
    assert secret.synth_warnings() == [
        f"SopsSecret 'web' ({path}): encrypted to the public DEMO age key, so anyone can read it; before you "
        "deploy real secrets run `homelab-ai secrets new-key` (see README, Secrets)"
    ]


def test_a_placeholder_key_name_deeper_down_is_named_by_its_whole_path():
    doc = changed(Xtra={"REPLACE_WITH_NAME": ENC})
    assert problems(doc) == [f"{WHERE}: key name Xtra.REPLACE_WITH_NAME looks like a placeholder; {ROTATE}"]
