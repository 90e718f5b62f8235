"""A one-app chart for tests that run the real CLI (``--app tests.small_chart:build``) many times.

``SMALL_CHART_VARIANT`` (environment) changes the app's name, so two synths write different trees;
``CASE`` (set by an in-process test) or ``SMALL_CHART_CASE`` (environment, for a subprocess) builds a
chart with one mistake instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import cdk8s

from homelab_ai import AppWorkload, SharedGpu, SharedGpuProps
from homelab_ai.base.plus import k8s
from tests.factories import app_props, charts

# (infrastructure chart, ai chart) -> anything; set by tests/test_bad_input.py before each run.
CASE: Callable[[cdk8s.Chart, cdk8s.Chart], object] | None = None


def build() -> tuple[cdk8s.App, dict[str, str]]:
    """The one app; with a CASE, the case's chart instead (so its names cannot clash with the app's)."""
    app, infra, ai = charts()
    case = CASE or SUBPROCESS_CASES.get(os.environ.get("SMALL_CHART_CASE", ""))
    if case is None:
        AppWorkload(ai, "W", app_props(name=os.environ.get("SMALL_CHART_VARIANT", "demo")))
    else:
        case(infra, ai)
    return app, {"infrastructure": "infrastructure", "ai": "ai"}


def _nan_vram(infra: cdk8s.Chart, ai: cdk8s.Chart) -> None:
    SharedGpu(infra, "Gpu", SharedGpuProps(card="NVIDIA RTX 4090", vram_gib=float("nan")))


def _replicas_as_text(infra: cdk8s.Chart, ai: cdk8s.Chart) -> None:
    SharedGpu(infra, "Gpu", SharedGpuProps(card="NVIDIA RTX 4090", vram_gib=24, replicas="4"))


def _probe_on_an_undeclared_port(infra: cdk8s.Chart, ai: cdk8s.Chart) -> None:
    app = AppWorkload(ai, "W", app_props())
    # Patches apply to the typed objects before they become JSON: the port is an IntOrString there.
    port = k8s.IntOrString.from_number(9000)
    cdk8s.ApiObject.of(app.workload).add_json_patch(
        cdk8s.JsonPatch.replace("/spec/template/spec/containers/0/readinessProbe/httpGet/port", port)
    )


# Mistakes the subprocess tests pick with SMALL_CHART_CASE (one per class of bad input).
SUBPROCESS_CASES: dict[str, Callable[[cdk8s.Chart, cdk8s.Chart], object]] = {
    "nan-vram": _nan_vram,
    "replicas-as-text": _replicas_as_text,
    "probe-on-an-undeclared-port": _probe_on_an_undeclared_port,
}
