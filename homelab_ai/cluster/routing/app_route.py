"""AppRoute: one app reached by its host name over HTTPS, through the cluster's Gateway or Ingress controller.

It writes what ``Routing`` asks for (a Certificate, the HTTPRoute and its redirect or the Ingress,
a ReferenceGrant when a Gateway in another namespace must read the certificate, external-dns's
annotation) and opens one door: the controller's pods may reach the app. A host name is one app's:
two routes for the same name in one tree are refused at synth.
"""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import certificate_covers, dns1123_subdomain, host_name
from homelab_ai.cluster.app_workload import NAME_LABEL, AppWorkload
from homelab_ai.cluster.routing.certificate import Certificate, CertificateProps
from homelab_ai.cluster.routing.http_route import HttpRoute, HttpRouteProps
from homelab_ai.cluster.routing.ingress_route import IngressRoute, IngressRouteProps
from homelab_ai.cluster.routing.reference_grant import ReferenceGrant, ReferenceGrantProps
from homelab_ai.cluster.routing.values import GatewayListener, IngressClass, Routing


@attrs.frozen(kw_only=True)
class AppRouteProps:
    """Which app, under which name, the way ``routing`` says."""

    backend: AppWorkload = attrs.field(validator=attrs.validators.instance_of(AppWorkload))
    """The app (its Service) the route sends people to. Required."""
    hostname: str = attrs.field(validator=host_name)
    """The app's fully qualified host name, e.g. "chat.home.example.com". Required."""
    routing: Routing = attrs.field(validator=attrs.validators.instance_of(Routing))
    """The cluster's gateway or ingress controller, certificate and DNS settings. Required."""
    name: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_subdomain))
    """Name of the route objects (and "<name>-tls" of the certificate). Default: the backend's name."""

    def __attrs_post_init__(self) -> None:
        tls = self.routing.tls
        if tls is not None and tls.secret_name is not None and not certificate_covers(tls.names, self.hostname):
            raise HomelabConfigError(
                "RouteTls.names",
                f"the certificate in Secret {tls.secret_name!r} holds {', '.join(tls.names)}, which does not cover "
                f"{self.hostname!r} (a wildcard covers one leftmost label only)",
                "use a host name it covers, or a Secret (or an issuer) for this name",
            )


class AppRoute(Construct):
    """One app's route by name; exposes :attr:`url` and what the docs list, not its objects."""

    def __init__(self, scope: Construct, id: str, props: AppRouteProps) -> None:
        super().__init__(scope, id)
        self.props = props
        routing = props.routing
        backend = props.backend
        name = self.name
        hosts = (props.hostname,)
        labels = {NAME_LABEL: backend.name}
        annotations = routing.external_dns.annotations(hosts) if routing.external_dns else {}

        self.certificate: Certificate | None = None
        """The cert-manager Certificate, when the route's TLS comes from an issuer."""
        self.tls_secret_name: str | None = None
        """The TLS Secret the route's certificate is in; None when a Gateway listener brings its own."""
        if routing.tls is not None and routing.tls.issuer is not None:
            self.certificate = Certificate(
                self,
                "Certificate",
                CertificateProps(name=f"{name}-tls", hostnames=hosts, issuer=routing.tls.issuer, labels=labels),
            )
            self.tls_secret_name = self.certificate.secret_name
        elif routing.tls is not None:
            self.tls_secret_name = routing.tls.secret_name

        self.route: HttpRoute | IngressRoute
        self.reference_grant: ReferenceGrant | None = None
        """Lets the Gateway (in another namespace) read the TLS Secret."""
        via = routing.via
        if isinstance(via, GatewayListener):
            self.route = HttpRoute(
                self,
                "HttpRoute",
                HttpRouteProps(
                    name=name,
                    hostnames=hosts,
                    service=backend.name,
                    port=backend.port,
                    listener=via,
                    request_timeout=routing.stream_timeout,
                    annotations=annotations,
                    labels=labels,
                ),
            )
            if self.tls_secret_name is not None and via.namespace != self.namespace:
                self.reference_grant = ReferenceGrant(
                    self,
                    "ReferenceGrant",
                    ReferenceGrantProps(
                        name=f"{name}-tls",
                        gateway_namespace=via.namespace,
                        secret_name=self.tls_secret_name,
                        labels=labels,
                    ),
                )
        else:
            assert isinstance(via, IngressClass) and self.tls_secret_name is not None  # Routing refuses otherwise
            self.route = IngressRoute(
                self,
                "Ingress",
                IngressRouteProps(
                    name=name,
                    hostnames=hosts,
                    service=backend.name,
                    port=backend.port,
                    ingress_class=via,
                    tls_secret=self.tls_secret_name,
                    stream_timeout=routing.stream_timeout,
                    max_upload_mib=routing.max_upload_mib,
                    annotations=annotations,
                    labels=labels,
                ),
            )
        # The one new door: the controller's pods may connect to the app.
        backend.allow_client(routing.controller)
        _check_hostnames_once(self.node.root)

    @property
    def name(self) -> str:
        return self.props.name or self.props.backend.name

    @property
    def namespace(self) -> str:
        return cdk8s.Chart.of(self).namespace or "default"

    @property
    def hostname(self) -> str:
        return self.props.hostname

    @property
    def url(self) -> str:
        """Where people open the app: https://<host name>/."""
        return f"https://{self.props.hostname}"

    @property
    def backend(self) -> AppWorkload:
        return self.props.backend

    @property
    def kind(self) -> str:
        """ "HTTPRoute" or "Ingress"."""
        return "HTTPRoute" if isinstance(self.route, HttpRoute) else "Ingress"


_HOSTNAME_CHECK_ADDED = "_homelab_ai_hostname_check_added"


def _check_hostnames_once(root: Construct) -> None:
    """One check per tree (like the LoadBalancer check): every host name belongs to one app."""
    if getattr(root, _HOSTNAME_CHECK_ADDED, False):
        return
    setattr(root, _HOSTNAME_CHECK_ADDED, True)
    root.node.add_validation(Validation(lambda: hostname_conflicts(root)))


def hostname_conflicts(root: Construct) -> list[str]:
    """Two routes claiming one host name: the controller would send its visitors to either app."""
    owners: dict[str, list[str]] = {}
    for construct in root.node.find_all():
        if isinstance(construct, AppRoute):
            owners.setdefault(construct.hostname, []).append(f"{construct.namespace}/{construct.name}")
    return [
        f"AppRouteProps.hostname: {host} is claimed by {' and '.join(names)}; give each app a host name of its own"
        for host, names in sorted(owners.items())
        if len(names) > 1
    ]
