"""Network isolation: the only open doors into and out of the namespace are the ones each app needs.

A small evaluator applies the NetworkPolicy rules of the synthesized chart (pods are isolated by
any policy that selects them; traffic passes when one policy's rule admits it) so the tests state
the intended reachability, not the YAML.
"""

from __future__ import annotations

import ipaddress

import cdk8s
import pytest

from homelab_ai import (
    AppNetworkPolicy,
    AppNetworkPolicyProps,
    AppWorkload,
    HomelabConfigError,
    InternetEgress,
    LlmBackend,
    LlmBackendProps,
    NamespaceIsolation,
    PodSelector,
)
from tests.factories import app_props, charts, gpu, vram
from tests.helpers import synth

NS = "ai"
DNS = {"labels": {"k8s-app": "kube-dns"}, "namespace": "kube-system"}
APPS = {name: {"app.kubernetes.io/name": name} for name in ("ollama", "open-webui", "stable-diffusion", "vram-arbiter")}
STRANGER = {"app.kubernetes.io/name": "debug-pod"}
PORTS = {"ollama": 11434, "open-webui": 8080, "stable-diffusion": 7860, "vram-arbiter": 11434}


def _policies(objects: dict) -> list[dict]:
    return [obj for (kind, _), obj in objects.items() if kind == "NetworkPolicy"]


def _selects(selector: dict, labels: dict) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def _peer_matches(peer: dict, labels: dict | None, namespace: str | None, ip: str | None) -> bool:
    if "ipBlock" in peer:
        if ip is None:
            return False
        address = ipaddress.ip_address(ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if labels is None:
        return False
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": namespace}
        if not _selects(peer["namespaceSelector"], ns_labels):
            return False
    elif namespace != NS:
        return False
    return _selects(peer.get("podSelector", {}), labels)


def _port_matches(rule: dict, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    return ports is None or any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports)


def ingress_allowed(policies, dst: dict, src: dict | None, port: int, src_ns: str = NS, ip: str | None = None):
    selecting = [
        p for p in policies if "Ingress" in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], dst)
    ]
    assert selecting, f"pods {dst} are not isolated for ingress"
    return any(
        _port_matches(rule, port, "TCP")
        and ("from" not in rule or any(_peer_matches(peer, src, src_ns, ip) for peer in rule["from"]))
        for p in selecting
        for rule in p["spec"].get("ingress", [])
    )


def egress_allowed(policies, src: dict, port: int, protocol="TCP", dst=None, dst_ns=NS, ip=None):
    selecting = [
        p for p in policies if "Egress" in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], src)
    ]
    assert selecting, f"pods {src} are not isolated for egress"
    return any(
        _port_matches(rule, port, protocol)
        and ("to" not in rule or any(_peer_matches(peer, dst, dst_ns, ip) for peer in rule["to"]))
        for p in selecting
        for rule in p["spec"].get("egress", [])
    )


@pytest.fixture(scope="module")
def policies(homelab_objects):
    return _policies(homelab_objects)


def test_namespace_denies_everything_by_default(homelab_objects):
    deny = homelab_objects[("NetworkPolicy", "default-deny")]
    assert deny["metadata"]["namespace"] == NS
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_any_pod_may_still_resolve_names_through_kube_dns(policies):
    for protocol in ("UDP", "TCP"):
        assert egress_allowed(policies, STRANGER, 53, protocol, dst=DNS["labels"], dst_ns="kube-system")
    assert not egress_allowed(policies, STRANGER, 53, "UDP", dst={"app": "other-dns"}, dst_ns="kube-system")


def test_a_pod_without_its_own_policy_gets_nothing_but_dns(policies):
    for name, labels in APPS.items():
        assert not ingress_allowed(policies, STRANGER, labels, PORTS[name])
        assert not egress_allowed(policies, STRANGER, PORTS[name], dst=labels)
    assert not egress_allowed(policies, STRANGER, 443, ip="1.1.1.1")


def test_every_app_pod_has_a_policy_of_its_own(homelab_objects, policies):
    named = {p["metadata"]["name"]: p for p in policies}
    for name, labels in APPS.items():
        assert named[name]["spec"]["podSelector"] == {"matchLabels": labels}


def test_ollama_is_reachable_only_from_the_vram_arbiter_on_its_port(policies):
    ollama = APPS["ollama"]
    assert ingress_allowed(policies, ollama, APPS["vram-arbiter"], 11434)
    assert not ingress_allowed(policies, ollama, APPS["vram-arbiter"], 22)
    assert not ingress_allowed(policies, ollama, APPS["open-webui"], 11434)
    assert not ingress_allowed(policies, ollama, APPS["stable-diffusion"], 11434)
    assert not ingress_allowed(policies, ollama, STRANGER, 11434)
    assert not ingress_allowed(policies, ollama, APPS["vram-arbiter"], 11434, src_ns="default")
    assert not ingress_allowed(policies, ollama, None, 11434, ip="10.10.2.100")


@pytest.mark.parametrize("name", ["open-webui", "stable-diffusion"])
def test_web_uis_are_reachable_from_anywhere_on_their_port_only(policies, name):
    labels = APPS[name]
    assert ingress_allowed(policies, labels, None, PORTS[name], ip="10.10.2.100")
    assert ingress_allowed(policies, labels, STRANGER, PORTS[name], src_ns="default")
    assert not ingress_allowed(policies, labels, None, 22, ip="10.10.2.100")
    assert not ingress_allowed(policies, labels, STRANGER, 11434)


