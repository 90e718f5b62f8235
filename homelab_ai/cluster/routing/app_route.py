"""AppRoute: one app reached by its host name over HTTPS, through the cluster's Gateway or Ingress controller.

It writes what ``Routing`` asks for (the HTTPRoute and its redirect, or the Ingress, and
external-dns's annotation), takes its certificate from a RouteTlsSecret (shared by several apps,
or its own), and opens one door: the controller's pods may reach the app. A host name is one
app's: two routes for the same name in one tree are refused at synth.
"""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import dns1123_subdomain, host_name, typed_fields
from homelab_ai.cluster.app_workload import NAME_LABEL, AppWorkload
from homelab_ai.cluster.routing.http_route import HttpRoute, HttpRouteProps
from homelab_ai.cluster.routing.ingress_route import IngressRoute, IngressRouteProps
from homelab_ai.cluster.routing.route_tls import RouteTlsSecret, RouteTlsSecretProps
from homelab_ai.cluster.routing.values import GatewayListener, IngressClass, Routing


def _tls(instance: AppRouteProps, attribute: attrs.Attribute[object], value: object) -> None:
    if value is not None and not isinstance(value, RouteTlsSecret):
        raise HomelabConfigError("AppRouteProps.tls", f"{value!r} is not a RouteTlsSecret", "pass one, or None")


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class AppRouteProps:
    """Which app, under which name, the way ``routing`` says."""

    backend: AppWorkload = attrs.field(validator=attrs.validators.instance_of(AppWorkload))
    """The app (its Service) the route sends people to. Required."""
    hostname: str = attrs.field(validator=host_name)
    """The app's fully qualified host name, e.g. "chat.home.example.com". Required."""
    routing: Routing = attrs.field(validator=attrs.validators.instance_of(Routing))
    """The cluster's gateway or ingress controller, certificate and DNS settings. Required."""
    name: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_subdomain))
    """Name of the route objects (and "<name>-tls" of its own certificate). Default: the backend's name."""
    tls: RouteTlsSecret | None = attrs.field(default=None, validator=_tls)
    """A certificate shared with other routes (it must hold this host name). Default: its own, from routing.tls."""

    def __attrs_post_init__(self) -> None:
        if self.tls is not None and self.hostname not in self.tls.hostnames:
            raise HomelabConfigError(
                "AppRouteProps.tls",
                f"the shared certificate {self.tls.props.name!r} is for {', '.join(self.tls.hostnames)}, "
                f"not {self.hostname!r}",
                "add the host name to its RouteTlsSecretProps.hostnames, or leave tls=None for one of its own",
            )
        if self.tls is not None and self.tls.props.routing != self.routing:
            raise HomelabConfigError(
                "AppRouteProps.tls",
                "the shared certificate was made for other routing",
                "use the same Routing for both",
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

        self.tls: RouteTlsSecret | None = props.tls
        """Where the route's certificate is; None when a Gateway listener brings its own."""
        if self.tls is None and routing.tls is not None:
            self.tls = RouteTlsSecret(
                self, "Tls", RouteTlsSecretProps(name=f"{name}-tls", hostnames=hosts, routing=routing, labels=labels)
            )
        tls_secret = self.tls.secret_name if self.tls else None
        self.route: HttpRoute | IngressRoute
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
        else:
            assert isinstance(via, IngressClass) and tls_secret is not None  # Routing refuses otherwise
            self.route = IngressRoute(
                self,
                "Ingress",
                IngressRouteProps(
                    name=name,
                    hostnames=hosts,
                    service=backend.name,
                    port=backend.port,
                    ingress_class=via,
                    tls_secret=tls_secret,
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
