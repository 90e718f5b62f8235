"""LoadBalancer: a fixed IP and port for a Service, in the dialect of the homelab's LB controller."""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from homelab_ai.base.validators import dns1123_label, ipv4, port, typed_fields


class LbProvider(enum.Enum):
    """Who hands out LoadBalancer IPs; each reads the requested IP from its own annotation."""

    METALLB = "metallb"
    CILIUM = "cilium"
    KUBE_VIP = "kube-vip"


_IP_ANNOTATION = {
    LbProvider.METALLB: "metallb.io/loadBalancerIPs",
    LbProvider.CILIUM: "lbipam.cilium.io/ips",
    LbProvider.KUBE_VIP: "kube-vip.io/loadbalancerIPs",
}
_SHARING_ANNOTATION = {
    LbProvider.METALLB: "metallb.io/allow-shared-ip",
    LbProvider.CILIUM: "lbipam.cilium.io/sharing-key",
    LbProvider.KUBE_VIP: None,
}


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class LoadBalancer:
    """Expose a Service on ``ip``:``port``.

    The IP goes in the provider's annotation; ``spec.loadBalancerIP`` is deprecated since
    Kubernetes 1.24 and is only written when ``use_deprecated_spec_field`` asks for it.
    ``sharing_key`` lets several Services share one IP on different ports.
    """

    ip: str = attrs.field(validator=ipv4)
    """The LAN IPv4 address the Service asks its LB controller for. Required."""
    port: int = attrs.field(default=80, validator=port)
    """Service port on that IP. Default 80."""
    provider: LbProvider = attrs.field(default=LbProvider.METALLB, validator=attrs.validators.instance_of(LbProvider))
    """LB controller whose annotation carries the IP. Default LbProvider.METALLB."""
    sharing_key: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_label))
    """Lets several Services share the IP on different ports. Default None: not shared."""
    use_deprecated_spec_field: bool = False
    """Also write spec.loadBalancerIP (deprecated since Kubernetes 1.24). Default False."""

    def annotations(self) -> dict[str, str]:
        """The Service annotations that ask the provider for ip (and share it by sharing_key)."""
        result = {_IP_ANNOTATION[self.provider]: self.ip}
        sharing = _SHARING_ANNOTATION[self.provider]
        if self.sharing_key and sharing:
            result[sharing] = self.sharing_key
        return result


def conflicts(exposures: Iterable[tuple[str, LoadBalancer]]) -> list[str]:
    """Two Services on one IP and port, or on one IP without a shared key, cannot both get it."""
    problems: list[str] = []
    by_ip: dict[str, list[tuple[str, LoadBalancer]]] = {}
    for owner, lb in exposures:
        by_ip.setdefault(lb.ip, []).append((owner, lb))
    for ip, users in sorted(by_ip.items()):
        seen_ports: dict[int, str] = {}
        clashes = len(problems)
        for owner, lb in users:
            if lb.port in seen_ports:
                problems.append(
                    f"LoadBalancer.ip/port: {owner} and {seen_ports[lb.port]} both ask for {ip}:{lb.port}; "
                    "give one of them another IP or port"
                )
            seen_ports.setdefault(lb.port, owner)
        keys = {lb.sharing_key for _, lb in users}
        if len(problems) == clashes and len(users) > 1 and (None in keys or len(keys) > 1):
            names = ", ".join(owner for owner, _ in users)
            problems.append(
                f"LoadBalancer.sharing_key: {names} share {ip} without a common sharing_key, so the LB "
                "controller gives it to only one; set the same sharing_key on all of them or use separate IPs"
            )
    return problems
