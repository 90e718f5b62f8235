"""Routes by name: host names, certificates, the Gateway API and ingress-nginx dialects, and the one new door.

Every object a route writes is checked against its schema: HTTPRoute, ReferenceGrant and
Certificate against the CRDs pinned in crds/ (Gateway API v1.6.1, cert-manager v1.21.1), the
Ingress against Kubernetes' own (kubernetes-validate, strict).
"""

from __future__ import annotations

import copy
from datetime import timedelta

import kubernetes_validate
import pytest

from homelab_ai import (
    AppRoute,
    AppRouteProps,
    AppWorkload,
    CertIssuer,
    ExternalDns,
    GatewayListener,
    HomelabConfigError,
    IngressClass,
    IssuerKind,
    LoadBalancer,
    PodSelector,
    RouteTls,
    Routing,
)
from homelab_ai.synth.dist import collect_problems
from tests.crd_schemas import is_custom, validate_custom
from tests.factories import app_props, charts
from tests.helpers import synth
from tests.test_network_policy import egress_allowed, ingress_allowed

ENVOY = PodSelector(labels={"app.kubernetes.io/name": "envoy"}, namespace="envoy-gateway-system")
NGINX = PodSelector(labels={"app.kubernetes.io/name": "ingress-nginx"}, namespace="ingress-nginx")
GATEWAY = GatewayListener(gateway="homelab", namespace="gateway")
LETSENCRYPT = RouteTls(issuer=CertIssuer(name="letsencrypt"))


def gateway_routing(**overrides) -> Routing:
    values = dict(via=GATEWAY, controller=ENVOY, tls=LETSENCRYPT)
    values.update(overrides)
    return Routing(**values)


def ingress_routing(**overrides) -> Routing:
    values = dict(via=IngressClass(), controller=NGINX, tls=LETSENCRYPT)
    values.update(overrides)
    return Routing(**values)


def routed(routing: Routing, hostname: str = "chat.home.example.com", **app_overrides) -> dict:
    app, _, ai = charts()
    backend = AppWorkload(ai, "Chat", app_props("chat", **app_overrides))
    AppRoute(ai, "Route", AppRouteProps(backend=backend, hostname=hostname, routing=routing))
    return synth(app)


def refused(build) -> HomelabConfigError:
    with pytest.raises(HomelabConfigError) as caught:
        build()
    return caught.value


@pytest.fixture(scope="module")
def gateway_routed() -> dict:
    """The default Gateway API route's objects, built once for the tests that only read them."""
    return routed(gateway_routing())


@pytest.fixture(scope="module")
def chat_backend() -> AppWorkload:
    """An app for props that are refused before any route is built (nothing is added to its chart)."""
    _, _, ai = charts()
    return AppWorkload(ai, "Chat", app_props("chat"))


# --- host names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostname",
    [
        "Chat.home.example.com",  # upper case
        "chat_ui.home.example.com",  # underscore
        "chat",  # one label: no certificate or DNS record for it
        "-chat.home.example.com",  # label starts with '-'
        f"{'a' * 64}.example.com",  # label over 63
        f"{'a.' * 126}com",  # over 253 characters
        "https://chat.home.example.com",  # a URL, not a name
        "chat.home.example.com:443",  # a port
        "*.home.example.com",  # a wildcard: an app has one name
    ],
)
def test_an_app_host_name_must_be_one_dns_1123_name(chat_backend, hostname):
    error = refused(lambda: AppRouteProps(backend=chat_backend, hostname=hostname, routing=gateway_routing()))
    assert error.field == "AppRouteProps.hostname"


@pytest.mark.parametrize("name", ["a.*.example.com", "*.*.example.com", "*.com", "*example.com", "*"])
def test_a_certificate_name_no_certificate_can_hold_is_refused(name):
    error = refused(lambda: RouteTls(secret_name="wildcard-tls", names=(name,)))
    assert error.field == "RouteTls.names"


@pytest.mark.parametrize(
    "hostname",
    [
        "a.chat.home.example.com",  # a wildcard covers one label only
        "home.example.com",  # not the bare domain either
        "chat.other.example.com",
    ],
)
def test_a_host_the_secrets_wildcard_certificate_cannot_cover_is_refused(hostname):
    tls = RouteTls(secret_name="wildcard-tls", names=("*.home.example.com",))
    error = refused(lambda: routed(ingress_routing(tls=tls), hostname=hostname))
    assert error.field == "RouteTls.names"
    assert hostname in error.problem


def test_a_host_the_secrets_wildcard_certificate_covers_is_routed_with_that_secret():
    tls = RouteTls(secret_name="wildcard-tls", names=("*.home.example.com",))
    ingress = routed(ingress_routing(tls=tls))[("Ingress", "chat")]
    assert ingress["spec"]["tls"] == [{"hosts": ["chat.home.example.com"], "secretName": "wildcard-tls"}]


