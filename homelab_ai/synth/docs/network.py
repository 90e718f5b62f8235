"""Network: every door each NetworkPolicy opens."""

from __future__ import annotations

from homelab_ai.base.network_values import PodSelector
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy
from homelab_ai.cluster.app_workload import NAME_LABEL
from homelab_ai.synth.docs.page import (
    Page,
    table,
)


def _pods_name(selector: PodSelector) -> str:
    name = selector.labels.get(NAME_LABEL) or ", ".join(f"{k}={v}" for k, v in sorted(selector.labels.items()))
    return f"{selector.namespace}/{name}" if selector.namespace else name


def network_section(page: Page) -> str | None:
    """Every door of the namespace: what each policy admits and where its pods may connect."""
    policies = page.of_kind(AppNetworkPolicy)
    if not policies:
        return None
    rows = []
    for policy in policies:
        ports = ", ".join(str(p) for p in policy.props.ports)
        if policy.props.from_anywhere:
            accepts = f"anyone, on {ports}"
        elif policy.clients:
            accepts = f"{', '.join(_pods_name(c) for c in policy.clients)}, on {ports}"
        else:
            accepts = "nobody"
        reaches = ["DNS"] + [f"{_pods_name(e.pods)}:{e.port}" for e in policy.endpoints]
        if policy.props.internet is not None:
            reaches.append(f"internet on {', '.join(str(p) for p in policy.props.internet.ports)} (not the LAN)")
        for egress in policy.ranges:
            reaches.append(f"{egress.cidr} on {', '.join(str(p) for p in egress.ports)}")
        if policy.props.api_server is not None:
            api = policy.props.api_server
            reaches.append(f"the Kubernetes API ({api.cidr} on {', '.join(str(p) for p in api.ports)})")
        rows.append((_pods_name(policy.pods), accepts, ", ".join(reaches)))
    intro = (
        "Everything not listed is denied, both ways: the namespace has a default-deny NetworkPolicy, "
        "and each app's own policy opens only these doors."
    )
    return "## Network\n\n" + intro + "\n\n" + table(("Pods", "Accept connections from", "May connect to"), rows)
