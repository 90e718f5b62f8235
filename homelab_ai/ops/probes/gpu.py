"""GPU probes: the slices a node offers, the device plugin's config, the NVIDIA RuntimeClass."""

from __future__ import annotations

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster
from homelab_ai.ops.report import Finding, fail, ok

# Set by NVIDIA's GPU Feature Discovery: how many physical cards a node has.
GPU_COUNT_LABEL = "nvidia.com/gpu.count"


def gpu_slices(e: Expectation, cluster: Cluster) -> Finding:
    """Each node offering the resource offers ``replicas`` per card (time-slicing multiplies them)."""
    resource, replicas = e.data["resource"], int(e.data["replicas"])
    nodes = cluster.items("nodes")
    offering = [n for n in nodes if resource in ((n.get("status") or {}).get("allocatable") or {})]
    if not offering:
        names = ", ".join(n["metadata"]["name"] for n in nodes) or "none"
        return fail(
            e,
            f"no node offers {resource} (nodes: {names})",
            fix="the device plugin is not running on the GPU node: see the device-plugin check; without Node Feature "
            "Discovery, label the node: `kubectl label node NODE nvidia.com/gpu.present=true`",
        )
    evidence, broken = [], False
    for node in offering:
        name = node["metadata"]["name"]
        offered = int(str(node["status"]["allocatable"][resource]))
        cards = int((node["metadata"].get("labels") or {}).get(GPU_COUNT_LABEL, 1))
        expected = cards * replicas
        if offered == expected:
            evidence.append(f"node {name} offers {offered} ({replicas} slices x {cards} card(s))")
        elif offered == cards:
            broken = True
            evidence.append(
                f"node {name} offers {offered}, one per card: the plugin runs without the time-slicing config"
            )
        else:
            broken = True
            evidence.append(f"node {name} offers {offered}, expected {expected} ({replicas} slices x {cards} card(s))")
    return fail(e, *evidence) if broken else ok(e, *evidence)


def device_plugin(e: Expectation, cluster: Cluster) -> Finding:
    """The plugin's pods run and carry the checksum of the config the chart generates (so they loaded it)."""
    namespace, checksum = e.data["namespace"], e.data["checksum"]
    pods = cluster.items("pods", namespace=namespace, selector=e.data["selector"])
    if not pods:
        return fail(
            e,
            f"no device plugin pod in {namespace} ({e.data['selector']})",
            fix=f"`flux get helmreleases -n {namespace}`; then `kubectl -n {namespace} get daemonsets`",
        )
    evidence, broken, stale = [], False, False
    for pod in pods:
        name = pod["metadata"]["name"]
        got = (pod["metadata"].get("annotations") or {}).get("checksum/config", "")
        status = pod.get("status") or {}
        ready = all(c.get("ready") for c in status.get("containerStatuses") or []) and status.get("phase") == "Running"
        node = (pod.get("spec") or {}).get("nodeName", "?")
        if got != checksum:
            stale = broken = True
            evidence.append(f"pod {name} on {node} runs config {got[:12] or 'without a checksum'}, not {checksum[:12]}")
        elif not ready:
            broken = True
            evidence.append(f"pod {name} on {node} is {status.get('phase', '?')}, not ready")
        else:
            evidence.append(f"pod {name} on {node} runs, config {checksum[:12]} (the chart's)")
    if not broken:
        return ok(e, *evidence)
    fix = None if stale else f"`kubectl -n {namespace} describe pods -l {e.data['selector']}`"
    return fail(e, *evidence, fix=fix)


def runtime_class(e: Expectation, cluster: Cluster) -> Finding:
    found = cluster.find("runtimeclass", e.data["name"])
    if found is None:
        return fail(e, f"no RuntimeClass {e.data['name']!r}")
    handler = found.get("handler")
    if handler != e.data["handler"]:
        return fail(e, f"its handler is {handler!r}, not {e.data['handler']!r}")
    return ok(e, f"handler {handler!r}")


PROBES = {"gpu-slices": gpu_slices, "device-plugin": device_plugin, "runtime-class": runtime_class}
