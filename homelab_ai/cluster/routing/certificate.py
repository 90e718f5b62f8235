"""Certificate: a cert-manager Certificate for one app's host names, kept in a TLS Secret of the same name.

cert-manager (cert-manager.io/v1, CRD at crds/cert-manager-certificate.yaml, v1.21.1) renews it
before it expires; the route (Ingress ``tls`` or a Gateway listener) reads the Secret.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.validators import as_dict, dns1123_subdomain, host_names, string_tuple, typed_fields
from homelab_ai.cluster.routing.values import CertIssuer

MANAGED_BY = {"app.kubernetes.io/managed-by": "homelab-ai"}


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class CertificateProps:
    """Which names, from which issuer, into which Secret."""

    name: str = attrs.field(validator=dns1123_subdomain)
    """The Certificate's name, and its Secret's unless ``secret_name`` says otherwise. Required."""
    hostnames: tuple[str, ...] = attrs.field(converter=string_tuple, validator=host_names)
    """The names it holds (spec.dnsNames), at least one. Required."""
    issuer: CertIssuer = attrs.field(validator=attrs.validators.instance_of(CertIssuer))
    """The cert-manager Issuer or ClusterIssuer that signs it. Required."""
    secret_name: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_subdomain))
    """The TLS Secret cert-manager writes. Default: the Certificate's name."""
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=as_dict)
    """Labels beside app.kubernetes.io/managed-by. Default none."""


class Certificate(Construct):
    """One cert-manager Certificate; routes read :attr:`secret_name`."""

    def __init__(self, scope: Construct, id: str, props: CertificateProps) -> None:
        super().__init__(scope, id)
        self.props = props
        cdk8s.ApiObject(
            self,
            "Resource",
            api_version="cert-manager.io/v1",
            kind="Certificate",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels={**props.labels, **MANAGED_BY}),
        ).add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {
                    "secretName": self.secret_name,
                    "dnsNames": list(props.hostnames),
                    "issuerRef": {
                        "name": props.issuer.name,
                        "kind": props.issuer.kind.value,
                        "group": "cert-manager.io",
                    },
                },
            )
        )

    @property
    def name(self) -> str:
        return self.props.name

    @property
    def secret_name(self) -> str:
        """The TLS Secret the certificate lands in."""
        return self.props.secret_name or self.props.name
