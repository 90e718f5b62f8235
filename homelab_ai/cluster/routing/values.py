"""Typed pieces of a route by name: which Gateway listener or Ingress class, which certificate, which DNS.

``Routing`` is what several apps share (the cluster's gateway or ingress controller, the issuer,
external-dns); each app adds its own host name (``AppRouteProps.hostname``).

Controllers homelab-ai writes for, and why these:

- **Gateway API** (``GatewayListener``): an HTTPRoute to a Gateway the cluster already has, plus a
  redirect HTTPRoute on its plain-HTTP listener. Every current implementation (Envoy Gateway,
  Cilium, Traefik 3, Istio, NGINX Gateway Fabric, kgateway) reads it. WebSocket upgrades need no
  setting there; the request timeout is written (``timeouts.request``) because an unset one is
  implementation-specific, and Envoy's default of 15 s cuts a long render.
- **Ingress for ingress-nginx** (``IngressClass``): its websocket and streaming timeouts and the
  HTTPS redirect are annotations. ingress-nginx is retired upstream (README at controller-v1.15.1:
  best-effort maintenance ended March 2026); clusters still running it keep working.
- Traefik, Cilium and the others are reached through Gateway API, not through their Ingress
  dialects: each would need its own CRDs (Traefik's redirect is a Middleware object).
"""

from __future__ import annotations

import enum
from datetime import timedelta

import attrs

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import PodSelector
from homelab_ai.base.validators import (
    certificate_name,
    dns1123_label,
    dns1123_subdomain,
    field_name,
    matches,
    positive_duration,
    string_tuple,
    typed_fields,
    whole_number,
)


class IssuerKind(enum.Enum):
    """cert-manager's two issuer kinds: an Issuer serves its own namespace, a ClusterIssuer every namespace."""

    ISSUER = "Issuer"
    CLUSTER_ISSUER = "ClusterIssuer"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class CertIssuer:
    """A cert-manager issuer the cluster already has (Let's Encrypt, a private CA, ...)."""

    name: str = attrs.field(validator=dns1123_subdomain)
    """The Issuer's or ClusterIssuer's name. Required."""
    kind: IssuerKind = attrs.field(
        default=IssuerKind.CLUSTER_ISSUER, validator=attrs.validators.instance_of(IssuerKind)
    )
    """ClusterIssuer (default) or Issuer (then it must be in the apps' namespace)."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class RouteTls:
    """Where the route's certificate comes from: a cert-manager Certificate, or a TLS Secret that exists.

    Exactly one of ``issuer`` and ``secret_name``. A Secret's certificate was issued elsewhere, so
    ``names`` says which names it holds: a host it cannot cover is refused before anything is written.
    """

    issuer: CertIssuer | None = None
    """Issue a Certificate for the apps' host names from this issuer. Default none."""
    secret_name: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_subdomain))
    """An existing kubernetes.io/tls Secret in the apps' namespace. Default none."""
    names: tuple[str, ...] = attrs.field(
        default=(), converter=string_tuple, validator=attrs.validators.deep_iterable(certificate_name)
    )
    """With ``secret_name``: the names its certificate holds, e.g. ("*.home.example.com",). Default none."""

    def __attrs_post_init__(self) -> None:
        if (self.issuer is None) == (self.secret_name is None):
            raise HomelabConfigError(
                "RouteTls.issuer",
                "neither an issuer nor a Secret is given" if self.issuer is None else "both an issuer and a Secret",
                "give issuer=CertIssuer(name='letsencrypt') for a cert-manager Certificate, or "
                "secret_name='...' (with names=...) for a TLS Secret that already exists: exactly one",
            )
        if self.secret_name is not None and not self.names:
            raise HomelabConfigError(
                "RouteTls.names",
                f"Secret {self.secret_name!r} is given without the names its certificate holds",
                "list them, e.g. names=('*.home.example.com',), so a host it cannot cover is refused",
            )
        if self.issuer is not None and self.names:
            raise HomelabConfigError(
                "RouteTls.names",
                "names are for an existing Secret; the Certificate holds exactly the apps' host names",
                "drop names",
            )


