"""NamespaceIsolation and AppNetworkPolicy on small charts: the exact NetworkPolicy each one renders.

tests/test_network_policy.py shows the doors of the spec's namespace; these pin every rule's shape.
"""

from __future__ import annotations

import cdk8s
import pytest

from homelab_ai import (
    ApiServerEgress,
    AppNetworkPolicy,
    AppNetworkPolicyProps,
    DnsServer,
    Endpoint,
    HomelabConfigError,
    InternetEgress,
    NamespaceIsolation,
    NamespaceIsolationProps,
    PodSelector,
)
from tests.factories import charts

DNS_RULE = {
    "to": [
        {
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        }
    ],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
MANAGED = {"app.kubernetes.io/managed-by": "homelab-ai"}
WEB = PodSelector(labels={"app": "web"})
API = PodSelector(labels={"app": "api"})


def policy_json(construct: AppNetworkPolicy) -> dict:
    return construct.node.find_child("Resource").to_json()


def policies_of(chart: cdk8s.Chart) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in chart.to_json() if o["kind"] == "NetworkPolicy"}


# NamespaceIsolation ------------------------------------------------------------------------------


def test_isolation_denies_all_traffic_and_opens_dns_only():
    _app, _infra, ai = charts()
    NamespaceIsolation(ai, "Isolation")
    assert policies_of(ai) == {
        "default-deny": {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": "ai", "labels": MANAGED},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        "allow-dns": {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-dns", "namespace": "ai", "labels": MANAGED},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [DNS_RULE]},
        },
    }


def test_isolation_takes_its_names_and_dns_server():
    _app, _infra, ai = charts()
    dns = DnsServer(labels={"app": "coredns"}, namespace="dns", port=5353)
    NamespaceIsolation(ai, "Isolation", NamespaceIsolationProps(deny_name="closed", dns_name="names", dns=dns))
    found = policies_of(ai)
    assert set(found) == {"closed", "names"}
    assert found["names"]["spec"]["egress"] == [
        {
            "to": [
                {
                    "podSelector": {"matchLabels": {"app": "coredns"}},
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns"}},
                }
            ],
            "ports": [{"port": 5353, "protocol": "UDP"}, {"port": 5353, "protocol": "TCP"}],
        }
    ]


def test_isolation_refuses_one_name_for_both_policies():
    with pytest.raises(HomelabConfigError) as caught:
        NamespaceIsolationProps(deny_name="same", dns_name="same")
    assert str(caught.value) == (
        "NamespaceIsolationProps.dns_name: 'same' is also deny_name. Fix: give them different names"
    )


def test_isolation_refuses_a_chart_without_a_namespace():
    _app, infra, _ai = charts()
    with pytest.raises(HomelabConfigError) as caught:
        NamespaceIsolation(infra, "Isolation")
    assert str(caught.value) == (
        "NamespaceIsolation(scope): the chart has no namespace, so the policies would land in 'default'. Fix: "
        "create it in the namespaced chart whose pods it isolates (e.g. the 'ai' chart)"
    )


# AppNetworkPolicy --------------------------------------------------------------------------------


def test_an_app_policy_without_clients_opens_dns_only():
    _app, _infra, ai = charts()
    policy = AppNetworkPolicy(ai, "Web", AppNetworkPolicyProps(name="web", pods=WEB))
    assert policy_json(policy) == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web", "namespace": "ai", "labels": MANAGED},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [DNS_RULE],
        },
    }
    assert (policy.name, policy.pods, policy.clients, policy.endpoints) == ("web", WEB, (), ())


def test_from_anywhere_opens_every_port_to_every_client():
    _app, _infra, ai = charts()
    policy = AppNetworkPolicy(
        ai, "Web", AppNetworkPolicyProps(name="web", pods=WEB, ports=(80, 443), from_anywhere=True)
    )
    assert policy_json(policy)["spec"]["ingress"] == [
        {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}
    ]


def test_a_client_selector_is_admitted_on_every_port_once():
    _app, _infra, ai = charts()
    policy = AppNetworkPolicy(ai, "Api", AppNetworkPolicyProps(name="api", pods=API, ports=(8000, 9000)))
    policy.allow_from(WEB)
    policy.allow_from(WEB)
    assert policy_json(policy)["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
            "ports": [{"port": 8000, "protocol": "TCP"}, {"port": 9000, "protocol": "TCP"}],
        }
    ]
    assert policy.clients == (WEB,)


def test_a_client_given_as_its_policy_may_also_reach_each_port():
    _app, _infra, ai = charts()
    api = AppNetworkPolicy(ai, "Api", AppNetworkPolicyProps(name="api", pods=API, ports=(8000, 9000)))
    web = AppNetworkPolicy(ai, "Web", AppNetworkPolicyProps(name="web", pods=WEB))
    api.allow_from(web)
    assert web.endpoints == (Endpoint(pods=API, port=8000), Endpoint(pods=API, port=9000))
    assert policy_json(web)["spec"]["egress"] == [
        DNS_RULE,
        {"to": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 8000, "protocol": "TCP"}]},
        {"to": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 9000, "protocol": "TCP"}]},
    ]


def test_an_app_open_to_anywhere_adds_no_rule_per_client_but_the_client_still_gets_its_egress():
    _app, _infra, ai = charts()
    api = AppNetworkPolicy(ai, "Api", AppNetworkPolicyProps(name="api", pods=API, ports=(8000,), from_anywhere=True))
    web = AppNetworkPolicy(ai, "Web", AppNetworkPolicyProps(name="web", pods=WEB))
    api.allow_from(web)
    assert policy_json(api)["spec"]["ingress"] == [{"ports": [{"port": 8000, "protocol": "TCP"}]}]
    assert web.endpoints == (Endpoint(pods=API, port=8000),)


