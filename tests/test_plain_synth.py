"""A plain cdk8s `app.synth()` (no homelab-ai command) loses nothing silently.

The encrypted Secret files reach its output byte for byte (sops still decrypts them), the warnings
`homelab-ai synth` prints are printed, a plaintext Secret is refused before anything is written,
and the checks only `homelab-ai synth` can run are named on stderr.
"""

from __future__ import annotations

import contextlib
import io

import attrs
import cdk8s
import pytest

from apps.homelab import REPO_ROOT, site
from homelab_ai import AiStack, AppWorkload, SynthError
from homelab_ai.base.plus import kplus
from tests.factories import app_props
from tests.sops_helpers import DEMO_AGE_KEY, decrypt_values


@pytest.fixture(scope="module")
def plain_synth(tmp_path_factory):
    """The spec's stack, synthesized once by cdk8s's own App.synth() into a fresh folder, with what that printed
    on stderr: the tests read the folder and the text."""
    outdir = tmp_path_factory.mktemp("plain") / "out"
    stack = AiStack(cdk8s.App(outdir=str(outdir)), "Homelab", site(REPO_ROOT))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        stack.app.synth()
    return stack, outdir, err.getvalue()


@pytest.mark.stack
def test_plain_synth_writes_each_encrypted_secret_byte_for_byte(plain_synth):
    stack, outdir, err = plain_synth
    for secret in stack.secrets:
        assert (outdir / secret.output_name).read_bytes() == secret.file.read_bytes()
    assert "copied byte for byte" in err


@pytest.mark.stack
def test_sops_decrypts_the_secrets_a_plain_synth_wrote(plain_synth):
    stack, outdir, _ = plain_synth
    webui, sd = (outdir / s.output_name for s in stack.secrets)
    assert set(decrypt_values(webui, DEMO_AGE_KEY)) == {"WEBUI_SECRET_KEY"}
    assert set(decrypt_values(sd, DEMO_AGE_KEY)) == {"password"}


@pytest.mark.stack
def test_plain_synth_prints_the_gpu_budget_warning_of_a_stack_without_the_arbiter(tmp_path, capsys):
    stack = AiStack(
        cdk8s.App(outdir=str(tmp_path / "out")), "Homelab", attrs.evolve(site(REPO_ROOT), vram_arbiter=False)
    )
    stack.app.synth()
    err = capsys.readouterr().err
    assert "warning: GPU budget: VRAM over-booked on 'NVIDIA RTX 4000 SFF'" in err
    assert err.count("over-booked") == 1


@pytest.mark.stack
def test_plain_synth_of_the_spec_stack_has_no_over_booking_warning_its_arbiter_serializes_it(plain_synth):
    _, _, err = plain_synth
    assert "over-booked" not in err


@pytest.mark.stack
def test_plain_synth_names_the_check_only_homelab_ai_synth_runs(plain_synth):
    _, _, err = plain_synth
    assert "note: a plain cdk8s synth does not check that each Flux Kustomization's path" in err
    assert "`homelab-ai synth` does" in err


def test_plain_synth_refuses_a_plaintext_secret_before_writing_anything(tmp_path):
    outdir = tmp_path / "out"
    app = cdk8s.App(outdir=str(outdir))
    chart = cdk8s.Chart(app, "apps", namespace="ai")
    AppWorkload(chart, "Web", app_props("web"))
    kplus.Secret(chart, "Leaky", metadata=cdk8s.ApiObjectMetadata(name="leaky"), string_data={"token": "x"})
    with pytest.raises(SynthError, match="Secret 'leaky' would be written to dist/ in plaintext"):
        app.synth()
    assert not outdir.exists()


def test_an_app_without_homelab_constructs_keeps_cdk8s_synth(tmp_path):
    app = cdk8s.App(outdir=str(tmp_path / "out"))
    cdk8s.ApiObject(cdk8s.Chart(app, "plain"), "Map", api_version="v1", kind="ConfigMap", metadata={"name": "m"})
    app.synth()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["plain.k8s.yaml"]
