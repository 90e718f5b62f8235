"""Every object in dist/ is valid: built-in kinds pass kubernetes-validate --strict for 1.27 and the
newest schema shipped; custom resources (Flux, Longhorn) pass their CRD's schema from crds/."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest
import yaml

VERSIONS = ["1.27", kubernetes_validate.latest_version()]


@pytest.fixture(scope="module")
def crd_validators(repo_root) -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> validator for every served version of every CRD in crds/."""
    validators = {}
    for path in sorted((repo_root / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                validators[key] = jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"])
    return validators


def _documents(homelab_files):
    for item in homelab_files:
        if item.path.endswith("kustomization.yaml"):
            continue
        doc = yaml.safe_load(item.content)
        # Flux's kustomize-controller strips the sops metadata when it decrypts; validate what it applies.
        doc.pop("sops", None)
        yield item.path, doc


@pytest.mark.parametrize("version", VERSIONS)
def test_every_built_in_object_is_valid_kubernetes(homelab_files, crd_validators, version):
    failures = []
    for path, doc in _documents(homelab_files):
        if (doc["apiVersion"], doc["kind"]) in crd_validators:
            continue  # a custom resource: checked against its CRD below
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{path}: {exc.message}")
    assert failures == []


def test_every_custom_resource_is_valid_against_its_crd(homelab_files, crd_validators):
    checked, failures = [], []
    for path, doc in _documents(homelab_files):
        validator = crd_validators.get((doc["apiVersion"], doc["kind"]))
        if validator is None:
            continue
        checked.append(path)
        failures += [f"{path}: {error.message}" for error in validator.iter_errors(doc)]
    assert checked  # the Flux Kustomizations at least
    assert failures == []


def test_schema_check_catches_an_invalid_object():
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": "eighty"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.27", strict=True)
