"""The Pod Security Standards (baseline, restricted) as a checker of synthesized pod specs.

Kubernetes enforces them at admission, in the cluster; this checks the same rules at synth time so
a pod that the namespace would reject is refused before anything is written.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

# Kinds that carry a pod template, and where the pod spec is in each.
POD_KINDS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

_BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
}
_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


class PodSecurityLevel(enum.Enum):
    """The three Pod Security Standards, most permissive first."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"


def pod_spec(manifest: dict) -> dict | None:
    """The pod spec inside ``manifest``, or None for kinds without pods."""
    path = POD_KINDS.get(manifest.get("kind", ""))
    if path is None:
        return None
    node: object = manifest
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _containers(spec: dict) -> Iterator[dict]:
    for section in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(section) or []


def baseline_violations(spec: dict) -> list[str]:
    found: list[str] = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"{field} is true")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            found.append(f"volume {volume.get('name')!r} is a hostPath")
    pod_context = spec.get("securityContext") or {}
    if (pod_context.get("seccompProfile") or {}).get("type") == "Unconfined":
        found.append("pod seccompProfile is Unconfined")
    for sysctl in pod_context.get("sysctls") or []:
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl.get('name')!r} is not a safe sysctl")
    for c in _containers(spec):
        name = c.get("name")
        context = c.get("securityContext") or {}
        if context.get("privileged"):
            found.append(f"container {name!r} is privileged")
        extra = set((context.get("capabilities") or {}).get("add") or []) - _BASELINE_CAPABILITIES
        if extra:
            found.append(f"container {name!r} adds capabilities {sorted(extra)}")
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
            found.append(f"container {name!r} seccompProfile is Unconfined")
        if context.get("procMount") not in (None, "Default"):
            found.append(f"container {name!r} procMount is {context.get('procMount')!r}")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            found.append(f"container {name!r} uses a hostPort")
    return found


def restricted_violations(spec: dict) -> list[str]:
    found = baseline_violations(spec)
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= _RESTRICTED_VOLUMES:
            found.append(f"volume {volume.get('name')!r} is of type {sorted(kinds)}, not allowed by restricted")
    pod_context = spec.get("securityContext") or {}
    pod_non_root = pod_context.get("runAsNonRoot") is True
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost")
    if pod_context.get("runAsUser") == 0:
        found.append("pod runAsUser is 0 (root)")
    for c in _containers(spec):
        name = c.get("name")
        context = c.get("securityContext") or {}
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name!r} does not set allowPrivilegeEscalation: false")
        non_root = context.get("runAsNonRoot")
        if non_root is False or (non_root is None and not pod_non_root):
            found.append(f"container {name!r} may run as root (runAsNonRoot is not true)")
        if context.get("runAsUser") == 0:
            found.append(f"container {name!r} runAsUser is 0 (root)")
        seccomp = (context.get("seccompProfile") or {}).get("type")
        if not (seccomp in ("RuntimeDefault", "Localhost") or (seccomp is None and pod_seccomp)):
            found.append(f"container {name!r} has no RuntimeDefault or Localhost seccompProfile")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"container {name!r} does not drop ALL capabilities")
        extra = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            found.append(f"container {name!r} adds capabilities {sorted(extra)} (restricted allows NET_BIND_SERVICE)")
    return found


def violations(spec: dict, level: PodSecurityLevel) -> list[str]:
    """What in ``spec`` (a pod spec) the given Pod Security Standard forbids; deduplicated, in order."""
    if level is PodSecurityLevel.PRIVILEGED:
        return []
    found = restricted_violations(spec) if level is PodSecurityLevel.RESTRICTED else baseline_violations(spec)
    return list(dict.fromkeys(found))
