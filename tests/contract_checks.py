"""Hold rendered manifests to the upstream contracts: each knob a container uses must be a row of its app's table.

Each check returns the problems it found (empty when all is well), so a test can show both that the
committed dist/ passes and that a doctored manifest is caught.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from homelab_ai.base.contract import AppContract, KnobKind
from homelab_ai.services.contract import CONTRACTS, contract_for_image
from tests.yaml_io import load_yaml, load_yaml_all

REPO_ROOT = Path(__file__).resolve().parent.parent
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def dist_objects(dist: Path = REPO_ROOT / "dist") -> list[dict]:
    """Every object in the committed dist/ (SOPS files and kustomizations left out)."""
    objects = []
    for path in sorted(dist.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.name.endswith(".sops.yaml"):
            continue
        objects.extend(doc for doc in load_yaml_all(path.read_text()) if isinstance(doc, dict))
    return objects


def containers(objects: Iterable[dict]) -> Iterator[tuple[str, dict, dict]]:
    """(where, pod spec, container) for every container and init container of every pod template."""
    for obj in objects:
        if obj.get("kind") not in POD_KINDS:
            continue
        pod = obj["spec"]["template"]["spec"]
        for section in ("initContainers", "containers"):
            for c in pod.get(section) or []:
                yield f"{obj['kind']}/{obj['metadata']['name']} container {c['name']}", pod, c


def _flags(c: dict) -> set[str]:
    words = [*(c.get("command") or []), *(c.get("args") or [])]
    return {w.split("=", 1)[0] for w in words if isinstance(w, str) and w.startswith("--")}


def _probe_paths(c: dict) -> set[str]:
    probes = (c.get(p) for p in ("startupProbe", "readinessProbe", "livenessProbe"))
    return {f"GET {p['httpGet']['path']}" for p in probes if p and "httpGet" in p}


def _user(pod: dict, c: dict) -> str:
    ctx = {**(pod.get("securityContext") or {}), **(c.get("securityContext") or {})}
    return f"{ctx.get('runAsUser', 0)}:{ctx.get('runAsGroup', 0)}"


def used_knobs(pod: dict, c: dict) -> dict[KnobKind, set[str]]:
    """What one container turns on its image: env names, flags, probe paths, ports, user, writable mounts."""
    return {
        KnobKind.ENV: {e["name"] for e in c.get("env") or []},
        KnobKind.FLAG: _flags(c),
        KnobKind.API_PATH: _probe_paths(c),
        KnobKind.PORT: {str(p["containerPort"]) for p in c.get("ports") or []},
        KnobKind.USER: {_user(pod, c)},
        KnobKind.WRITABLE_PATH: {m["mountPath"] for m in c.get("volumeMounts") or [] if not m.get("readOnly")},
    }


def container_problems(objects: Iterable[dict], kind: KnobKind) -> list[str]:
    """Knobs of ``kind`` that a container uses and its image's contract does not list."""
    problems = []
    for where, pod, c in containers(objects):
        contract = contract_for_image(c["image"])
        if contract is None:
            problems.append(f"{where}: image {c['image']} has no upstream contract")
            continue
        for name in sorted(used_knobs(pod, c)[kind] - contract.named(kind)):
            problems.append(f"{where}: {kind.value} {name!r} is not in the {contract.app} {contract.version} contract")
    return problems


def pin_problems(objects: Iterable[dict]) -> list[str]:
    """Containers whose image is not exactly its contract's pin."""
    problems = []
    for where, _, c in containers(objects):
        contract = contract_for_image(c["image"])
        if contract is not None and contract.image is not None and c["image"] != contract.image.reference:
            problems.append(f"{where}: image {c['image']} is not the contract's pin {contract.image.reference}")
    return problems


def _flatten(values: dict, prefix: str = "") -> set[str]:
    """Dotted keys of nested mappings; a list of mappings adds its items' keys under the list's key."""
    keys = set()
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and not dotted.startswith("podAnnotations"):
            if dotted in ("nodeSelector",):
                keys.add(dotted)
                continue
            keys |= _flatten(value, f"{dotted}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                keys |= _flatten(item, f"{dotted}.")
        else:
            keys.add(dotted)
    return keys


def chart_value_problems(objects: Iterable[dict], contract: AppContract) -> list[str]:
    """HelmRelease values and time-slicing config keys of the device plugin that its contract lacks."""
    objects = list(objects)
    used: set[str] = set()
    for obj in objects:
        if obj.get("kind") == "HelmRelease" and obj["spec"]["chart"]["spec"]["chart"] == "nvidia-device-plugin":
            used |= _flatten(obj["spec"].get("values") or {})
        if obj.get("kind") == "ConfigMap" and obj["metadata"].get("namespace") == "nvidia-device-plugin":
            for text in (obj.get("data") or {}).values():
                used |= _flatten(load_yaml(text))
    return [
        f"device plugin: chart value {k!r} is not in the {contract.app} {contract.version} contract"
        for k in sorted(used - contract.named(KnobKind.CHART_VALUE))
    ]


def called_paths(script: Path, prefixes: tuple[str, ...]) -> set[str]:
    """The API paths an in-pod program names in its source (string and f-string parts), query string cut."""
    found = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            for prefix in prefixes:
                if text.startswith(prefix):
                    found.add(text.split("?", 1)[0])
    return found


def source_problems() -> list[str]:
    """Rows without a source, or with a source missing its repository, file or tag."""
    problems = []
    for contract in CONTRACTS:
        for knob in contract.knobs:
            source = knob.source
            if source is None or not (source.repo and source.path and source.ref):
                problems.append(f"{contract.app}: {knob.kind.value} {knob.name!r} has no upstream source")
            elif not source.read_at_ref and not source.note:
                problems.append(f"{contract.app}: {knob.name!r} was not read at {source.ref} and says nothing else")
    return problems
