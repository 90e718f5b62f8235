"""Every object in dist/ passes kubernetes-validate --strict for 1.27 and the newest schema shipped."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

VERSIONS = ["1.27", kubernetes_validate.latest_version()]


def _documents(homelab_files):
    for item in homelab_files:
        if item.path.endswith("kustomization.yaml"):
            continue
        doc = yaml.safe_load(item.content)
        # Flux's kustomize-controller strips the sops metadata when it decrypts; validate what it applies.
        doc.pop("sops", None)
        yield item.path, doc


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_kubernetes(homelab_files, version):
    failures = []
    for path, doc in _documents(homelab_files):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{path}: {exc.message}")
    assert failures == []


def test_schema_check_catches_an_invalid_object():
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": "eighty"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.27", strict=True)
