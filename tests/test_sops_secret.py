"""SopsSecret: references an encrypted file, copies its bytes, and refuses every unsafe file with the fix."""

from __future__ import annotations

import re
import subprocess

import cdk8s
import pytest
import yaml

from homelab_ai import HomelabConfigError, SopsSecret, SopsSecretProps, SynthError
from homelab_ai.base.plus import kplus
from homelab_ai.secrets.sops import DEMO_AGE_RECIPIENT
from homelab_ai.secrets.sops_secret import GENERATORS, check_sops_file
from homelab_ai.synth.dist import render
from tests.factories import charts, write_encrypted_like_secret


def test_key_ref_names_secret_and_key(tmp_path):
    _, _, ai = charts()
    s = SopsSecret(ai, "S", SopsSecretProps(name="web", file=tmp_path / "web.sops.yaml", keys=["TOKEN"]))
    ref = s.key_ref("TOKEN")
    assert (ref.secret_name, ref.key) == ("web", "TOKEN")


def test_key_ref_refuses_undeclared_key(tmp_path):
    _, _, ai = charts()
    s = SopsSecret(ai, "S", SopsSecretProps(name="web", file=tmp_path / "web.sops.yaml", keys=["TOKEN"]))
    with pytest.raises(HomelabConfigError, match=r"key 'OTHER' is not declared"):
        s.key_ref("OTHER")


def test_encrypted_file_reaches_output_byte_for_byte(tmp_path):
    app, _, ai = charts()
    source = write_encrypted_like_secret(tmp_path / "web.sops.yaml", "web", ["TOKEN"])
    SopsSecret(ai, "S", SopsSecretProps(name="web", file=source, keys=["TOKEN"]))
    files = {f.path: f.content for f in render(app, {"infrastructure": "infra", "ai": "ai"})}
    assert files["ai/secret-web.sops.yaml"] == source.read_bytes()
    assert "secret-web.sops.yaml" in files["ai/kustomization.yaml"].decode()


def test_missing_file_refuses_synth_with_the_fix(tmp_path):
    app, _, ai = charts()
    SopsSecret(ai, "S", SopsSecretProps(name="web", file=tmp_path / "absent.sops.yaml", keys=["TOKEN"]))
    with pytest.raises(SynthError, match=r"file is missing; run `homelab-ai secrets init`"):
        render(app, {"infrastructure": "infra", "ai": "ai"})


def test_plaintext_secret_refuses_synth(tmp_path):
    app, _, ai = charts()
    plain = tmp_path / "web.sops.yaml"
    plain.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\nstringData:\n  TOKEN: hunter2\n")
    SopsSecret(ai, "S", SopsSecretProps(name="web", file=plain, keys=["TOKEN"]))
    with pytest.raises(SynthError, match=r"not SOPS-encrypted"):
        render(app, {"infrastructure": "infra", "ai": "ai"})


# --- props ----------------------------------------------------------------------------------------


def test_props_refuse_a_file_not_named_sops_yaml(tmp_path):
    with pytest.raises(HomelabConfigError, match=r"SopsSecretProps.file: .*does not end in \.sops\.yaml.*NAME\.sops"):
        SopsSecretProps(name="web", file=tmp_path / "web.yaml", keys=["TOKEN"])


def test_props_refuse_a_generator_for_an_undeclared_key(tmp_path):
    with pytest.raises(HomelabConfigError, match=r"generator for 'OTHER', which is not in keys \(TOKEN\)"):
        SopsSecretProps(name="web", file=tmp_path / "w.sops.yaml", keys=["TOKEN"], generators={"OTHER": "hex32"})


def test_props_refuse_an_unknown_generator(tmp_path):
    with pytest.raises(
        HomelabConfigError, match=r"TOKEN: unknown generator 'uuid'. Fix: use one of 'hex32', 'password'"
    ):
        SopsSecretProps(name="web", file=tmp_path / "w.sops.yaml", keys=["TOKEN"], generators={"TOKEN": "uuid"})


def test_props_refuse_a_key_declared_twice(tmp_path):
    with pytest.raises(HomelabConfigError, match=r"TOKEN declared twice"):
        SopsSecretProps(name="web", file=tmp_path / "w.sops.yaml", keys=["TOKEN", "TOKEN"])


def test_hex32_generator_makes_64_hex_characters_like_openssl_rand_hex_32():
    values = {GENERATORS["hex32"]() for _ in range(3)}
    assert len(values) == 3
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in values)


def test_password_generator_makes_long_url_safe_values():
    values = {GENERATORS["password"]() for _ in range(3)}
    assert len(values) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{64}", v) for v in values)


# --- refusals: each names the problem and the exact command that fixes it ----------------------------

