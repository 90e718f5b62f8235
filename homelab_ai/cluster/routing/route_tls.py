"""RouteTlsSecret: the certificate behind one or more routes, as ``Routing.tls`` asks for it.

With an issuer it is one cert-manager Certificate for all the given host names (one Secret, so a
Gateway listener needs one ``certificateRefs`` entry, which every implementation supports); with a
Secret that exists, it checks that its names cover every host. A Gateway in another namespace
may read the Secret only with a ReferenceGrant here, which it adds.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import (
    as_dict,
    certificate_covers,
    dns1123_subdomain,
    host_names,
    string_tuple,
    typed_fields,
)
from homelab_ai.cluster.routing.certificate import Certificate, CertificateProps
from homelab_ai.cluster.routing.reference_grant import ReferenceGrant, ReferenceGrantProps
from homelab_ai.cluster.routing.values import GatewayListener, Routing


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class RouteTlsSecretProps:
    """Which host names, under which name, the way ``routing.tls`` says."""

    name: str = attrs.field(validator=dns1123_subdomain)
    """Name of the Certificate and its Secret (and of the ReferenceGrant). Required."""
    hostnames: tuple[str, ...] = attrs.field(converter=string_tuple, validator=host_names)
    """Every host name the routes serve. Required."""
    routing: Routing = attrs.field(validator=attrs.validators.instance_of(Routing))
    """The routing whose ``tls`` is not None. Required."""
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=as_dict)
    """Labels beside app.kubernetes.io/managed-by. Default none."""

    def __attrs_post_init__(self) -> None:
        tls = self.routing.tls
        if tls is None:
            raise HomelabConfigError(
                "RouteTlsSecretProps.routing", "routing.tls is None: there is no certificate to make or check", "set it"
            )
        uncovered = [h for h in self.hostnames if tls.secret_name is not None and not certificate_covers(tls.names, h)]
        if uncovered:
            raise HomelabConfigError(
                "RouteTls.names",
                f"the certificate in Secret {tls.secret_name!r} holds {', '.join(tls.names)}, which does not cover "
                f"{', '.join(uncovered)} (a wildcard covers one leftmost label only)",
                "use host names it covers, or another Secret, or an issuer for these names",
            )


class RouteTlsSecret(Construct):
    """The routes' TLS Secret, issued here or one that exists; routes read :attr:`secret_name`."""

    def __init__(self, scope: Construct, id: str, props: RouteTlsSecretProps) -> None:
        super().__init__(scope, id)
        self.props = props
        tls = props.routing.tls
        assert tls is not None  # the props refuse None
        self.certificate: Certificate | None = None
        """The cert-manager Certificate, when an issuer signs it."""
        if tls.issuer is not None:
            self.certificate = Certificate(
                self,
                "Certificate",
                CertificateProps(name=props.name, hostnames=props.hostnames, issuer=tls.issuer, labels=props.labels),
            )
        self.secret_name: str = self.certificate.secret_name if self.certificate else str(tls.secret_name)
        """The kubernetes.io/tls Secret in this namespace."""
        self.reference_grant: ReferenceGrant | None = None
        """Lets the Gateway, in another namespace, read the Secret."""
        via = props.routing.via
        if isinstance(via, GatewayListener) and via.namespace != self.namespace:
            self.reference_grant = ReferenceGrant(
                self,
                "ReferenceGrant",
                ReferenceGrantProps(
                    name=props.name, gateway_namespace=via.namespace, secret_name=self.secret_name, labels=props.labels
                ),
            )

    @property
    def namespace(self) -> str:
        return cdk8s.Chart.of(self).namespace or "default"

    @property
    def hostnames(self) -> tuple[str, ...]:
        return self.props.hostnames