class IngressController(enum.Enum):
    """The Ingress dialects homelab-ai writes annotations for (see the module docstring for why only this one)."""

    NGINX = "ingress-nginx"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class IngressClass:
    """Route through an Ingress: for clusters without Gateway API."""

    name: str = attrs.field(default="nginx", validator=dns1123_subdomain)
    """spec.ingressClassName. Default "nginx" (ingress-nginx's chart default)."""
    controller: IngressController = attrs.field(
        default=IngressController.NGINX, validator=attrs.validators.instance_of(IngressController)
    )
    """Whose annotations carry websockets, timeouts and the redirect. Default ingress-nginx."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class GatewayListener:
    """Route through a Gateway the cluster already has (Gateway API); homelab-ai writes routes, not the Gateway."""

    gateway: str = attrs.field(validator=dns1123_subdomain)
    """The Gateway's name. Required."""
    namespace: str = attrs.field(validator=dns1123_label)
    """The Gateway's namespace. Required."""
    section_name: str = attrs.field(default="https", validator=dns1123_subdomain)
    """Its HTTPS listener, where the apps' routes attach. Default "https"."""
    http_section_name: str | None = attrs.field(default="http", validator=attrs.validators.optional(dns1123_subdomain))
    """Its plain-HTTP listener, for the redirect to HTTPS; None if the Gateway redirects itself. Default "http"."""


def _prefix(instance: ExternalDns, attribute: attrs.Attribute[str], value: str) -> None:
    matches(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/", "a domain ending in '/'")(
        instance, attribute, value
    )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class ExternalDns:
    """Ask external-dns for each app's DNS record, through an annotation on its route.

    external-dns v0.22.0 reads ``external-dns.kubernetes.io/`` annotations
    (source/annotations/annotations.go: DefaultAnnotationPrefix); releases before it read
    ``external-dns.alpha.kubernetes.io/`` (and so does v0.22.0 started with ``--annotation-prefix``
    set to it): set ``annotation_prefix`` to the one your external-dns reads.
    """

    annotation_prefix: str = attrs.field(default="external-dns.kubernetes.io/", validator=_prefix)
    """Prefix external-dns reads. Default "external-dns.kubernetes.io/"; before v0.22.0 the ".alpha." one."""

    def annotations(self, hostnames: tuple[str, ...]) -> dict[str, str]:
        """The hostname annotation (source/annotations/annotations.go HostnameKey; comma-separated names)."""
        return {f"{self.annotation_prefix}hostname": ",".join(hostnames)}


def _via(instance: Routing, attribute: attrs.Attribute[object], value: object) -> None:
    if not isinstance(value, GatewayListener | IngressClass):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is neither a GatewayListener nor an IngressClass",
            "give GatewayListener(gateway=..., namespace=...) or IngressClass(name='nginx')",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class Routing:
    """How apps are reached by name: through which Gateway or Ingress class, with which certificate and DNS.

    ``controller`` are the pods that carry the traffic into the cluster (the gateway's proxies,
    the ingress controller): the apps' NetworkPolicies admit them, and nothing else new.
    """

    via: GatewayListener | IngressClass = attrs.field(validator=_via)
    """A Gateway listener (Gateway API) or an Ingress class (ingress-nginx). Required."""
    controller: PodSelector = attrs.field(validator=attrs.validators.instance_of(PodSelector))
    """The gateway's or ingress controller's pods (labels and namespace): they may reach the apps. Required."""
    tls: RouteTls | None = None
    """The certificate; required with an Ingress. With a Gateway, None: the listener's own. Default none."""
    external_dns: ExternalDns | None = None
    """Annotate each route for external-dns. Default none (DNS records are yours to make)."""
    stream_timeout: timedelta = attrs.field(default=timedelta(hours=1), validator=positive_duration)
    """How long one request or websocket may stay open: a streamed chat, a long render. Default 1 hour."""
    max_upload_mib: int = attrs.field(default=100, validator=whole_number(1, 100_000))
    """Largest request body through ingress-nginx (documents, images), MiB; its own default is 1. Default 100."""

    def __attrs_post_init__(self) -> None:
        if isinstance(self.via, IngressClass) and self.tls is None:
            raise HomelabConfigError(
                "Routing.tls",
                "an Ingress without TLS would serve the apps by name over plain HTTP",
                "give tls=RouteTls(issuer=CertIssuer(name='...')) or RouteTls(secret_name='...', names=(...))",
            )
        if self.stream_timeout > timedelta(hours=24):
            raise HomelabConfigError(
                "Routing.stream_timeout",
                f"{self.stream_timeout} keeps a stuck connection open for more than a day",
                "give at most timedelta(hours=24); browsers reconnect their websockets by themselves",
            )
