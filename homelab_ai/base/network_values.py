"""Typed pieces of NetworkPolicies: which pods, which port, which part of the internet, which DNS."""

from __future__ import annotations

import ipaddress

import attrs

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import (
    as_dict,
    as_tuple,
    cidr,
    dns1123_label,
    label_mapping,
    matches,
    port,
    ports,
    typed_fields,
)

# Private, shared, link-local and loopback ranges: "the internet" never includes the home LAN,
# the cluster's own networks or a cloud metadata endpoint.
NON_INTERNET = (
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
)


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class PodSelector:
    """Pods picked by labels, in the policy's own namespace unless ``namespace`` names another."""

    labels: dict[str, str] = attrs.field(converter=as_dict, validator=label_mapping)
    """Labels the selected pods carry (all must match). Required."""
    namespace: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_label))
    """Namespace of the pods. Default None: the policy's own namespace."""

    def peer(self) -> dict:
        """The ``from``/``to`` entry of a NetworkPolicy rule."""
        entry: dict = {"podSelector": {"matchLabels": dict(sorted(self.labels.items()))}}
        if self.namespace is not None:
            entry["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}}
        return entry


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class Endpoint:
    """Pods and the port they listen on: what an egress rule opens. The port is the container's
    port, not the Service's: policies see traffic after the Service has translated it."""

    pods: PodSelector
    """The pods connected to. Required."""
    port: int = attrs.field(validator=port)
    """Their container port (not the Service's: policies see traffic after the Service). Required."""
    protocol: str = attrs.field(default="TCP", validator=matches(r"TCP|UDP|SCTP", "use 'TCP', 'UDP' or 'SCTP'"))
    """Transport protocol: "TCP", "UDP" or "SCTP". Default "TCP"."""


def _excepts_inside(instance: InternetEgress) -> None:
    network = ipaddress.IPv4Network(instance.cidr)
    for item in instance.except_cidrs:
        cidr(instance, attrs.fields(InternetEgress).except_cidrs, item)
        if not ipaddress.IPv4Network(item).subnet_of(network):
            raise HomelabConfigError(
                "InternetEgress.except_cidrs",
                f"{item} is not inside {instance.cidr}",
                "list only ranges inside cidr (a NetworkPolicy ipBlock refuses others)",
            )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class InternetEgress:
    """Outbound connections to the internet (model downloads), never to the LAN.

    ``ports`` defaults to HTTPS only; ``except_cidrs`` keeps the home network, the cluster and
    link-local addresses out of reach even though they are inside ``cidr``.
    """

    ports: tuple[int, ...] = attrs.field(default=(443,), converter=as_tuple, validator=ports)
    """Port numbers opened outbound, over TCP. Default (443,): HTTPS only."""
    cidr: str = attrs.field(default="0.0.0.0/0", validator=cidr)
    """The address range counted as the internet. Default "0.0.0.0/0"."""
    except_cidrs: tuple[str, ...] = attrs.field(default=NON_INTERNET, converter=as_tuple)
    """Ranges inside cidr kept out of reach. Default: private, shared, link-local and loopback ranges."""

    def __attrs_post_init__(self) -> None:
        if not self.ports:
            raise HomelabConfigError("InternetEgress.ports", "no ports given", "list the ports, e.g. (443,)")
        _excepts_inside(self)

    def rule(self) -> dict:
        """The egress rule: an ipBlock of cidr minus except_cidrs, on ports over TCP."""
        block: dict = {"cidr": self.cidr}
        if self.except_cidrs:
            block["except"] = list(self.except_cidrs)
        return {"to": [{"ipBlock": block}], "ports": [{"port": p, "protocol": "TCP"} for p in self.ports]}


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class DnsServer:
    """The cluster DNS that every pod must still reach: kube-dns in kube-system by default (CoreDNS
    keeps the ``k8s-app: kube-dns`` label). Port 53 over UDP and TCP (large answers use TCP)."""

    namespace: str = attrs.field(default="kube-system", validator=dns1123_label)
    """Namespace of the cluster DNS pods. Default "kube-system"."""
    labels: dict[str, str] = attrs.field(
        factory=lambda: {"k8s-app": "kube-dns"}, converter=as_dict, validator=label_mapping
    )
    """Labels of the cluster DNS pods. Default {"k8s-app": "kube-dns"} (CoreDNS keeps that label)."""
    port: int = attrs.field(default=53, validator=port)
    """DNS port, opened over UDP and TCP (large answers use TCP). Default 53."""

    def rule(self) -> dict:
        """The egress rule to the DNS pods on port 53, over UDP and TCP."""
        selector = PodSelector(labels=self.labels, namespace=self.namespace)
        return {
            "to": [selector.peer()],
            "ports": [{"port": self.port, "protocol": "UDP"}, {"port": self.port, "protocol": "TCP"}],
        }


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class ApiServerEgress:
    """Where a pod that talks to the Kubernetes API may connect: ``cidr`` on ``ports``.

    443 is the ``kubernetes`` Service; 6443 is the API server behind it (k3s, kubeadm), which is
    what most CNIs match a policy against once the Service address is translated. ``cidr``
    defaults to anywhere on those ports; narrow it to the control plane (e.g. ``10.10.0.10/32``).
    """

    cidr: str = attrs.field(default="0.0.0.0/0", validator=cidr)
    """The API server's addresses. Default "0.0.0.0/0": any."""
    ports: tuple[int, ...] = attrs.field(default=(443, 6443), converter=as_tuple, validator=ports)
    """TCP port of the Service and of the API server behind it. Default (443, 6443)."""

    def __attrs_post_init__(self) -> None:
        if not self.ports:
            raise HomelabConfigError("ApiServerEgress.ports", "no ports given", "list the ports, e.g. (443, 6443)")

    def rule(self) -> dict:
        return {"to": [{"ipBlock": {"cidr": self.cidr}}], "ports": [{"port": p, "protocol": "TCP"} for p in self.ports]}