def test_clients_and_endpoints_from_props_are_wired_like_calls():
    _app, _infra, ai = charts()
    db = Endpoint(pods=PodSelector(labels={"app": "db"}), port=5432)
    policy = AppNetworkPolicy(
        ai, "Api", AppNetworkPolicyProps(name="api", pods=API, ports=(8000,), allow_from=(WEB,), egress_to=(db, db))
    )
    spec = policy_json(policy)["spec"]
    assert spec["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 8000, "protocol": "TCP"}]}
    ]
    assert spec["egress"] == [
        DNS_RULE,
        {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
    ]


def test_internet_egress_comes_last_in_the_egress_rules():
    _app, _infra, ai = charts()
    internet = InternetEgress()
    db = Endpoint(pods=PodSelector(labels={"app": "db"}), port=5432)
    policy = AppNetworkPolicy(
        ai, "Api", AppNetworkPolicyProps(name="api", pods=API, egress_to=(db,), internet=internet)
    )
    assert policy_json(policy)["spec"]["egress"][-1] == internet.rule()
    assert len(policy_json(policy)["spec"]["egress"]) == 3


def test_admitting_a_client_to_an_app_without_ports_is_refused():
    _app, _infra, ai = charts()
    policy = AppNetworkPolicy(ai, "Job", AppNetworkPolicyProps(name="job", pods=WEB))
    with pytest.raises(HomelabConfigError) as caught:
        policy.allow_from(API)
    assert str(caught.value) == (
        "AppNetworkPolicy(job).allow_from: this app opens no port. Fix: give its policy ports=(...) before "
        "admitting clients"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"from_anywhere": True},
            "AppNetworkPolicyProps.ports: clients are allowed in but no port is open. Fix: list the ports the pods "
            "serve on, e.g. ports=(8080,)",
        ),
        (
            {"allow_from": (WEB,)},
            "AppNetworkPolicyProps.ports: clients are allowed in but no port is open. Fix: list the ports the pods "
            "serve on, e.g. ports=(8080,)",
        ),
        (
            {"ports": (80,), "from_anywhere": True, "allow_from": (WEB,)},
            "AppNetworkPolicyProps.allow_from: from_anywhere already admits every client, so allow_from would say "
            "nothing. Fix: drop allow_from, or set from_anywhere=False to admit only the listed pods",
        ),
    ],
)
def test_props_that_contradict_themselves_are_refused(changes, message):
    with pytest.raises(HomelabConfigError) as caught:
        AppNetworkPolicyProps(name="api", pods=API, **changes)
    assert str(caught.value) == message


def test_isolation_keeps_its_props():
    _app, _infra, ai = charts()
    props = NamespaceIsolationProps(deny_name="closed")
    assert NamespaceIsolation(ai, "Isolation", props).props is props


# Egress opened after creation: the Kubernetes API, address ranges ------------------------------------

SIGN_IN = InternetEgress(cidr="10.10.3.0/24", except_cidrs=(), ports=(8443,))  # a sign-in provider on the LAN
SIGN_IN_RULE = {"to": [{"ipBlock": {"cidr": "10.10.3.0/24"}}], "ports": [{"port": 8443, "protocol": "TCP"}]}


def test_api_server_access_is_one_egress_rule_to_its_address_on_the_service_and_server_ports():
    _app, _infra, ai = charts()
    policy = AppNetworkPolicy(
        ai, "Drill", AppNetworkPolicyProps(name="drill", pods=API, api_server=ApiServerEgress(cidr="10.10.0.10/32"))
    )
    assert policy_json(policy)["spec"]["egress"] == [
        DNS_RULE,
        {
            "to": [{"ipBlock": {"cidr": "10.10.0.10/32"}}],
            "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
        },
    ]


def test_an_address_range_opened_after_creation_is_one_more_egress_rule_once():
    _app, _infra, ai = charts()
    policy = AppNetworkPolicy(ai, "Web", AppNetworkPolicyProps(name="web", pods=WEB))
    assert policy.ranges == ()
    policy.allow_range(SIGN_IN)
    policy.allow_range(InternetEgress(cidr="10.10.3.0/24", except_cidrs=(), ports=(8443,)))
    assert policy.ranges == (SIGN_IN,)
    assert policy_json(policy)["spec"]["egress"] == [DNS_RULE, SIGN_IN_RULE]


def test_a_range_the_props_already_open_adds_no_rule():
    _app, _infra, ai = charts()
    internet = InternetEgress()
    policy = AppNetworkPolicy(ai, "Web", AppNetworkPolicyProps(name="web", pods=WEB, internet=internet))
    policy.allow_range(InternetEgress())
    assert policy.ranges == ()
    assert policy_json(policy)["spec"]["egress"] == [DNS_RULE, internet.rule()]


def test_allow_egress_opens_pods_as_an_endpoint_and_an_address_range_as_a_range():
    _app, _infra, ai = charts()
    policy = AppNetworkPolicy(ai, "Web", AppNetworkPolicyProps(name="web", pods=WEB))
    db = Endpoint(pods=PodSelector(labels={"app": "db"}), port=5432)
    policy.allow_egress(db)
    policy.allow_egress(SIGN_IN)
    assert (policy.endpoints, policy.ranges) == ((db,), (SIGN_IN,))
    assert policy_json(policy)["spec"]["egress"] == [
        DNS_RULE,
        {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
        SIGN_IN_RULE,
    ]
