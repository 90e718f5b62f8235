"""Restore drill probe: the last result the drill wrote into its ConfigMap (see cluster/longhorn/longhorn_jobs.py)."""

from __future__ import annotations

import json

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster, parse_time
from homelab_ai.ops.report import Finding, fail, ok, warn


def _summary(check: dict) -> str:
    if check.get("kind") == "sqlite":
        integrity = ", ".join(check.get("integrity") or ["?"])
        return f"{check.get('file')}: integrity {integrity}, {check.get('tables', '?')} tables"
    if check.get("kind") == "files":
        return f"{check.get('files', '?')} files restored"
    return "no check result"


def restore_drill(e: Expectation, cluster: Cluster) -> Finding:
    namespace, name = e.data["namespace"], e.data["config_map"]
    config_map = cluster.find("configmap", name, namespace=namespace)
    if config_map is None:
        return warn(e, "no drill has finished yet")
    try:
        result = json.loads((config_map.get("data") or {})["result.json"])
    except (KeyError, ValueError):
        return fail(e, f"ConfigMap {namespace}/{name} holds no readable result.json")
    finished = parse_time(result.get("finishedAt"))
    age_hours = (cluster.now - finished).total_seconds() / 3600 if finished else float("inf")
    backup = f"backup {result.get('backup', '?')} of {result.get('backupCreatedAt', '?')}"
    if result.get("verdict") != "passed":
        detail = result.get("error") or (result.get("check") or {}).get("error") or _summary(result.get("check") or {})
        return fail(e, f"the drill of {result.get('finishedAt', '?')} failed: {detail}", backup)
    line = f"passed at {result.get('finishedAt')}: {backup}; {_summary(result.get('check') or {})}"
    if age_hours > float(e.data["max_age_hours"]):
        return warn(e, f"{line}; that is {age_hours:.0f} h ago, more than {e.data['max_age_hours']:g} h")
    return ok(e, line)


PROBES = {"restore-drill": restore_drill}