def test_one_host_name_on_two_apps_is_refused_at_synth():
    app, _, ai = charts()
    for name in ("chat", "other"):
        backend = AppWorkload(ai, name, app_props(name))
        AppRoute(
            ai,
            f"{name}-route",
            AppRouteProps(backend=backend, hostname="chat.home.example.com", routing=gateway_routing()),
        )
    problems = collect_problems(app)
    assert problems == [
        "AppRouteProps.hostname: chat.home.example.com is claimed by ai/chat and ai/other; "
        "give each app a host name of its own"
    ]


# --- TLS -----------------------------------------------------------------------------------------


def test_tls_without_an_issuer_or_a_secret_is_refused():
    error = refused(lambda: RouteTls())
    assert error.field == "RouteTls.issuer"
    assert "neither" in error.problem


def test_tls_with_both_an_issuer_and_a_secret_is_refused():
    error = refused(lambda: RouteTls(issuer=CertIssuer(name="letsencrypt"), secret_name="mine"))
    assert error.field == "RouteTls.issuer"


def test_an_existing_secret_without_the_names_it_holds_is_refused():
    assert refused(lambda: RouteTls(secret_name="mine")).field == "RouteTls.names"


def test_an_ingress_without_tls_is_refused():
    error = refused(lambda: ingress_routing(tls=None))
    assert error.field == "Routing.tls"


def test_an_issuer_makes_a_certificate_for_the_host_name_in_the_secret_the_route_reads():
    objects = routed(ingress_routing(tls=RouteTls(issuer=CertIssuer(name="home-ca", kind=IssuerKind.ISSUER))))
    certificate = objects[("Certificate", "chat-tls")]
    assert certificate["spec"] == {
        "secretName": "chat-tls",
        "dnsNames": ["chat.home.example.com"],
        "issuerRef": {"name": "home-ca", "kind": "Issuer", "group": "cert-manager.io"},
    }
    assert objects[("Ingress", "chat")]["spec"]["tls"][0]["secretName"] == "chat-tls"


def test_a_gateway_in_another_namespace_is_granted_the_certificate_secret_and_nothing_else(gateway_routed):
    grant = gateway_routed[("ReferenceGrant", "chat-tls")]
    assert grant["apiVersion"] == "gateway.networking.k8s.io/v1beta1"
    assert grant["spec"] == {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "gateway"}],
        "to": [{"group": "", "kind": "Secret", "name": "chat-tls"}],
    }


def test_a_gateway_in_the_apps_namespace_needs_no_grant():
    objects = routed(gateway_routing(via=GatewayListener(gateway="homelab", namespace="ai")))
    assert [key for key in objects if key[0] == "ReferenceGrant"] == []


def test_a_gateway_listeners_own_certificate_writes_no_certificate_and_no_grant():
    objects = routed(gateway_routing(tls=None))
    assert {kind for kind, _ in objects} & {"Certificate", "ReferenceGrant"} == set()


# --- Gateway API ---------------------------------------------------------------------------------


def test_the_http_route_attaches_to_the_https_listener_and_sends_everything_to_the_service(gateway_routed):
    route = gateway_routed[("HTTPRoute", "chat")]
    assert route["spec"]["parentRefs"] == [{"name": "homelab", "namespace": "gateway", "sectionName": "https"}]
    assert route["spec"]["hostnames"] == ["chat.home.example.com"]
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["backendRefs"] == [{"name": "chat", "port": 8000}]


def test_the_http_listener_redirects_to_https_with_a_301(gateway_routed):
    redirect = gateway_routed[("HTTPRoute", "chat-redirect")]
    assert redirect["spec"]["parentRefs"] == [{"name": "homelab", "namespace": "gateway", "sectionName": "http"}]
    assert redirect["spec"]["hostnames"] == ["chat.home.example.com"]
    assert redirect["spec"]["rules"] == [
        {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}
    ]


def test_a_gateway_that_redirects_by_itself_gets_no_redirect_route():
    objects = routed(
        gateway_routing(via=GatewayListener(gateway="homelab", namespace="gateway", http_section_name=None))
    )
    assert ("HTTPRoute", "chat-redirect") not in objects


def test_gateway_api_carries_websockets_and_long_requests_with_the_route_timeout_only(gateway_routed):
    """Upgrades need no filter (none is written); the request timeout is one hour, not Envoy's 15 s."""
    (rule,) = gateway_routed[("HTTPRoute", "chat")]["spec"]["rules"]
    assert "filters" not in rule
    assert rule["timeouts"] == {"request": "1h"}


