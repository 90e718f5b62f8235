"""ReferenceGrant: let the Gateways of one namespace read one TLS Secret of this namespace.

A Gateway listener may name a certificate Secret in another namespace only when that namespace
grants it (Gateway API ReferenceGrant, crds/gateway-api-referencegrant.yaml, v1.6.1). Written as
v1beta1, the version every Gateway API release since v0.6 serves (v1.6.1 stores it too).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.validators import as_dict, dns1123_label, dns1123_subdomain, typed_fields
from homelab_ai.cluster.routing.certificate import MANAGED_BY


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class ReferenceGrantProps:
    """Which Secret, for the Gateways of which namespace."""

    name: str = attrs.field(validator=dns1123_subdomain)
    """The grant's name. Required."""
    gateway_namespace: str = attrs.field(validator=dns1123_label)
    """The namespace whose Gateways may read the Secret. Required."""
    secret_name: str = attrs.field(validator=dns1123_subdomain)
    """The TLS Secret, in the grant's own namespace. Required."""
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=as_dict)
    """Labels beside app.kubernetes.io/managed-by. Default none."""


class ReferenceGrant(Construct):
    """One grant: Gateways in ``gateway_namespace`` may use Secret ``secret_name``, and nothing else."""

    def __init__(self, scope: Construct, id: str, props: ReferenceGrantProps) -> None:
        super().__init__(scope, id)
        self.props = props
        cdk8s.ApiObject(
            self,
            "Resource",
            api_version="gateway.networking.k8s.io/v1beta1",
            kind="ReferenceGrant",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels={**props.labels, **MANAGED_BY}),
        ).add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {
                    "from": [
                        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": props.gateway_namespace}
                    ],
                    "to": [{"group": "", "kind": "Secret", "name": props.secret_name}],
                },
            )
        )