ENC = "ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]"
ROTATE = "run `homelab-ai secrets init --rotate web`"


def _doc(**changes) -> dict:
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web", "namespace": "ai"},
        "type": "Opaque",
        "stringData": {"TOKEN": ENC},
        "sops": {"age": [{"recipient": "age1other", "enc": "x"}], "mac": ENC, "version": "3.11.0"},
    }
    doc.update(changes)
    return doc


def _problems(tmp_path, doc: dict | str, keys=("TOKEN",), namespace: str | None = "ai") -> list[str]:
    path = tmp_path / "apps/secrets/web.sops.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return check_sops_file(path, "web", namespace, list(keys))


def _only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


def test_a_well_formed_encrypted_file_has_no_problems(tmp_path):
    assert _problems(tmp_path, _doc()) == []


def test_refusal_names_the_file_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = _only(_problems(tmp_path, _doc(metadata={"name": "other", "namespace": "ai"})))
    assert message.startswith("SopsSecret 'web' (apps/secrets/web.sops.yaml): ")


def test_refuses_a_missing_file_with_the_init_command(tmp_path):
    message = _only(check_sops_file(tmp_path / "web.sops.yaml", "web", "ai", ["TOKEN"]))
    assert message.endswith("file is missing; run `homelab-ai secrets init`")


def test_refuses_a_file_without_sops_metadata_with_the_rotate_command(tmp_path):
    doc = _doc(stringData={"TOKEN": "hunter2"})
    del doc["sops"]
    message = _only(_problems(tmp_path, doc))
    assert "not SOPS-encrypted (no 'sops' metadata); " + ROTATE in message


def test_refuses_a_file_that_is_not_yaml(tmp_path):
    message = _only(_problems(tmp_path, "stringData: [unclosed\n"))
    assert message.endswith(f"not valid YAML (ParserError); {ROTATE}")


def test_refuses_a_string_data_value_that_is_not_encrypted(tmp_path):
    message = _only(_problems(tmp_path, _doc(stringData={"TOKEN": "hunter2"})))
    assert message.endswith(f"stringData.TOKEN is not encrypted (not ENC[...]); {ROTATE}")
    assert "hunter2" not in message


def test_refuses_a_data_value_that_is_not_encrypted(tmp_path):
    doc = _doc(data={"TOKEN": "aHVudGVyMg=="})
    del doc["stringData"]
    assert _only(_problems(tmp_path, doc)).endswith(f"data.TOKEN is not encrypted (not ENC[...]); {ROTATE}")


def test_refuses_an_empty_value_which_sops_leaves_unencrypted(tmp_path):
    message = _only(_problems(tmp_path, _doc(stringData={"TOKEN": ""})))
    assert message.endswith(f"stringData.TOKEN is empty; {ROTATE}")


def test_refuses_a_placeholder_value(tmp_path):
    message = _only(_problems(tmp_path, _doc(stringData={"TOKEN": "REPLACE_WITH_GENERATED_KEY"})))
    assert message.endswith(f"stringData.TOKEN is a placeholder, not encrypted; {ROTATE}")


def test_refuses_a_placeholder_left_in_the_plaintext_metadata(tmp_path):
    meta = {"name": "web", "namespace": "ai", "annotations": {"owner": "CHANGE_ME"}}
    message = _only(_problems(tmp_path, _doc(metadata=meta)))
    assert message.endswith(f"metadata.annotations.owner still looks like a placeholder ('CHANGE_ME'); {ROTATE}")


def test_refuses_a_placeholder_key_name(tmp_path):
    problems = _problems(tmp_path, _doc(stringData={"TOKEN": ENC, "REPLACE_WITH_KEY": ENC}))
    assert _only(problems).endswith(f"key name stringData.REPLACE_WITH_KEY looks like a placeholder; {ROTATE}")


def test_refuses_a_name_that_differs_from_the_construct(tmp_path):
    message = _only(_problems(tmp_path, _doc(metadata={"name": "other", "namespace": "ai"})))
    assert message.endswith(f"metadata.name is 'other' but the construct declares 'web'; {ROTATE}")


def test_refuses_a_namespace_that_differs_from_the_construct(tmp_path):
    message = _only(_problems(tmp_path, _doc(metadata={"name": "web", "namespace": "default"})))
    assert message.endswith(f"metadata.namespace is 'default' but the construct declares 'ai'; {ROTATE}")


def test_refuses_a_file_without_a_key_a_consumer_references(tmp_path):
    message = _only(_problems(tmp_path, _doc(), keys=("TOKEN", "password")))
    assert message.endswith(f"key 'password' that a consumer references is absent; {ROTATE}")


