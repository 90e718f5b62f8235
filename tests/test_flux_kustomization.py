"""FluxKustomization: one Flux Kustomization per dist/ folder, valid against the Flux CRD schema."""

from __future__ import annotations

import copy
from datetime import timedelta

import cdk8s
import jsonschema
import pytest

from homelab_ai import (
    FluxKustomization,
    FluxKustomizationProps,
    FluxSource,
    HomelabConfigError,
    SopsSecret,
    SopsSecretProps,
    SourceKind,
    SynthError,
)
from homelab_ai.synth.dist import render
from tests.factories import write_encrypted_like_secret
from tests.helpers import objects_by_key
from tests.yaml_io import load_yaml

CRD_FILE = "crds/flux-kustomization.yaml"


@pytest.fixture(scope="module")
def crd_validator(repo_root):
    crd = load_yaml((repo_root / CRD_FILE).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    schema = version["schema"]["openAPIV3Schema"]
    expected_api_version = f"{crd['spec']['group']}/{version['name']}"
    return jsonschema.Draft7Validator(schema), expected_api_version, crd["spec"]["names"]["kind"]


def _flux_objects(homelab_objects) -> dict[str, dict]:
    return {name: obj for (kind, name), obj in homelab_objects.items() if kind == "Kustomization"}


def _flux_app(tmp_path, *, with_secret: bool, **props):
    app = cdk8s.App()
    ai = cdk8s.Chart(app, "ai", namespace="ai", disable_resource_name_hashes=True)
    if with_secret:
        file = write_encrypted_like_secret(tmp_path / "s.sops.yaml", "s", ["k"])
        SopsSecret(ai, "Secret", SopsSecretProps(name="s", file=file, keys=["k"]))
    else:
        cdk8s.ApiObject(ai, "Cm", api_version="v1", kind="ConfigMap", metadata=cdk8s.ApiObjectMetadata(name="c"))
    flux = cdk8s.Chart(app, "flux", disable_resource_name_hashes=True)
    values = dict(name="ai", folder="ai", charts=[ai])
    values.update(props)
    construct = FluxKustomization(flux, "Ai", FluxKustomizationProps(**values))
    return app, {"ai": "ai", "flux": "flux"}, construct


def test_every_flux_object_validates_against_the_crd_schema(homelab_objects, crd_validator):
    validator, api_version, kind = crd_validator
    objects = _flux_objects(homelab_objects)
    assert sorted(objects) == ["homelab-ai-apps", "homelab-ai-infrastructure"]
    for obj in objects.values():
        assert obj["apiVersion"] == api_version
        assert obj["kind"] == kind
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
        assert errors == []


def test_crd_schema_check_catches_a_broken_kustomization(homelab_objects, crd_validator):
    validator, _, _ = crd_validator
    broken = copy.deepcopy(_flux_objects(homelab_objects)["homelab-ai-apps"])
    broken["spec"]["interval"] = "ten minutes"
    del broken["spec"]["sourceRef"]
    messages = sorted(e.message for e in validator.iter_errors(broken))
    assert any("'sourceRef' is a required property" in m for m in messages)
    assert any("does not match" in m for m in messages)


def test_flux_objects_live_in_flux_system(homelab_objects):
    for obj in _flux_objects(homelab_objects).values():
        assert obj["metadata"]["namespace"] == "flux-system"


def test_ai_depends_on_infrastructure_which_depends_on_nothing(homelab_objects):
    objects = _flux_objects(homelab_objects)
    assert objects["homelab-ai-apps"]["spec"]["dependsOn"] == [{"name": "homelab-ai-infrastructure"}]
    assert "dependsOn" not in objects["homelab-ai-infrastructure"]["spec"]


def test_infrastructure_waits_for_health_so_ai_starts_after_it_is_ready(homelab_objects):
    assert _flux_objects(homelab_objects)["homelab-ai-infrastructure"]["spec"]["wait"] is True


def test_each_folder_is_pruned_from_the_flux_system_git_repository(homelab_objects):
    objects = _flux_objects(homelab_objects)
    assert objects["homelab-ai-apps"]["spec"]["path"] == "./dist/ai"
    assert objects["homelab-ai-infrastructure"]["spec"]["path"] == "./dist/infrastructure"
    for obj in objects.values():
        assert obj["spec"]["prune"] is True
        assert obj["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}


def test_only_the_folder_with_sops_files_decrypts_with_the_sops_age_secret(homelab_objects, homelab_files):
    sops_folders = {f.path.split("/")[0] for f in homelab_files if f.path.endswith(".sops.yaml")}
    assert sops_folders == {"ai"}
    objects = _flux_objects(homelab_objects)
    assert objects["homelab-ai-apps"]["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    assert "decryption" not in objects["homelab-ai-infrastructure"]["spec"]


def test_decryption_follows_the_charts_sops_secrets(tmp_path):
    _, _, with_secret = _flux_app(tmp_path, with_secret=True)
    _, _, without = _flux_app(tmp_path, with_secret=False)
    assert with_secret.decrypts_sops is True
    assert without.decrypts_sops is False


def test_source_name_kind_and_interval_are_settable(tmp_path):
    app, folders, _ = _flux_app(
        tmp_path,
        with_secret=False,
        source=FluxSource(name="homelab", kind=SourceKind.OCI_REPOSITORY, namespace="sources"),
        interval=timedelta(hours=1, minutes=30),
        sops_secret_name="other",
    )
    spec = objects_by_key(render(app, folders))[("Kustomization", "ai")]["spec"]
    assert spec["sourceRef"] == {"kind": "OCIRepository", "name": "homelab", "namespace": "sources"}
    assert spec["interval"] == "1h30m"


def test_depends_on_in_another_namespace_names_that_namespace(tmp_path):
    app = cdk8s.App()
    flux = cdk8s.Chart(app, "flux", disable_resource_name_hashes=True)
    base = FluxKustomization(flux, "Base", FluxKustomizationProps(name="base", folder="flux", namespace="infra"))
    FluxKustomization(flux, "Top", FluxKustomizationProps(name="top", folder="flux", depends_on=[base]))
    spec = objects_by_key(render(app, {"flux": "flux"}))[("Kustomization", "top")]["spec"]
    assert spec["dependsOn"] == [{"name": "base", "namespace": "infra"}]


def test_synth_refuses_a_sops_folder_that_flux_would_not_decrypt(tmp_path):
    app, folders, _ = _flux_app(tmp_path, with_secret=True, decrypt_sops=False)
    with pytest.raises(SynthError, match=r"FluxKustomization 'ai' \(\./dist/ai\): holds SOPS-encrypted ai/secret-s"):
        render(app, folders)


def test_synth_refuses_a_flux_kustomization_for_a_folder_it_does_not_write(tmp_path):
    app, folders, _ = _flux_app(tmp_path, with_secret=False, folder="apps")
    with pytest.raises(SynthError, match="the synth writes no folder 'apps'"):
        render(app, folders)


def test_depends_on_takes_flux_kustomizations_not_names():
    with pytest.raises(HomelabConfigError, match=r"FluxKustomizationProps\.depends_on: holds something"):
        FluxKustomizationProps(name="ai", folder="ai", depends_on=["homelab-ai-infrastructure"])


def test_name_must_be_a_dns_label():
    with pytest.raises(HomelabConfigError, match=r"FluxKustomizationProps\.name"):
        FluxKustomizationProps(name="AI", folder="ai")
