"""The Pod Security Standards checker on plain pod specs: every rule, with the message it reports.

The rules are those of https://kubernetes.io/docs/concepts/security/pod-security-standards/ (baseline
and restricted, as enforced by the namespace label). tests/test_hardening.py shows the synthesized pods pass.
"""

from __future__ import annotations

import copy

import pytest

from homelab_ai.cluster.pod_security import PodSecurityLevel, baseline_violations, pod_spec, violations

RESTRICTED_CONTAINER = {
    "name": "app",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "capabilities": {"drop": ["ALL"]},
    },
}


def restricted_spec(**pod: object) -> dict:
    return {"containers": [copy.deepcopy(RESTRICTED_CONTAINER)], **pod}


def with_container(**context: object) -> dict:
    spec = restricted_spec()
    spec["containers"][0]["securityContext"].update(context)
    return spec


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"kind": "Pod", "spec": {"containers": []}}, {"containers": []}),
        ({"kind": "Deployment", "spec": {"template": {"spec": {"a": 1}}}}, {"a": 1}),
        ({"kind": "StatefulSet", "spec": {"template": {"spec": {"b": 2}}}}, {"b": 2}),
        ({"kind": "DaemonSet", "spec": {"template": {"spec": {"c": 3}}}}, {"c": 3}),
        ({"kind": "ReplicaSet", "spec": {"template": {"spec": {"d": 4}}}}, {"d": 4}),
        ({"kind": "Job", "spec": {"template": {"spec": {"e": 5}}}}, {"e": 5}),
        ({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"f": 6}}}}}}, {"f": 6}),
        ({"kind": "Deployment", "spec": {}}, {}),
        ({"kind": "Deployment", "spec": {"template": "oops"}}, {}),
        ({"kind": "Pod", "spec": "oops"}, {}),
        ({"kind": "Service", "spec": {}}, None),
        ({}, None),
    ],
)
def test_pod_spec_is_found_where_each_kind_keeps_it(manifest, expected):
    assert pod_spec(manifest) == expected


def test_a_hardened_pod_passes_restricted():
    assert violations(restricted_spec(), PodSecurityLevel.RESTRICTED) == []


def test_privileged_level_allows_everything():
    assert violations({"hostNetwork": True, "containers": [{"name": "x"}]}, PodSecurityLevel.PRIVILEGED) == []


