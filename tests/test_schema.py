"""Every object in dist/ passes kubernetes-validate --strict for 1.27 and the newest schema shipped.

Custom resources (Flux HelmRelease and HelmRepository) have no schema there: they are checked,
strictly, against their CRD schema instead (tests/crd_schemas.py).
"""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from tests.crd_schemas import is_custom, validate_custom
from tests.yaml_io import load_yaml

VERSIONS = ["1.27", kubernetes_validate.latest_version()]


def _documents(homelab_files):
    for item in homelab_files:
        if item.path.endswith("kustomization.yaml"):
            continue
        doc = load_yaml(item.content)
        # Flux's kustomize-controller strips the sops metadata when it decrypts; validate what it applies.
        doc.pop("sops", None)
        yield item.path, doc


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_kubernetes(homelab_files, version):
    failures = []
    for path, doc in _documents(homelab_files):
        if is_custom(doc):
            continue  # checked against its CRD in test_every_custom_resource_matches_its_crd_schema
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{path}: {exc.message}")
    assert failures == []


def test_schema_check_catches_an_invalid_object():
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": "eighty"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.27", strict=True)


def test_every_custom_resource_matches_its_crd_schema(homelab_files):
    custom = [(path, doc) for path, doc in _documents(homelab_files) if is_custom(doc)]
    assert {doc["kind"] for _, doc in custom} >= {"HelmRelease", "HelmRepository", "Kustomization", "RecurringJob"}
    failures = [f"{path}: {problem}" for path, doc in custom for problem in validate_custom(doc)]
    assert failures == []


@pytest.mark.parametrize(
    ("kind", "breakage", "expected"),
    [
        ("HelmRelease", lambda d: d["spec"].pop("interval"), "'interval' is a required property"),
        ("HelmRelease", lambda d: d["spec"]["chart"]["spec"].update(sourceRef={"kind": "Helm", "name": "x"}), "Helm"),
        ("HelmRelease", lambda d: d["spec"].update(value={}), "'value' was unexpected"),
        ("HelmRepository", lambda d: d["spec"].update(url="nvidia.github.io"), "does not match"),
    ],
)
def test_crd_schema_check_catches_an_invalid_custom_resource(homelab_files, kind, breakage, expected):
    doc = next(doc for _, doc in _documents(homelab_files) if doc["kind"] == kind)
    broken = load_yaml(yaml.safe_dump(doc))
    breakage(broken)
    assert any(expected in problem for problem in validate_custom(broken))
