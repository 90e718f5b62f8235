"""LoadBalancer probe: the chart's IP is inside a pool of the cluster's LB controller, and the Service got it.

Pool shapes: MetalLB ``IPAddressPool`` ``spec.addresses`` (CIDRs or ``start-end`` ranges,
metallb/metallb api/v1beta1/ipaddresspool_types.go); Cilium ``CiliumLoadBalancerIPPool``
``spec.blocks`` (``cidr`` or ``start``/``stop``) and the older ``spec.cidrs``, ``spec.disabled``
(cilium/cilium pkg/k8s/apis/cilium.io/v2alpha1/lbipam_types.go); kube-vip's cloud provider reads
the ConfigMap ``kubevip`` in kube-system, keys ``cidr-global``/``range-global`` and
``cidr-<namespace>``/``range-<namespace>`` (kube-vip/kube-vip-cloud-provider). The Service's
address is ``status.loadBalancer.ingress[].ip`` (k8s.io/api core/v1 LoadBalancerStatus).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster
from homelab_ai.ops.kubectl import KubectlError
from homelab_ai.ops.report import Finding, fail, ok

Pool = tuple[str, list[str]]  # (name, address ranges as written)


def contains(ranges: Iterable[str], ip: str) -> bool:
    """Whether ``ip`` is in one of the CIDRs or ``start-end`` ranges (a bad entry never matches)."""
    address = ipaddress.ip_address(ip)
    for item in ranges:
        item = item.strip()
        try:
            if "-" in item:
                start, end = (ipaddress.ip_address(p.strip()) for p in item.split("-", 1))
                if type(start) is type(address) and start <= address <= end:  # type: ignore[operator]
                    return True
            elif address in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def _metallb(cluster: Cluster, namespace: str) -> list[Pool]:
    return [
        (
            f"IPAddressPool {p['metadata'].get('namespace', '')}/{p['metadata']['name']}",
            list(p["spec"].get("addresses") or []),
        )
        for p in cluster.items("ipaddresspools.metallb.io", all_namespaces=True)
    ]


def _cilium(cluster: Cluster, namespace: str) -> list[Pool]:
    pools = []
    for pool in cluster.items("ciliumloadbalancerippools.cilium.io"):
        spec = pool.get("spec") or {}
        if spec.get("disabled"):
            continue
        blocks = list(spec.get("blocks") or []) + list(spec.get("cidrs") or [])
        ranges = [b["cidr"] if b.get("cidr") else f"{b.get('start')}-{b.get('stop')}" for b in blocks]
        pools.append((f"CiliumLoadBalancerIPPool {pool['metadata']['name']}", ranges))
    return pools


def _kube_vip(cluster: Cluster, namespace: str) -> list[Pool]:
    config = cluster.find("configmap", "kubevip", namespace="kube-system")
    data = (config or {}).get("data") or {}
    pools = []
    for key in ("cidr-global", "range-global", f"cidr-{namespace}", f"range-{namespace}"):
        if data.get(key):
            pools.append((f"kubevip {key}", [part for part in data[key].split(",") if part.strip()]))
    return pools


READERS = {"metallb": _metallb, "cilium": _cilium, "kube-vip": _kube_vip}
CONTROLLER = {"metallb": "MetalLB", "cilium": "Cilium LB-IPAM", "kube-vip": "kube-vip"}


def load_balancer(e: Expectation, cluster: Cluster) -> Finding:
    namespace, name, ip, provider = e.data["namespace"], e.data["service"], e.data["ip"], e.data["provider"]
    try:
        pools = READERS[provider](cluster, namespace)
    except KubectlError as exc:
        if not exc.unknown_kind:
            raise
        return fail(
            e,
            f"the cluster has no {CONTROLLER[provider]} pools ({exc.message})",
            fix=f"install {CONTROLLER[provider]} and give it a pool holding {ip}",
        )
    holding = [pool for pool, ranges in pools if contains(ranges, ip)]
    service = cluster.find("service", name, namespace=namespace)
    if service is None:
        return fail(e, f"Service {namespace}/{name} does not exist")
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    got = [i.get("ip") for i in ingress if i.get("ip")]
    if not holding:
        listed = "; ".join(f"{pool}: {', '.join(ranges) or 'empty'}" for pool, ranges in pools) or "none"
        return fail(e, f"{ip} is in no {CONTROLLER[provider]} pool (pools: {listed})")
    if ip not in got:
        state = f"has {', '.join(got)}" if got else "is <pending>: no address assigned"
        return fail(
            e,
            f"{ip} is in {holding[0]}, but the Service {state}",
            fix=f"`kubectl -n {namespace} describe service {name}` (the LB controller's events say why)",
        )
    return ok(e, f"{ip} from {holding[0]}; the Service has it")


PROBES = {"load-balancer": load_balancer}
