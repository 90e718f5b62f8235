"""What one object declares against what the others render: refuse a cluster that can never work.

Each construct checks its own props; this pass reads the rendered manifests of the whole chart,
where one construct's promise meets another's object, and refuses (with the object, container and
field at fault) when:

- a probe checks a port its container does not declare;
- a Service selects no pod, or sends its traffic to a port no selected container declares;
- a pod reads a key that the chart's SopsSecret of that name does not declare, or a ConfigMap or
  a claim that the chart does not render (a Secret the chart does not write at all may be made
  outside it, and is not judged);
- a container calls a URL (in its env, command or args) that cannot answer: a Service that does
  not exist or lacks the port, a loopback port no container of the pod listens on, or a
  destination that a NetworkPolicy of the caller (egress) or of the server (ingress) blocks,
  e.g. a download over http:// from a pod whose policy opens the internet on 443 only. A URL
  outside the cluster is judged only for a pod whose policy lets it out at all: in any other
  pod it is a name shown or handed on (a redirect address, a public URL), not a call.

NetworkPolicies are evaluated as Kubernetes does for what the chart can know: pods by labels,
namespaces by ``kubernetes.io/metadata.name``; an ``ipBlock`` is taken to stand for destinations
outside the cluster (our InternetEgress excludes the private ranges pods live in), and a
namespace selector on other labels is assumed to match (no false refusal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from homelab_ai.base.validators import typed_fields

_POD_TEMPLATE = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
_PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
_URL = re.compile(r"\b(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?")
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
_CLUSTER_DOMAIN = ".svc.cluster.local"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class DeclaredSecret:
    """A Secret the synth writes (a SopsSecret): where it lives and which keys it holds."""

    namespace: str
    """Namespace of the Secret."""
    name: str
    """Name of the Secret."""
    keys: tuple[str, ...]
    """The keys its data holds (what consumers may read)."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class _Pod:
    """One pod template: who owns it, where, its labels and its containers (init containers first)."""

    owner: str
    """The object that holds the template, e.g. "Deployment ollama"."""
    namespace: str
    """Its namespace."""
    labels: dict[str, str]
    """The pod template's labels (what Services and NetworkPolicies select)."""
    containers: tuple[Any, ...]
    """Init containers, then containers, as rendered."""
    volumes: tuple[Any, ...]
    """The pod's volumes, as rendered."""


