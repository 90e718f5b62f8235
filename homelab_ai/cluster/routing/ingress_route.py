"""IngressRoute: an Ingress for one app's host names, in ingress-nginx's dialect, HTTPS only.

ingress-nginx (controller-v1.15.1) carries websockets without a setting, but closes a connection
that sends or receives nothing for ``proxy-read-timeout``/``proxy-send-timeout`` seconds, 60 by
default; its docs ask for 3600 or more for websockets (docs/user-guide/miscellaneous.md L38-46;
internal/ingress/annotations/proxy/main.go L30-31, defaults in internal/ingress/controller/config/config.go
L859-860). ``ssl-redirect`` (internal/ingress/annotations/rewrite/main.go L32, default true with a
``tls`` section, config.go L873) is written anyway, so the redirect does not depend on the
controller's ConfigMap. ``proxy-body-size`` (proxy/main.go L37) lifts its 1m default (config.go L37)
for document and image uploads.
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
    whole_number,
)
from homelab_ai.cluster.routing.certificate import MANAGED_BY
from homelab_ai.cluster.routing.values import IngressClass, IngressController

NGINX_PREFIX = "nginx.ingress.kubernetes.io/"


def nginx_annotations(stream_timeout: timedelta, max_upload_mib: int) -> dict[str, str]:
    """ingress-nginx's per-Ingress settings for websockets, long responses, uploads and the HTTPS redirect."""
    seconds = str(int(stream_timeout.total_seconds()))
    return {
        f"{NGINX_PREFIX}proxy-read-timeout": seconds,
        f"{NGINX_PREFIX}proxy-send-timeout": seconds,
        f"{NGINX_PREFIX}proxy-body-size": f"{max_upload_mib}m",
        f"{NGINX_PREFIX}ssl-redirect": "true",
    }


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class IngressRouteProps:
    """A Service's host names on an Ingress class, with the TLS Secret that covers them."""

    name: str = attrs.field(validator=dns1123_subdomain)
    """The Ingress's name. Required."""
    hostnames: tuple[str, ...] = attrs.field(converter=string_tuple, validator=host_names)
    """The names it answers for. Required."""
    service: str = attrs.field(validator=dns1123_label)
    """The backend Service, in the Ingress's namespace. Required."""
    port: int = attrs.field(validator=port)
    """The Service's port. Required."""
    ingress_class: IngressClass = attrs.field(validator=attrs.validators.instance_of(IngressClass))
    """spec.ingressClassName and whose annotations to write. Required."""
    tls_secret: str = attrs.field(validator=dns1123_subdomain)
    """The TLS Secret (kubernetes.io/tls) in the Ingress's namespace. Required."""
    stream_timeout: timedelta = attrs.field(default=timedelta(hours=1), validator=positive_duration)
    """How long a request or websocket may stay open without traffic. Default 1 hour."""
    max_upload_mib: int = attrs.field(default=100, validator=whole_number(1, 100_000))
    """Largest request body, MiB. Default 100."""
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=as_dict)
    """More annotations (external-dns). Default none."""
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=as_dict)
    """Labels beside app.kubernetes.io/managed-by. Default none."""


class IngressRoute(Construct):
    """One Ingress: HTTPS for its host names, HTTP redirected, websockets kept open."""

    def __init__(self, scope: Construct, id: str, props: IngressRouteProps) -> None:
        super().__init__(scope, id)
        self.props = props
        annotations = dict(props.annotations)
        if props.ingress_class.controller is IngressController.NGINX:
            annotations.update(nginx_annotations(props.stream_timeout, props.max_upload_mib))
        backend = {"service": {"name": props.service, "port": {"number": props.port}}}
        cdk8s.ApiObject(
            self,
            "Resource",
            api_version="networking.k8s.io/v1",
            kind="Ingress",
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name, labels={**props.labels, **MANAGED_BY}, annotations=dict(sorted(annotations.items()))
            ),
        ).add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {
                    "ingressClassName": props.ingress_class.name,
                    "tls": [{"hosts": list(props.hostnames), "secretName": props.tls_secret}],
                    "rules": [
                        {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
                        for host in props.hostnames
                    ],
                },
            )
        )

    @property
    def name(self) -> str:
        return self.props.name
