"""The synth's reachability pass accepts what works: no false refusal of a chart that can run.

tests/test_bad_input.py has the refusals (class "declared but unreachable"); here the pass reads
the spec's chart and small hand-written manifests that Kubernetes would run.
"""

from __future__ import annotations

from homelab_ai.synth.reachability import DeclaredSecret, reachability_problems
from tests.helpers import objects_by_key


def _deployment(name: str, env: list[dict], *, ports: list[dict] | None = None) -> dict:
    container = {"name": name, "image": "x:1", "env": env, "ports": ports or [{"containerPort": 8000}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ai"},
        "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}},
    }


def _service(name: str, target_port: int | str, port: int = 80) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ai"},
        "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": target_port}]},
    }


def _egress_policy(name: str, rules: list[dict]) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "ai"},
        "spec": {"podSelector": {"matchLabels": {"app": name}}, "policyTypes": ["Egress"], "egress": rules},
    }


def test_the_spec_chart_has_no_reachability_problem(homelab_files):
    manifests = list(objects_by_key(homelab_files).values())
    secrets = [
        DeclaredSecret(namespace="ai", name="open-webui-secret", keys=("WEBUI_SECRET_KEY",)),
        DeclaredSecret(namespace="ai", name="stable-diffusion-secret", keys=("password",)),
    ]
    assert reachability_problems(manifests, secrets) == []


def test_a_named_target_port_and_a_short_service_name_resolve():
    client = _deployment("client", [{"name": "API", "value": "http://server/v1"}])
    server = _deployment("server", [], ports=[{"containerPort": 8000, "name": "http"}])
    assert reachability_problems([client, server, _service("server", "http")], []) == []


def test_an_http_download_is_accepted_when_the_policy_opens_port_80():
    app = _deployment("fetch", [{"name": "MIRROR", "value": "http://mirror.example.org/file"}])
    internet = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}, {"port": 80}]}
    assert reachability_problems([app, _egress_policy("fetch", [internet])], []) == []


def test_a_url_into_a_namespace_the_chart_does_not_render_is_not_judged():
    app = _deployment("app", [{"name": "METRICS", "value": "http://prometheus.monitoring.svc.cluster.local:9090"}])
    assert reachability_problems([app], []) == []


def test_an_optional_secret_reference_may_point_at_a_secret_the_chart_does_not_write():
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "maybe", "key": "t", "optional": True}}}]
    assert reachability_problems([_deployment("app", env)], []) == []


def test_an_egress_rule_with_no_destination_lets_every_call_out_on_its_port():
    app = _deployment("app", [{"name": "HF", "value": "https://huggingface.co"}])
    assert reachability_problems([app, _egress_policy("app", [{"ports": [{"port": 443}]}])], []) == []


def test_a_public_url_in_a_pod_that_does_not_go_out_is_a_name_not_a_call():
    """oauth2-proxy's --redirect-url, Open WebUI's own address: shown or handed on, never called by the pod."""
    app = _deployment("proxy", [{"name": "REDIRECT", "value": "https://images.example.com/oauth2/callback"}])
    cluster_only = {"to": [{"podSelector": {"matchLabels": {"app": "server"}}}], "ports": [{"port": 8000}]}
    assert reachability_problems([app, _egress_policy("proxy", [cluster_only])], []) == []