def _dig(obj: Any, path: Iterable[str]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _namespace(manifest: Mapping) -> str:
    return str(_dig(manifest, ("metadata", "namespace")) or "default")


def _name(manifest: Mapping) -> str:
    return str(_dig(manifest, ("metadata", "name")) or "?")


def _pods(manifests: Iterable[Mapping]) -> Iterator[_Pod]:
    for manifest in manifests:
        kind = manifest.get("kind")
        template = manifest if kind == "Pod" else _dig(manifest, _POD_TEMPLATE.get(str(kind), ("-",)))
        spec = _dig(template, ("spec",))
        if not isinstance(spec, Mapping):
            continue
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        yield _Pod(
            owner=f"{kind} {_name(manifest)}",
            namespace=_namespace(manifest),
            labels=dict(_dig(template, ("metadata", "labels")) or {}),
            containers=tuple(containers),
            volumes=tuple(spec.get("volumes") or []),
        )


def _selects(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a pod's labels; empty selects all."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _ports(container: Mapping) -> list[Mapping]:
    return list(container.get("ports") or [])


def _declares(containers: Iterable[Mapping], port: int | str) -> bool:
    """Whether a container declares ``port`` (a number, or a port name)."""
    for container in containers:
        for entry in _ports(container):
            if port == entry.get("containerPort") or port == entry.get("name"):
                return True
    return False


def _container_port(containers: Iterable[Mapping], port: int | str) -> int | None:
    """The number of ``port`` (a number, or a named port of one of the containers)."""
    if isinstance(port, int):
        return port
    for container in containers:
        for entry in _ports(container):
            if entry.get("name") == port:
                return int(entry["containerPort"])
    return None


def _where(pod: _Pod, container: Mapping, field: str) -> str:
    return f"{pod.owner} (namespace {pod.namespace}) container {container.get('name')!r} {field}"


def _probe_problems(pods: Iterable[_Pod]) -> list[str]:
    problems = []
    for pod in pods:
        for container in pod.containers:
            for probe_name in _PROBES:
                probe = container.get(probe_name) or {}
                for handler in ("httpGet", "tcpSocket", "grpc"):
                    port = _dig(probe, (handler, "port"))
                    if port is None or _declares([container], port):
                        continue
                    declared = [p.get("containerPort") for p in _ports(container)]
                    problems.append(
                        f"{_where(pod, container, f'{probe_name}.{handler}.port')}: the probe checks port {port!r}, "
                        f"but the container declares {declared or 'no port'}, so the probe can never pass. "
                        "Fix: probe the port the app listens on (its container port), or declare the port"
                    )
    return problems


def _service_pods(service: Mapping, pods: list[_Pod]) -> list[_Pod]:
    selector = _dig(service, ("spec", "selector")) or {}
    return [p for p in pods if p.namespace == _namespace(service) and _selects({"matchLabels": selector}, p.labels)]


def _service_problems(services: list[Mapping], pods: list[_Pod]) -> list[str]:
    problems = []
    for service in services:
        if not _dig(service, ("spec", "selector")):
            continue  # endpoints managed elsewhere
        where = f"Service {_name(service)} (namespace {_namespace(service)})"
        selected = _service_pods(service, pods)
        if not selected:
            problems.append(
                f"{where} spec.selector: {_dig(service, ('spec', 'selector'))} selects no pod of the chart, "
                "so the Service has no endpoints. Fix: select the labels of the app's pods"
            )
            continue
        for index, entry in enumerate(_dig(service, ("spec", "ports")) or []):
            target = entry.get("targetPort", entry.get("port"))
            if not any(_declares(p.containers, target) for p in selected):
                declared = sorted({e.get("containerPort") for p in selected for c in p.containers for e in _ports(c)})
                problems.append(
                    f"{where} spec.ports[{index}].targetPort: {target!r} is not a port of the pods it selects "
                    f"({', '.join(p.owner for p in selected)} declare {declared or 'no port'}), so nothing answers. "
                    "Fix: target the container port"
                )
    return problems


def _reference_problems(
    pods: list[_Pod], secrets: Iterable[DeclaredSecret], config_maps: set[tuple[str, str]], claims: set[tuple[str, str]]
) -> list[str]:
    problems = []
    declared = {(s.namespace, s.name): s.keys for s in secrets}
    for pod in pods:

        def secret_problem(where: str, name: str, key: str | None, *, pod: _Pod = pod) -> str | None:
            keys = declared.get((pod.namespace, name))
            if keys is None:
                return None  # not written here: a Secret made outside the chart is the operator's to provide
            if key is not None and key not in keys:
                return (
                    f"{where}: reads key {key!r} of Secret {name!r}, which declares only {', '.join(keys)}, so the "
                    "pod never starts. Fix: use a declared key, or add it to the SopsSecret's keys"
                )
            return None

        for container in pod.containers:
            for env in container.get("env") or []:
                ref = _dig(env, ("valueFrom", "secretKeyRef"))
                if ref and not ref.get("optional"):
                    problem = secret_problem(_where(pod, container, f"env {env.get('name')}"), ref["name"], ref["key"])
                    problems += [problem] if problem else []
                ref = _dig(env, ("valueFrom", "configMapKeyRef"))
                if ref and not ref.get("optional") and (pod.namespace, ref["name"]) not in config_maps:
                    where = _where(pod, container, f"env {env.get('name')}")
                    problems.append(
                        f"{where}: reads ConfigMap {ref['name']!r}, which the chart does not render. Fix: create it"
                    )
            for source in container.get("envFrom") or []:
                ref = source.get("secretRef")
                if ref and not ref.get("optional"):
                    problem = secret_problem(_where(pod, container, "envFrom"), ref["name"], None)
                    problems += [problem] if problem else []
        for volume in pod.volumes:
            where = f"{pod.owner} (namespace {pod.namespace}) volume {volume.get('name')!r}"
            secret = volume.get("secret")
            if secret and not secret.get("optional"):
                problem = secret_problem(where, secret.get("secretName", ""), None)
                problems += [problem] if problem else []
            config_map = volume.get("configMap")
            if config_map and not config_map.get("optional") and (pod.namespace, config_map["name"]) not in config_maps:
                problems.append(
                    f"{where}: mounts ConfigMap {config_map['name']!r}, which the chart does not render. Fix: create it"
                )
            claim = _dig(volume, ("persistentVolumeClaim", "claimName"))
            if claim and (pod.namespace, claim) not in claims:
                problems.append(
                    f"{where}: mounts PersistentVolumeClaim {claim!r}, which the chart does not render, so the pod "
                    "stays Pending. Fix: mount a LonghornVolume of the chart"
                )
    return problems


# --- URLs and NetworkPolicies -------------------------------------------------------------------


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class _Call:
    """A URL a container calls: scheme, host, port, and the text it was found in (env var, args)."""

    field: str
    """Where the URL was found: "env NAME", "args[1]", "command[0]"."""
    url: str
    """The URL as written, up to its port."""
    host: str
    """Its host, lower case."""
    port: int
    """Its port: explicit, else 443 for https and 80 for http."""


def _calls(container: Mapping) -> Iterator[_Call]:
    texts: list[tuple[str, str]] = [
        (f"env {env.get('name')}", str(env["value"])) for env in container.get("env") or [] if "value" in env
    ]
    texts += [(f"command[{i}]", str(v)) for i, v in enumerate(container.get("command") or [])]
    texts += [(f"args[{i}]", str(v)) for i, v in enumerate(container.get("args") or [])]
    for field, text in texts:
        for match in _URL.finditer(text):
            scheme, host, port = match.groups()
            yield _Call(
                field=field,
                url=match.group(0),
                host=host.lower(),
                port=int(port) if port else (443 if scheme == "https" else 80),
            )


def _policies_of(pod: _Pod, policies: list[Mapping], direction: str) -> list[Mapping]:
    """The NetworkPolicies that select ``pod`` for ``direction`` ('Ingress' or 'Egress')."""
    result = []
    for policy in policies:
        spec = policy.get("spec") or {}
        if _namespace(policy) != pod.namespace or not _selects(spec.get("podSelector"), pod.labels):
            continue
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
        if direction in types:
            result.append(policy)
    return result


def _port_allowed(rule: Mapping, number: int, name: str | None) -> bool:
    entries = rule.get("ports") or []
    if not entries:
        return True
    for entry in entries:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        port = entry.get("port")
        end = entry.get("endPort")
        if port is None or port == number or (name is not None and port == name):
            return True
        if isinstance(port, int) and end is not None and port <= number <= end:
            return True
    return False


def _peer_is_pod(peer: Mapping, pod: _Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return False
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        if pod.namespace != policy_namespace:
            return False
    else:
        names = (namespace_selector.get("matchLabels") or {}).get("kubernetes.io/metadata.name")
        if names is not None and names != pod.namespace:
            return False
    return _selects(peer.get("podSelector"), pod.labels)


def _admits(policies: list[Mapping], direction: str, peer_matches, number: int, name: str | None) -> bool:
    """Whether any rule of ``policies`` lets the traffic through (no policy: everything is allowed)."""
    if not policies:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in policies:
        for rule in (policy.get("spec") or {}).get(key) or []:
            peers = rule.get(peers_key) or []
            if _port_allowed(rule, number, name) and (not peers or any(peer_matches(p, policy) for p in peers)):
                return True
    return False


def _internet_rules(policies: list[Mapping]) -> list[Mapping]:
    """The egress rules that reach outside the cluster (an ipBlock, or no peer at all)."""
    return [
        rule
        for policy in policies
        for rule in (policy.get("spec") or {}).get("egress") or []
        if not rule.get("to") or any("ipBlock" in peer for peer in rule["to"])
    ]


def _internet_ports(policies: list[Mapping]) -> list[int]:
    """The ports egress rules open to destinations outside the cluster (an ipBlock, or no peer at all)."""
    return sorted(
        {
            e["port"]
            for p in policies
            for r in (p.get("spec") or {}).get("egress") or []
            if not r.get("to") or any("ipBlock" in peer for peer in r["to"])
            for e in r.get("ports") or []
            if isinstance(e.get("port"), int)
        }
    )


def _service_for(host: str, pod: _Pod, services: Mapping[tuple[str, str], Mapping]) -> tuple[str, str] | None:
    """(namespace, name) of the in-cluster Service a host names, or None for a host outside the cluster."""
    if host.endswith(_CLUSTER_DOMAIN):
        host = host.removesuffix(_CLUSTER_DOMAIN)
        name, _, namespace = host.partition(".")
        return (namespace or pod.namespace, name)
    if host.endswith(".svc"):
        name, _, namespace = host.removesuffix(".svc").partition(".")
        return (namespace or pod.namespace, name)
    parts = host.split(".")
    if len(parts) == 1 and (pod.namespace, host) in services:
        return (pod.namespace, host)
    if len(parts) == 2 and (parts[1], parts[0]) in services:
        return (parts[1], parts[0])
    return None


def _call_problems(pods: list[_Pod], services: list[Mapping], policies: list[Mapping]) -> list[str]:
    problems = []
    by_name = {(_namespace(s), _name(s)): s for s in services}
    for pod in pods:
        egress = _policies_of(pod, policies, "Egress")
        for container in pod.containers:
            for call in _calls(container):
                where = _where(pod, container, call.field)
                problem = _one_call_problem(pod, call, by_name, pods, policies, egress)
                if problem:
                    problems.append(f"{where}: calls {call.url} (port {call.port}), but {problem}")
    return problems


def _one_call_problem(
    pod: _Pod,
    call: _Call,
    services: Mapping[tuple[str, str], Mapping],
    pods: list[_Pod],
    policies: list[Mapping],
    egress: list[Mapping],
) -> str | None:
    if call.host in _LOOPBACK:
        if _declares(pod.containers, call.port):
            return None
        return (
            f"no container of the pod listens on port {call.port}. Fix: call the port a container of the pod declares"
        )
    target = _service_for(call.host, pod, services)
    if target is None:
        if not _internet_rules(egress):
            return None  # a pod that is not meant to go out: the URL is a name it shows or hands on, not a call
        if _admits(egress, "Egress", lambda peer, _policy: "ipBlock" in peer, call.port, None):
            return None
        names = ", ".join(_name(p) for p in egress)
        ports = _internet_ports(egress)
        reach = f"only on port(s) {', '.join(map(str, ports))}" if ports else "on no port at all"
        return (
            f"NetworkPolicy {names} lets the pod reach outside the cluster {reach}, so the call can never "
            "connect. Fix: give the app internet egress (InternetEgress(), HTTPS), use https://, or add the "
            "port to InternetEgress(ports=...)"
        )
    service = services.get(target)
    if service is None:
        if target[0] not in {p.namespace for p in pods}:
            return None  # a namespace the chart does not render: not ours to check
        return f"there is no Service {target[1]!r} in namespace {target[0]}. Fix: call an existing Service's URL"
    entry = next((e for e in _dig(service, ("spec", "ports")) or [] if e.get("port") == call.port), None)
    if entry is None:
        offered = [e.get("port") for e in _dig(service, ("spec", "ports")) or []]
        return f"Service {target[1]} offers port(s) {offered}, not {call.port}. Fix: call the Service's port"
    servers = _service_pods(service, pods)
    target_port = entry.get("targetPort", entry.get("port"))
    for server in servers:
        number = _container_port(server.containers, target_port)
        if number is None:
            continue  # reported by the Service check
        name = target_port if isinstance(target_port, str) else None
        if not _admits(
            egress, "Egress", lambda peer, policy, s=server: _peer_is_pod(peer, s, _namespace(policy)), number, name
        ):
            names = ", ".join(_name(p) for p in egress)
            return (
                f"NetworkPolicy {names} does not let the pod reach {server.owner} on port {number}. "
                "Fix: let it in as a client (e.g. server.allow_client(client_policy)), which opens both ends"
            )
        ingress = _policies_of(server, policies, "Ingress")
        if not _admits(
            ingress, "Ingress", lambda peer, policy: _peer_is_pod(peer, pod, _namespace(policy)), number, name
        ):
            names = ", ".join(_name(p) for p in ingress)
            return (
                f"NetworkPolicy {names} of {server.owner} does not admit this pod on port {number}. "
                "Fix: admit it as a client (e.g. server.allow_client(client_policy))"
            )
    return None


def reachability_problems(manifests: Iterable[Mapping], secrets: Iterable[DeclaredSecret]) -> list[str]:
    """Every declared-but-unreachable problem of the rendered chart (see the module doc)."""
    manifests = [m for m in manifests if isinstance(m, Mapping)]
    pods = list(_pods(manifests))
    services = [m for m in manifests if m.get("kind") == "Service"]
    policies = [m for m in manifests if m.get("kind") == "NetworkPolicy"]
    config_maps = {(_namespace(m), _name(m)) for m in manifests if m.get("kind") == "ConfigMap"}
    claims = {(_namespace(m), _name(m)) for m in manifests if m.get("kind") == "PersistentVolumeClaim"}
    return (
        _probe_problems(pods)
        + _service_problems(services, pods)
        + _reference_problems(pods, secrets, config_maps, claims)
        + _call_problems(pods, services, policies)
    )
