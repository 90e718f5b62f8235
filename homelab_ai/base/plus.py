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

__all__ = ["container_resources", "k8s", "kplus"]


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