def test_the_stream_timeout_is_written_in_gateway_api_duration_form():
    (rule,) = routed(gateway_routing(stream_timeout=timedelta(hours=2, minutes=30)))[("HTTPRoute", "chat")]["spec"][
        "rules"
    ]
    assert rule["timeouts"] == {"request": "2h30m"}


def test_a_stream_timeout_over_a_day_is_refused():
    assert refused(lambda: gateway_routing(stream_timeout=timedelta(hours=25))).field == "Routing.stream_timeout"


# --- ingress-nginx -------------------------------------------------------------------------------


def test_ingress_nginx_keeps_websockets_open_an_hour_and_redirects_to_https():
    ingress = routed(ingress_routing())[("Ingress", "chat")]
    annotations = ingress["metadata"]["annotations"]
    # docs/user-guide/miscellaneous.md@controller-v1.15.1: 3600 or more for websockets (default 60).
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "100m"


def test_the_ingress_names_its_class_host_service_and_tls():
    spec = routed(ingress_routing(via=IngressClass(name="internal")))[("Ingress", "chat")]["spec"]
    assert spec["ingressClassName"] == "internal"
    assert spec["rules"] == [
        {
            "host": "chat.home.example.com",
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": {"service": {"name": "chat", "port": {"number": 8000}}},
                    }
                ]
            },
        }
    ]
    assert spec["tls"] == [{"hosts": ["chat.home.example.com"], "secretName": "chat-tls"}]


# --- DNS -----------------------------------------------------------------------------------------


def test_external_dns_is_asked_for_the_host_name_on_the_route_only_when_wanted(gateway_routed):
    with_dns = routed(gateway_routing(external_dns=ExternalDns()))
    assert with_dns[("HTTPRoute", "chat")]["metadata"]["annotations"] == {
        "external-dns.kubernetes.io/hostname": "chat.home.example.com"
    }
    assert "annotations" not in with_dns[("HTTPRoute", "chat-redirect")]["metadata"]
    assert "annotations" not in gateway_routed[("HTTPRoute", "chat")]["metadata"]


def test_external_dns_before_v0_22_reads_the_alpha_prefix():
    ingress = routed(ingress_routing(external_dns=ExternalDns(annotation_prefix="external-dns.alpha.kubernetes.io/")))
    annotations = ingress[("Ingress", "chat")]["metadata"]["annotations"]
    assert annotations["external-dns.alpha.kubernetes.io/hostname"] == "chat.home.example.com"


# --- NetworkPolicy -------------------------------------------------------------------------------


def test_the_controllers_pods_may_reach_the_app_and_no_one_else_new(gateway_routed):
    policies = [obj for (kind, _), obj in gateway_routed.items() if kind == "NetworkPolicy"]
    chat = {"app.kubernetes.io/name": "chat"}
    assert ingress_allowed(policies, chat, ENVOY.labels, 8000, src_ns="envoy-gateway-system")
    assert not ingress_allowed(policies, chat, ENVOY.labels, 8000, src_ns="default")
    assert not ingress_allowed(policies, chat, {"app.kubernetes.io/name": "other"}, 8000, src_ns="envoy-gateway-system")
    assert not ingress_allowed(policies, chat, None, 8000, ip="10.10.2.100")
    assert not egress_allowed(policies, chat, 443, ip="1.1.1.1")


def test_an_app_on_a_lan_address_already_accepts_anyone_so_the_route_adds_no_rule():
    lan = routed(gateway_routing(), expose=LoadBalancer(ip="10.10.2.25"))[("NetworkPolicy", "chat")]
    assert lan["spec"]["ingress"] == [{"ports": [{"port": 8000, "protocol": "TCP"}]}]


# --- schemas -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "routing",
    [gateway_routing(external_dns=ExternalDns()), ingress_routing(external_dns=ExternalDns())],
    ids=["gateway-api", "ingress-nginx"],
)
def test_every_route_object_matches_its_schema(routing):
    objects = routed(routing)
    custom = [obj for obj in objects.values() if is_custom(obj)]
    assert {obj["kind"] for obj in custom} >= {"Certificate"}
    failures = [f"{obj['kind']}/{obj['metadata']['name']}: {p}" for obj in custom for p in validate_custom(obj)]
    for obj in objects.values():
        if not is_custom(obj):
            kubernetes_validate.validate(obj, "1.27", strict=True)
    assert failures == []


def test_the_crd_schema_check_catches_a_bad_route(gateway_routed):
    route = copy.deepcopy(gateway_routed[("HTTPRoute", "chat")])  # changed below: the shared copy stays as built
    route["spec"]["rules"][0]["timeouts"] = {"request": "one hour"}
    assert any("does not match" in problem for problem in validate_custom(route))
