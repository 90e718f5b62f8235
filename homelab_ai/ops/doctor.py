"""``homelab-ai doctor``: every expectation of the chart, probed in the live cluster, read-only.

Each probe reads through :class:`homelab_ai.ops.kubectl.Kubectl` (``kubectl get`` only) and
returns a Finding; one that cannot read what it needs (the cluster is unreachable, a kind is not
installed) fails with kubectl's message as the evidence instead of stopping the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster
from homelab_ai.ops.kubectl import KubectlError
from homelab_ai.ops.probes import PROBES, Probe
from homelab_ai.ops.report import Finding, Report, fail, warn


def examine(expectation: Expectation, cluster: Cluster, probes: Mapping[str, Probe] = PROBES) -> Finding:
    probe = probes.get(expectation.kind.id)
    if probe is None:
        return warn(
            expectation,
            f"this homelab-ai has no probe for check {expectation.kind.id!r}",
            fix="upgrade homelab-ai, or add the probe in homelab_ai/ops/probes/",
        )
    try:
        return probe(expectation, cluster)
    except KubectlError as exc:
        return fail(expectation, f"kubectl could not read it: {exc.message}")


def run_doctor(
    expectations: Sequence[Expectation],
    cluster: Cluster,
    *,
    app: str = "",
    probes: Mapping[str, Probe] = PROBES,
) -> Report:
    findings = [examine(e, cluster, probes) for e in expectations]
    return Report(findings=findings, context=cluster.kubectl.context, app=app)