def test_refuses_another_kind_than_secret(tmp_path):
    message = _only(_problems(tmp_path, _doc(kind="ConfigMap")))
    assert message.endswith(f"is 'v1' 'ConfigMap', expected a v1 Secret; {ROTATE}")


def test_refuses_sops_metadata_that_sops_did_not_write(tmp_path):
    message = _only(_problems(tmp_path, _doc(sops={"version": "3.11.0"})))
    assert message.endswith(
        f"'sops' metadata is incomplete (no recipients or no encrypted mac), so sops did not "
        f"write it and nothing can decrypt it; {ROTATE}"
    )


def test_refuses_a_file_not_encrypted_for_a_recipient_of_sops_yaml(tmp_path):
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: apps/secrets/.*\\.sops\\.yaml$\n    age: age1other,age1mine\n"
    )
    message = _only(_problems(tmp_path, _doc()))
    assert "encrypted for age1other but " in message
    assert message.endswith(
        "asks for age1mine too, so a cluster holding that key cannot decrypt it; run `homelab-ai secrets update-keys`"
    )


def test_recipients_of_sops_yaml_that_the_file_has_are_fine(tmp_path):
    (tmp_path / ".sops.yaml").write_text("creation_rules:\n  - path_regex: \\.sops\\.yaml$\n    age: age1other\n")
    assert _problems(tmp_path, _doc()) == []


def test_every_problem_is_reported_at_once(tmp_path):
    problems = _problems(tmp_path, _doc(metadata={"name": "x", "namespace": "y"}, stringData={"A": "plain"}))
    assert len(problems) == 4  # name, namespace, A not encrypted, TOKEN absent
    assert all(p.endswith(ROTATE) for p in problems)


def test_validation_needs_neither_a_private_key_nor_the_sops_binary(repo_root, monkeypatch):
    def no_subprocess(*args, **kwargs):
        raise AssertionError("validation must not run sops")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    path = repo_root / "apps/secrets/open-webui.sops.yaml"
    assert check_sops_file(path, "open-webui-secret", "ai", ["WEBUI_SECRET_KEY"]) == []


def test_render_refusal_carries_the_fix_command(tmp_path):
    app, _, ai = charts()
    path = tmp_path / "web.sops.yaml"
    path.write_text(yaml.safe_dump(_doc(stringData={"TOKEN": "hunter2"})))
    SopsSecret(ai, "S", SopsSecretProps(name="web", file=path, keys=["TOKEN"]))
    with pytest.raises(SynthError, match=re.escape(f"stringData.TOKEN is not encrypted (not ENC[...]); {ROTATE}")):
        render(app, {"infrastructure": "infra", "ai": "ai"})


def test_render_refuses_a_plaintext_secret_from_a_chart():
    app, _, ai = charts()
    kplus.Secret(ai, "Creds", metadata=cdk8s.ApiObjectMetadata(name="creds"), string_data={"TOKEN": "hunter2"})
    with pytest.raises(SynthError) as refused:
        render(app, {"infrastructure": "infra", "ai": "ai"})
    assert _only(refused.value.problems) == (
        "ai/Creds/Resource: Secret 'creds' would be written to dist/ in plaintext; declare it as a SopsSecret "
        "(e.g. file apps/secrets/creds.sops.yaml) and run `homelab-ai secrets init`"
    )


# --- warnings -------------------------------------------------------------------------------------------


def test_a_file_on_the_demo_key_synthesizes_with_a_warning_naming_new_key(tmp_path):
    _, _, ai = charts()
    path = tmp_path / "web.sops.yaml"
    path.write_text(yaml.safe_dump(_doc(sops={"age": [{"recipient": DEMO_AGE_RECIPIENT}], "mac": ENC})))
    secret = SopsSecret(ai, "S", SopsSecretProps(name="web", file=path, keys=["TOKEN"]))
    assert secret.problems() == []
    [warning] = secret.synth_warnings()
    assert "encrypted to the public DEMO age key, so anyone can read it" in warning
    assert "run `homelab-ai secrets new-key`" in warning


def test_a_file_on_another_key_has_no_warning(tmp_path):
    _, _, ai = charts()
    path = tmp_path / "web.sops.yaml"
    path.write_text(yaml.safe_dump(_doc()))
    assert SopsSecret(ai, "S", SopsSecretProps(name="web", file=path, keys=["TOKEN"])).synth_warnings() == []


def test_plaintext_manifest_is_a_secret_in_the_chart_namespace(tmp_path):
    _, _, ai = charts()
    secret = SopsSecret(ai, "S", SopsSecretProps(name="web", file=tmp_path / "w.sops.yaml", keys=["TOKEN"]))
    assert secret.plaintext_manifest({"TOKEN": "v"}) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web", "namespace": "ai"},
        "type": "Opaque",
        "stringData": {"TOKEN": "v"},
    }
