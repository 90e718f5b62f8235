"""Pod Security admission: the namespace enforces the strictest level its pods meet, and the synth holds them to it."""

from __future__ import annotations

import cdk8s
import pytest

from homelab_ai import (
    AppWorkload,
    HomelabConfigError,
    PodSecurityLevel,
    SecureNamespace,
    SecureNamespaceProps,
    SecurityProfile,
    SynthError,
)
from homelab_ai.base.plus import k8s
from homelab_ai.cluster.pod_security import violations
from tests.factories import app_props, charts
from tests.helpers import synth


def test_ai_namespace_enforces_restricted_and_warns_and_audits_restricted(homelab_objects):
    labels = homelab_objects[("Namespace", "ai")]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"


def test_a_root_pod_in_a_restricted_namespace_refuses_the_synth():
    app, cluster, ai = charts()
    SecureNamespace(cluster, "Ns", SecureNamespaceProps(name="ai"))
    AppWorkload(ai, "W", app_props(security=SecurityProfile(run_as_user=0, root_reason="legacy image")))
    with pytest.raises(SynthError, match=r"SecureNamespaceProps.enforce: Deployment 'demo' .* breaks Pod Security"):
        synth(app)


def test_baseline_admits_a_root_pod_without_capabilities():
    app, cluster, ai = charts()
    SecureNamespace(cluster, "Ns", SecureNamespaceProps(name="ai", enforce=PodSecurityLevel.BASELINE))
    AppWorkload(ai, "W", app_props(security=SecurityProfile(run_as_user=0, root_reason="legacy image")))
    labels = synth(app)[("Namespace", "ai")]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_pods_of_other_namespaces_are_not_its_business():
    app, cluster, _ = charts()
    SecureNamespace(cluster, "Ns", SecureNamespaceProps(name="ai"))
    other = cdk8s.Chart(app, "other", namespace="other")
    k8s.KubePod(other, "P", spec=k8s.PodSpec(containers=[k8s.Container(name="c", image="x:1")], host_network=True))
    assert ("Namespace", "ai") in synth(app)


def test_namespace_must_live_in_a_chart_without_namespace():
    _, _, ai = charts()
    with pytest.raises(HomelabConfigError, match=r"SecureNamespace\(scope\): a Namespace is cluster-scoped"):
        SecureNamespace(ai, "Ns", SecureNamespaceProps(name="ai"))


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"hostNetwork": True, "containers": []}, "hostNetwork is true"),
        ({"containers": [], "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, "is a hostPath"),
        ({"containers": [{"name": "c", "securityContext": {"privileged": True}}]}, "'c' is privileged"),
        (
            {"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]},
            "adds capabilities ['SYS_ADMIN']",
        ),
        ({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}]}, "uses a hostPort"),
    ],
)
def test_baseline_violations_are_found(spec, problem):
    assert any(problem in v for v in violations(spec, PodSecurityLevel.BASELINE))


def test_restricted_wants_non_root_seccomp_no_escalation_and_no_capabilities():
    found = " | ".join(violations({"containers": [{"name": "c"}]}, PodSecurityLevel.RESTRICTED))
    for problem in ("allowPrivilegeEscalation", "may run as root", "seccompProfile", "drop ALL"):
        assert problem in found
    assert violations({"containers": [{"name": "c"}]}, PodSecurityLevel.PRIVILEGED) == []