@pytest.mark.parametrize(
    ("spec", "found"),
    [
        (restricted_spec(hostNetwork=True), "hostNetwork is true"),
        (restricted_spec(hostPID=True), "hostPID is true"),
        (restricted_spec(hostIPC=True), "hostIPC is true"),
        (restricted_spec(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "volume 'root' is a hostPath"),
        (
            restricted_spec(securityContext={"seccompProfile": {"type": "Unconfined"}}),
            "pod seccompProfile is Unconfined",
        ),
        (
            restricted_spec(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}),
            "sysctl 'kernel.msgmax' is not a safe sysctl",
        ),
        (with_container(privileged=True), "container 'app' is privileged"),
        (
            with_container(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN", "NET_RAW"]}),
            "container 'app' adds capabilities ['NET_RAW', 'SYS_ADMIN']",
        ),
        (with_container(seccompProfile={"type": "Unconfined"}), "container 'app' seccompProfile is Unconfined"),
        (with_container(procMount="Unmasked"), "container 'app' procMount is 'Unmasked'"),
    ],
)
def test_baseline_refuses(spec, found):
    assert found in violations(spec, PodSecurityLevel.BASELINE)
    assert found in violations(spec, PodSecurityLevel.RESTRICTED)


def test_a_host_port_is_refused_by_baseline():
    spec = restricted_spec()
    spec["containers"][0]["ports"] = [{"containerPort": 80}, {"containerPort": 81, "hostPort": 8081}]
    assert violations(spec, PodSecurityLevel.BASELINE) == ["container 'app' uses a hostPort"]


def test_baseline_allows_what_only_restricted_forbids():
    spec = {
        "securityContext": {
            "sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65000"}],
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumes": [{"name": "nfs", "nfs": {"server": "x", "path": "/"}}],
        "containers": [
            {"name": "web", "securityContext": {"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]}}},
            {"name": "side", "securityContext": {"procMount": "Default"}},
        ],
    }
    assert baseline_violations(spec) == []


@pytest.mark.parametrize(
    ("spec", "found"),
    [
        (
            restricted_spec(volumes=[{"name": "nfs", "nfs": {"server": "x", "path": "/"}}]),
            "volume 'nfs' is of type ['nfs'], not allowed by restricted",
        ),
        (restricted_spec(securityContext={"runAsUser": 0}), "pod runAsUser is 0 (root)"),
        (
            with_container(allowPrivilegeEscalation=True),
            "container 'app' does not set allowPrivilegeEscalation: false",
        ),
        (with_container(runAsNonRoot=False), "container 'app' may run as root (runAsNonRoot is not true)"),
        (with_container(runAsUser=0), "container 'app' runAsUser is 0 (root)"),
        (
            with_container(seccompProfile={"type": "Other"}),
            "container 'app' has no RuntimeDefault or Localhost seccompProfile",
        ),
        (with_container(capabilities={"drop": ["NET_RAW"]}), "container 'app' does not drop ALL capabilities"),
        (
            with_container(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
            "container 'app' adds capabilities ['CHOWN'] (restricted allows NET_BIND_SERVICE)",
        ),
    ],
)
def test_restricted_refuses_what_baseline_allows(spec, found):
    assert found not in violations(spec, PodSecurityLevel.BASELINE)
    assert violations(spec, PodSecurityLevel.RESTRICTED) == [found]


def test_restricted_allows_every_volume_type_it_lists():
    kinds = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]
    spec = restricted_spec(volumes=[{"name": k.lower(), k: {}} for k in kinds])
    assert violations(spec, PodSecurityLevel.RESTRICTED) == []


def test_restricted_takes_non_root_and_seccomp_from_the_pod_when_the_container_is_silent():
    container = {
        "name": "app",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    pod = {"runAsNonRoot": True, "seccompProfile": {"type": "Localhost", "localhostProfile": "x.json"}}
    assert violations({"securityContext": pod, "containers": [container]}, PodSecurityLevel.RESTRICTED) == []
    assert violations({"containers": [container]}, PodSecurityLevel.RESTRICTED) == [
        "container 'app' may run as root (runAsNonRoot is not true)",
        "container 'app' has no RuntimeDefault or Localhost seccompProfile",
    ]


def test_a_pod_level_runtime_default_profile_covers_its_containers():
    container = {"name": "app", "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                                    "capabilities": {"drop": ["ALL"]}}}  # fmt: skip
    pod = {"seccompProfile": {"type": "RuntimeDefault"}}
    assert violations({"securityContext": pod, "containers": [container]}, PodSecurityLevel.RESTRICTED) == []


def test_a_volume_may_name_only_allowed_types_even_all_of_them():
    kinds = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]
    assert (
        violations(restricted_spec(volumes=[{"name": "all", **{k: {} for k in kinds}}]), PodSecurityLevel.RESTRICTED)
        == []
    )


def test_restricted_allows_net_bind_service_and_a_localhost_profile():
    spec = with_container(
        capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
        seccompProfile={"type": "Localhost", "localhostProfile": "x.json"},
    )
    assert violations(spec, PodSecurityLevel.RESTRICTED) == []


def test_init_and_ephemeral_containers_are_checked_too():
    spec = restricted_spec(
        initContainers=[{"name": "init", "securityContext": {"privileged": True}}],
        ephemeralContainers=[{"name": "debug", "securityContext": {"privileged": True}}],
    )
    assert violations(spec, PodSecurityLevel.BASELINE) == [
        "container 'init' is privileged",
        "container 'debug' is privileged",
    ]


def test_a_container_without_any_security_context_fails_restricted_on_each_rule():
    assert violations({"containers": [{"name": "bare"}]}, PodSecurityLevel.RESTRICTED) == [
        "container 'bare' does not set allowPrivilegeEscalation: false",
        "container 'bare' may run as root (runAsNonRoot is not true)",
        "container 'bare' has no RuntimeDefault or Localhost seccompProfile",
        "container 'bare' does not drop ALL capabilities",
    ]


def test_a_finding_reported_by_both_levels_is_listed_once():
    spec = with_container(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]})
    assert violations(spec, PodSecurityLevel.RESTRICTED) == [
        "container 'app' adds capabilities ['SYS_ADMIN']",
        "container 'app' adds capabilities ['SYS_ADMIN'] (restricted allows NET_BIND_SERVICE)",
    ]
    twice = restricted_spec(hostNetwork=True)
    twice["containers"].append(copy.deepcopy(RESTRICTED_CONTAINER))
    assert violations(twice, PodSecurityLevel.RESTRICTED) == ["hostNetwork is true"]
