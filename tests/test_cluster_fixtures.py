"""The recorded kubectl output the doctor is tested against has the API's shapes.

Core objects pass kubernetes-validate --strict (the Kubernetes OpenAPI schema); Longhorn and Flux
objects pass their CRD schemas (crds/), status included. MetalLB's IPAddressPool and Cilium's
CiliumLoadBalancerIPPool, whose CRDs are not in crds/, are checked against the fields of their Go
types, kept by hand below.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import jsonschema
import kubernetes_validate
import pytest

from tests.crd_schemas import is_custom, validate_custom
from tests.doctor_cluster import FIXTURES, clock_values

# metallb/metallb api/v1beta1/ipaddresspool_types.go: IPAddressPoolSpec{Addresses []string (required),
# AutoAssign *bool, AvoidBuggyIPs bool}; IPAddressPoolStatus has no fields.
IP_ADDRESS_POOL = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "metallb.io/v1beta1"},
        "kind": {"const": "IPAddressPool"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["addresses"],
            "additionalProperties": False,
            "properties": {
                "addresses": {"type": "array", "items": {"type": "string"}},
                "autoAssign": {"type": "boolean"},
                "avoidBuggyIPs": {"type": "boolean"},
            },
        },
        "status": {"type": "object", "additionalProperties": False},
    },
}
# cilium/cilium pkg/k8s/apis/cilium.io/v2alpha1/lbipam_types.go: CiliumLoadBalancerIPPoolSpec{ServiceSelector,
# AllowFirstLastIPs, Cidrs (deprecated), Blocks []{Cidr, Start, Stop}, Disabled}.
_BLOCK = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"cidr": {"type": "string"}, "start": {"type": "string"}, "stop": {"type": "string"}},
}
CILIUM_POOL = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"enum": ["cilium.io/v2alpha1", "cilium.io/v2"]},
        "kind": {"const": "CiliumLoadBalancerIPPool"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "serviceSelector": {"type": "object"},
                "allowFirstLastIPs": {"enum": ["Yes", "No"]},
                "cidrs": {"type": "array", "items": _BLOCK},
                "blocks": {"type": "array", "items": _BLOCK},
                "disabled": {"type": "boolean"},
            },
        },
        "status": {"type": "object"},
    },
}
HAND_KEPT = {"IPAddressPool": IP_ADDRESS_POOL, "CiliumLoadBalancerIPPool": CILIUM_POOL}
VALUES = {
    **clock_values(datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),
    "DEVICE_PLUGIN_CHECKSUM": "0" * 64,
    "MODEL_PULL_JOB": "ollama-pull-models-5bf22ef8",
    "PRE_UPGRADE_JOB": "open-webui-pre-upgrade-f46b5764",
    "APPS_REVISION": "main@sha1:" + "c" * 40,
    "INFRA_REVISION": "main@sha1:" + "a" * 40,
    "PREVIOUS_REVISION": "main@sha1:" + "a" * 40,
}


def _objects() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(FIXTURES.rglob("*.json")):
        answer = json.loads(Template(path.read_text()).substitute(VALUES))
        if "kubectlError" in answer:
            continue
        items = answer["items"] if answer.get("kind") == "List" else [answer]
        found += [(f"{path.relative_to(FIXTURES)}#{i}", item) for i, item in enumerate(items)]
    return found


OBJECTS = _objects()
POOLS = [(w, o) for w, o in OBJECTS if o["kind"] in HAND_KEPT]
OTHERS = [(w, o) for w, o in OBJECTS if o["kind"] not in HAND_KEPT]


@pytest.mark.parametrize(("where", "obj"), OTHERS, ids=[w for w, _ in OTHERS])
def test_recorded_object_matches_its_api_schema(where, obj):
    if is_custom(obj):
        assert validate_custom(obj) == []
    else:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize(("where", "obj"), POOLS, ids=[w for w, _ in POOLS])
def test_recorded_lb_pool_has_the_fields_of_its_go_type(where, obj):
    jsonschema.validate(obj, HAND_KEPT[obj["kind"]])


def test_every_kind_the_doctor_reads_is_recorded():
    kinds = {obj["kind"] for _, obj in OBJECTS}
    assert kinds >= {
        "Node",
        "Pod",
        "RuntimeClass",
        "StorageClass",
        "PersistentVolumeClaim",
        "BackupTarget",
        "Backup",
        "Service",
        "IPAddressPool",
        "Kustomization",
        "Secret",
        "Job",
        "ConfigMap",
    }


def test_fixtures_readme_cites_an_upstream_type_for_every_recorded_kind():
    readme = (FIXTURES / "README.md").read_text()
    for kind in sorted({obj["kind"] for _, obj in OBJECTS}):
        assert f"`{kind}`" in readme, kind
    assert Path(FIXTURES / "healthy").is_dir()
