"""SopsSecret (foundation): references an encrypted file, exposes key references, copies bytes."""

from __future__ import annotations

import pytest

from homelab_ai import HomelabConfigError, SopsSecret, SopsSecretProps, SynthError
from homelab_ai.dist import render
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
