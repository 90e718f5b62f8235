"""One probe per kind of check: ``(Expectation, Cluster) -> Finding``, by the kind's id.

A construct that adds expectations of a new kind (``doctor_expectations()``) adds its probe here,
in a module of its own whose ``PROBES`` is merged below.
"""

from __future__ import annotations

from collections.abc import Callable

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster
from homelab_ai.ops.probes import apps, arbiter, drills, flux, gpu, network, storage
from homelab_ai.ops.report import Finding

Probe = Callable[[Expectation, Cluster], Finding]

PROBES: dict[str, Probe] = {
    **gpu.PROBES,
    **storage.PROBES,
    **network.PROBES,
    **flux.PROBES,
    **apps.PROBES,
    **arbiter.PROBES,
    **drills.PROBES,
}
