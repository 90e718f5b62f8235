"""Every object in dist/ passes kubernetes-validate --strict for 1.27 and the newest schema shipped;
objects of a CRD in crds/ (Longhorn RecurringJobs, Flux objects) pass that CRD's schema, strictly."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

VERSIONS = ["1.27", kubernetes_validate.latest_version()]
CRDS = Path(__file__).resolve().parent.parent / "crds"


def _strict(schema: dict) -> dict:
    """The CRD schema with unknown fields refused (the API server would silently prune them)."""
    schema = copy.deepcopy(schema)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    return schema


def _crd_schemas() -> dict[tuple[str, str], dict]:
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = _strict(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


CRD_SCHEMAS = _crd_schemas()


def _documents(homelab_files):
    for item in homelab_files:
        if item.path.endswith("kustomization.yaml"):
            continue
        doc = yaml.safe_load(item.content)
        # Flux's kustomize-controller strips the sops metadata when it decrypts; validate what it applies.
        doc.pop("sops", None)
        yield item.path, doc


def _is_custom(doc: dict) -> bool:
    return (doc["apiVersion"], doc["kind"]) in CRD_SCHEMAS


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_kubernetes(homelab_files, version):
    failures = []
    for path, doc in _documents(homelab_files):
        if _is_custom(doc):
            continue  # checked against its CRD below
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{path}: {exc.message}")
    assert failures == []


def test_every_custom_object_matches_its_crd_schema(homelab_files):
    custom = [(path, doc) for path, doc in _documents(homelab_files) if _is_custom(doc)]
    failures = []
    for path, doc in custom:
        body = {k: v for k, v in doc.items() if k != "metadata"}
        for error in jsonschema.Draft7Validator(CRD_SCHEMAS[(doc["apiVersion"], doc["kind"])]).iter_errors(body):
            failures.append(f"{path}: {'/'.join(map(str, error.path))}: {error.message}")
    assert custom, "the chart should emit Longhorn RecurringJobs"
    assert failures == []


def test_every_object_is_a_known_kind(homelab_files):
    """No object slips past both checks: each is either core Kubernetes or a CRD of crds/."""
    unknown = []
    for path, doc in _documents(homelab_files):
        if _is_custom(doc):
            continue
        try:
            kubernetes_validate.validate(doc, VERSIONS[0], strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unknown.append(path)
        except kubernetes_validate.ValidationError:
            pass  # reported by test_every_object_is_valid_kubernetes
    assert unknown == []


def test_schema_check_catches_an_invalid_object():
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": "eighty"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.27", strict=True)


def test_crd_check_catches_an_unknown_field():
    schema = CRD_SCHEMAS[("longhorn.io/v1beta2", "RecurringJob")]
    bad = {"apiVersion": "longhorn.io/v1beta2", "kind": "RecurringJob", "spec": {"cron": "0 3 * * *", "retian": 3}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(bad))
