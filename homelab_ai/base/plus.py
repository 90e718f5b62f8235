"""The one place homelab-ai imports cdk8s-plus.

cdk8s-plus-27 is no longer maintained upstream; moving to a newer ``cdk8s-plus-3x`` means
changing the import below (and whatever its API renamed), nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cdk8s
import cdk8s_plus_27 as kplus
from cdk8s_plus_27 import k8s

if TYPE_CHECKING:
    from homelab_ai.base.values import ComputeResources

__all__ = ["container_resources", "k8s", "kplus", "resource_requirements"]


def container_resources(res: ComputeResources) -> kplus.ContainerResources:
    """cdk8s-plus requests and limits from a ComputeResources (millicores, MiB)."""
    return kplus.ContainerResources(
        cpu=kplus.CpuResources(
            request=kplus.Cpu.millis(round(res.cpu_request * 1000)),
            limit=kplus.Cpu.millis(round(res.cpu_limit * 1000)),
        ),
        memory=kplus.MemoryResources(
            request=cdk8s.Size.mebibytes(round(res.memory_request_gib * 1024)),
            limit=cdk8s.Size.mebibytes(round(res.memory_limit_gib * 1024)),
        ),
    )


def resource_requirements(res: ComputeResources) -> k8s.ResourceRequirements:
    """The L1 (``k8s``) requests and limits of a ComputeResources, for containers built without cdk8s-plus."""
    quantities = res.quantities()
    return k8s.ResourceRequirements(
        requests={k: k8s.Quantity.from_string(v) for k, v in quantities["requests"].items()},
        limits={k: k8s.Quantity.from_string(v) for k, v in quantities["limits"].items()},
    )
