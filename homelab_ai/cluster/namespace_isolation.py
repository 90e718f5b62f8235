"""NamespaceIsolation: deny all traffic in the namespace, except DNS, unless a policy opens a door.

NetworkPolicies only add permissions. This construct makes the namespace closed by default: a pod
that no AppNetworkPolicy selects (a forgotten Job, a debug pod) can resolve names and nothing
else, and nothing can reach it.
"""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import DnsServer
from homelab_ai.base.validators import dns1123_label, typed_fields


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class NamespaceIsolationProps:
    """Names of the two policies and where cluster DNS lives."""

    deny_name: str = attrs.field(default="default-deny", validator=dns1123_label)
    """Name of the policy that denies all traffic. Default "default-deny"."""
    dns_name: str = attrs.field(default="allow-dns", validator=dns1123_label)
    """Name of the policy that lets every pod reach DNS. Default "allow-dns"."""
    dns: DnsServer = DnsServer()
    """Where cluster DNS lives. Default DnsServer(): kube-dns in kube-system, port 53."""

    def __attrs_post_init__(self) -> None:
        if self.deny_name == self.dns_name:
            raise HomelabConfigError(
                "NamespaceIsolationProps.dns_name", f"{self.dns_name!r} is also deny_name", "give them different names"
            )


class NamespaceIsolation(Construct):
    """Default-deny ingress and egress for every pod of the chart's namespace, plus DNS egress."""

    def __init__(self, scope: Construct, id: str, props: NamespaceIsolationProps = NamespaceIsolationProps()) -> None:
        super().__init__(scope, id)
        self.props = props
        if cdk8s.Chart.of(self).namespace is None:
            raise HomelabConfigError(
                "NamespaceIsolation(scope)",
                "the chart has no namespace, so the policies would land in 'default'",
                "create it in the namespaced chart whose pods it isolates (e.g. the 'ai' chart)",
            )
        labels = {"app.kubernetes.io/managed-by": "homelab-ai"}
        specs = {
            props.deny_name: {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            props.dns_name: {"podSelector": {}, "policyTypes": ["Egress"], "egress": [props.dns.rule()]},
        }
        for name, spec in specs.items():
            policy = cdk8s.ApiObject(
                self,
                name,
                api_version="networking.k8s.io/v1",
                kind="NetworkPolicy",
                metadata=cdk8s.ApiObjectMetadata(name=name, labels=labels),
            )
            policy.add_json_patch(cdk8s.JsonPatch.add("/spec", spec))
