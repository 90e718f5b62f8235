"""HttpRoute: Gateway API routes for one app's host names, and the redirect from HTTP to HTTPS.

Written against Gateway API v1.6.1 (crds/gateway-api-httproute.yaml; apis/v1/httproute_types.go
at v1.6.1). The app's route attaches to the Gateway's HTTPS listener; a second route on its HTTP
listener answers every request with a RequestRedirect to ``https`` (the port then defaults to
443: httproute_types.go L1250-1256). WebSocket upgrades pass through a Gateway without any setting.
The request timeout is written (``rules[].timeouts.request``, L311, L360): unset it is
implementation-specific (L355), and Envoy-based Gateways then cut a response after 15 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.validators import (
    as_dict,
    dns1123_label,
    dns1123_subdomain,
    host_names,
    port,
    positive_duration,
    string_tuple,
    typed_fields,
)
from homelab_ai.base.values import go_duration
from homelab_ai.cluster.routing.certificate import MANAGED_BY
from homelab_ai.cluster.routing.values import GatewayListener

API_VERSION = "gateway.networking.k8s.io/v1"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class HttpRouteProps:
    """A Service's host names on a Gateway listener."""

    name: str = attrs.field(validator=dns1123_subdomain)
    """The HTTPRoute's name (the redirect route adds "-redirect"). Required."""
    hostnames: tuple[str, ...] = attrs.field(converter=string_tuple, validator=host_names)
    """The names it answers for. Required."""
    service: str = attrs.field(validator=dns1123_label)
    """The backend Service, in the route's namespace. Required."""
    port: int = attrs.field(validator=port)
    """The Service's port. Required."""
    listener: GatewayListener = attrs.field(validator=attrs.validators.instance_of(GatewayListener))
    """The Gateway and its listeners. Required."""
    request_timeout: timedelta | None = attrs.field(
        default=timedelta(hours=1), validator=attrs.validators.optional(positive_duration)
    )
    """rules[].timeouts.request; None leaves it to the implementation. Default 1 hour."""
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=as_dict)
    """Annotations of the app's route (external-dns). Default none."""
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=as_dict)
    """Labels of both routes, beside app.kubernetes.io/managed-by. Default none."""


class HttpRoute(Construct):
    """The app's HTTPRoute and, when the Gateway has an HTTP listener named, its redirect HTTPRoute."""

    def __init__(self, scope: Construct, id: str, props: HttpRouteProps) -> None:
        super().__init__(scope, id)
        self.props = props
        rule: dict = {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": props.service, "port": props.port}],
        }
        if props.request_timeout is not None:
            rule["timeouts"] = {"request": go_duration(props.request_timeout)}
        self._route("Route", props.name, props.listener.section_name, rule, props.annotations)
        self.redirect_name: str | None = None
        """The redirect route's name, or None when the Gateway redirects by itself."""
        if props.listener.http_section_name is not None:
            self.redirect_name = f"{props.name}-redirect"
            redirect = {
                "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]
            }
            self._route("Redirect", self.redirect_name, props.listener.http_section_name, redirect, {})

    def _route(self, id: str, name: str, section: str, rule: dict, annotations: Mapping[str, str]) -> None:
        listener = self.props.listener
        cdk8s.ApiObject(
            self,
            id,
            api_version=API_VERSION,
            kind="HTTPRoute",
            metadata=cdk8s.ApiObjectMetadata(
                name=name, labels={**self.props.labels, **MANAGED_BY}, annotations=dict(annotations) or None
            ),
        ).add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {
                    "parentRefs": [{"name": listener.gateway, "namespace": listener.namespace, "sectionName": section}],
                    "hostnames": list(self.props.hostnames),
                    "rules": [rule],
                },
            )
        )

    @property
    def name(self) -> str:
        return self.props.name