def test_open_webui_may_call_the_vram_arbiters_two_apis_and_nothing_else_inside(policies):
    webui = APPS["open-webui"]
    assert egress_allowed(policies, webui, 11434, dst=APPS["vram-arbiter"])
    assert egress_allowed(policies, webui, 7860, dst=APPS["vram-arbiter"])
    assert not egress_allowed(policies, webui, 9400, dst=APPS["vram-arbiter"])
    assert not egress_allowed(policies, webui, 11434, dst=APPS["ollama"])
    assert not egress_allowed(policies, webui, 7860, dst=APPS["stable-diffusion"])
    assert not egress_allowed(policies, webui, 8080, dst=STRANGER)


def test_the_vram_arbiter_admits_only_open_webui_and_calls_only_the_two_apis(policies):
    arbiter = APPS["vram-arbiter"]
    assert ingress_allowed(policies, arbiter, APPS["open-webui"], 11434)
    assert ingress_allowed(policies, arbiter, APPS["open-webui"], 7860)
    assert not ingress_allowed(policies, arbiter, STRANGER, 11434)
    assert not ingress_allowed(policies, arbiter, None, 9400, ip="10.10.2.100")  # no monitoring: metrics closed
    assert egress_allowed(policies, arbiter, 11434, dst=APPS["ollama"])
    assert egress_allowed(policies, arbiter, 7860, dst=APPS["stable-diffusion"])
    assert not egress_allowed(policies, arbiter, 8080, dst=APPS["open-webui"])
    assert not egress_allowed(policies, arbiter, 443, ip="104.16.0.1")


def test_apps_do_not_call_each_other_unasked(policies):
    assert not egress_allowed(policies, APPS["ollama"], 8080, dst=APPS["open-webui"])
    assert not egress_allowed(policies, APPS["stable-diffusion"], 11434, dst=APPS["ollama"])


@pytest.mark.parametrize("name", ["ollama", "open-webui", "stable-diffusion"])
def test_internet_is_https_only_and_never_the_lan(policies, name):
    labels = APPS[name]
    assert egress_allowed(policies, labels, 443, ip="104.16.0.1")
    assert not egress_allowed(policies, labels, 80, ip="104.16.0.1")
    for lan in ("10.10.2.1", "192.168.1.10", "172.16.0.5", "169.254.169.254", "127.0.0.1"):
        assert not egress_allowed(policies, labels, 443, ip=lan), lan


def _backend(**overrides) -> tuple[cdk8s.App, LlmBackend]:
    app, infra, ai = charts()
    backend = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram(), **overrides))
    return app, backend


def test_ollama_has_no_internet_unless_model_downloads_is_asked_for():
    app, _ = _backend()
    policies = _policies(synth(app))
    assert not egress_allowed(policies, APPS["ollama"], 443, ip="104.16.0.1")
    app, _ = _backend(model_downloads=InternetEgress(ports=(443, 80)))
    assert egress_allowed(_policies(synth(app)), APPS["ollama"], 80, ip="104.16.0.1")


def test_llm_backend_admits_the_clients_the_chart_names():
    puller = {"app.kubernetes.io/name": "ollama-model-pull"}
    app, _ = _backend(allow_from=(PodSelector(labels=puller),))
    policies = _policies(synth(app))
    assert ingress_allowed(policies, APPS["ollama"], puller, 11434)
    assert not ingress_allowed(policies, APPS["ollama"], STRANGER, 11434)


def test_allow_client_with_a_policy_opens_both_ends():
    """The wiring for a Job (e.g. a model pull) that must reach Ollama in a default-deny namespace."""
    app, backend = _backend()
    puller = {"app.kubernetes.io/name": "ollama-model-pull"}
    job_policy = AppNetworkPolicy(
        backend, "PullPolicy", AppNetworkPolicyProps(name="ollama-model-pull", pods=PodSelector(labels=puller))
    )
    backend.allow_client(job_policy)
    policies = _policies(synth(app))
    assert ingress_allowed(policies, APPS["ollama"], puller, 11434)
    assert egress_allowed(policies, puller, 11434, dst=APPS["ollama"])
    assert not ingress_allowed(policies, puller, APPS["ollama"], 11434)


def test_allowing_the_same_client_twice_adds_one_rule():
    app, backend = _backend()
    client = PodSelector(labels={"app.kubernetes.io/name": "x"})
    backend.allow_client(client)
    backend.allow_client(client)
    assert len(synth(app)[("NetworkPolicy", "ollama")]["spec"]["ingress"]) == 1


def test_an_unexposed_app_accepts_only_allowed_clients():
    app, _, ai = charts()
    AppWorkload(ai, "W", app_props(allow_from=(PodSelector(labels={"role": "client"}),)))
    policies = _policies(synth(app))
    assert ingress_allowed(policies, {"app.kubernetes.io/name": "demo"}, {"role": "client"}, 8000)
    assert not ingress_allowed(policies, {"app.kubernetes.io/name": "demo"}, None, 8000, ip="10.10.2.100")


def test_network_policy_can_be_left_to_someone_else():
    app, _, ai = charts()
    AppWorkload(ai, "W", app_props(network_policy=False))
    assert not _policies(synth(app))


def test_namespace_isolation_needs_a_namespaced_chart():
    _, infra, _ = charts()
    with pytest.raises(HomelabConfigError, match=r"NamespaceIsolation\(scope\): the chart has no namespace"):
        NamespaceIsolation(infra, "Isolation")


def test_cross_namespace_client_is_matched_by_namespace_label():
    peer = PodSelector(labels={"app": "ingress-nginx"}, namespace="ingress").peer()
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}


def test_policies_validate_as_kubernetes_objects(policies):
    import kubernetes_validate

    for policy in policies:
        kubernetes_validate.validate(policy, "1.27", strict=True)
