"""JSON-schema checks for custom resources, which kubernetes-validate has no schema for.

Every CRD in crds/ (Flux HelmRelease and Kustomization, Longhorn RecurringJob, prometheus-operator
ServiceMonitor and PrometheusRule, Gateway API HTTPRoute and ReferenceGrant, cert-manager
Certificate) and in crds/schemas-only/ (Longhorn Volume, Backup, BackupTarget, Setting, Snapshot) is
loaded and made strict: an unknown field is an error, as the API server's structural pruning would
silently drop it. HelmRepository's CRD is not in crds/, so its schema here is the subset of
source.toolkit.fluxcd.io/v1 that the constructs may write, kept by hand.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

from tests.yaml_io import load_yaml_all

CRDS = Path(__file__).resolve().parent.parent / "crds"

_DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
HELM_REPOSITORY_V1: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "pattern": "^(http|https|oci)://.*$"},
                "interval": {"type": "string", "pattern": _DURATION},
                "timeout": {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"},
                "type": {"type": "string", "enum": ["default", "oci"]},
                "provider": {"type": "string", "enum": ["generic", "aws", "azure", "gcp"]},
                "secretRef": _NAME,
                "certSecretRef": _NAME,
                "passCredentials": {"type": "boolean"},
                "insecure": {"type": "boolean"},
                "suspend": {"type": "boolean"},
            },
        },
    },
}


def _strict(schema: Any) -> Any:
    """Refuse unknown fields wherever the schema lists its fields and does not ask to keep unknown ones.

    OpenAPI's ``nullable: true`` (Longhorn's ``+nullable`` fields: a Go nil map or zero time is
    ``null`` in the API's JSON) becomes JSON schema's ``null`` type.
    """
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if schema.get("nullable") and isinstance(schema.get("type"), str):
            schema["type"] = [schema["type"], "null"]
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _from_crds() -> dict[tuple[str, str], dict[str, Any]]:
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    # crds/*.yaml: what the charts render (some have bindings, see make imports); crds/schemas-only/: objects
    # made outside the synth (restores, drills, the doctor).
    for path in sorted([*CRDS.glob("*.yaml"), *CRDS.glob("schemas-only/*.yaml")]):
        for crd in load_yaml_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                api_version = f"{spec['group']}/{version['name']}"
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                schemas[(api_version, spec["names"]["kind"])] = _strict(schema)
    return schemas


@functools.cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict schema; loaded on first use, not when a test module is collected."""
    return {
        **_from_crds(),
        ("source.toolkit.fluxcd.io/v1", "HelmRepository"): _strict(HELM_REPOSITORY_V1),
    }


def is_custom(doc: dict[str, Any]) -> bool:
    return (doc.get("apiVersion"), doc.get("kind")) in schemas()


def validate_custom(doc: dict[str, Any]) -> list[str]:
    """Every schema violation of one custom resource, as 'path: message'."""
    schema = schemas()[(doc["apiVersion"], doc["kind"])]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]


def schema_problems(doc: dict[str, Any], version: str = "1.27") -> list[str]:
    """A custom resource against its CRD, anything else against Kubernetes' own schema (strict)."""
    if is_custom(doc):
        return validate_custom(doc)
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [exc.message]
    return []
