"""A one-app chart for tests that run the real CLI (``--app tests.small_chart:build``) many times.

``SMALL_CHART_VARIANT`` (environment) changes the app's name, so two synths write different trees;
``CASE`` (set by an in-process test) adds one mistake to the chart.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import cdk8s

from homelab_ai import AppWorkload
from tests.factories import app_props, charts

# (infrastructure chart, ai chart) -> anything; set by tests/test_bad_input.py before each run.
CASE: Callable[[cdk8s.Chart, cdk8s.Chart], object] | None = None


def build() -> tuple[cdk8s.App, dict[str, str]]:
    app, infra, ai = charts()
    AppWorkload(ai, "W", app_props(name=os.environ.get("SMALL_CHART_VARIANT", "demo")))
    if CASE is not None:
        CASE(infra, ai)
    return app, {"infrastructure": "infrastructure", "ai": "ai"}
