"""VRAM arbiter probe: its ``GET /status`` agrees with the chart's card and envelopes, and it reaches every app.

``/status`` is served by homelab_ai/services/vram_arbiter/vram_arbiter.py (``Arbiter.status``): the
card (``name``, ``vram_gib``) and per app its ``envelope_gib`` (``idle``, ``active_min``,
``active_max``), ``reachable``, ``state``, ``observed_gib`` and ``last_error``; ``waiting`` lists the
requests queued for the card. It is read through the API server's Service proxy, a GET.
"""

from __future__ import annotations

import json

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster
from homelab_ai.ops.kubectl import KubectlError
from homelab_ai.ops.probes.apps import proxy_path, unreachable_fix
from homelab_ai.ops.report import Finding, fail, ok, warn


def vram_arbiter(e: Expectation, cluster: Cluster) -> Finding:
    path = proxy_path(e.data["namespace"], e.data["service"], int(e.data["port"]), "/status")
    try:
        status = json.loads(cluster.raw(path))
    except KubectlError as exc:
        return fail(e, f"GET /status failed: {exc.message}", fix=unreachable_fix(e, exc.message))
    except ValueError:
        return fail(e, "GET /status did not answer JSON")
    card = (status.get("card") or {}).get("vram_gib")
    apps = {a.get("name"): a for a in status.get("apps") or []}
    stale = []
    if card != e.data["card_gib"]:
        stale.append(f"card {card} GiB, the chart says {e.data['card_gib']:g}")
    for name, declared in e.data["envelopes"].items():
        running = (apps.get(name) or {}).get("envelope_gib")
        if running is None:
            stale.append(f"no app {name}")
        elif {k: running.get(k) for k in declared} != declared:
            got = f"{running.get('idle')}/{running.get('active_min')}-{running.get('active_max')}"
            want = f"{declared['idle']:g}/{declared['active_min']:g}-{declared['active_max']:g}"
            stale.append(f"{name} envelope {got} GiB, the chart says {want}")
    if stale:
        return fail(
            e,
            f"runs another config than the chart: {'; '.join(stale)}",
            fix=f"`kubectl -n {e.data['namespace']} rollout status deployment/{e.data['service']}` "
            "(a new config restarts it), or reconcile the apps' Flux Kustomization",
        )
    lines = [
        f"{name}: {a.get('state')}, {a.get('observed_gib')} GiB observed" for name, a in sorted(apps.items()) if name
    ]
    waiting = len(status.get("waiting") or [])
    unreachable = [
        f"{name}: unreachable ({a.get('last_error') or 'no answer'})"
        for name, a in apps.items()
        if not a.get("reachable")
    ]
    if unreachable:
        return warn(e, *unreachable, f"{waiting} request(s) waiting", fix=e.fix)
    return ok(e, *lines, f"{waiting} request(s) waiting")


PROBES = {"vram-arbiter": vram_arbiter}
