"""The synth validates in one pass: every check runs once, Python and JavaScript problems together."""

from __future__ import annotations

import cdk8s
import pytest

import homelab_ai.app_workload as app_workload_module
from homelab_ai import AppWorkload, LoadBalancer, SynthError
from homelab_ai.construct_validation import Validation
from homelab_ai.dist import render
from homelab_ai.plus import kplus
from tests.factories import app_props, charts

FOLDERS = {"infrastructure": "infra", "ai": "ai", "extra": "extra"}


def _three_charts() -> tuple[cdk8s.App, cdk8s.Chart, cdk8s.Chart]:
    app, infra, ai = charts()
    cdk8s.Chart(app, "extra", disable_resource_name_hashes=True)
    return app, infra, ai


def test_each_python_check_runs_once_per_render_although_cdk8s_validates_per_chart():
    app, infra, _ = _three_charts()
    runs: list[int] = []
    infra.node.add_validation(Validation(lambda: runs.append(1) or []))
    render(app, FOLDERS)
    assert len(runs) == 1


def test_python_check_outside_a_render_reports_to_its_caller():
    _, infra, _ = _three_charts()
    infra.node.add_validation(Validation(lambda: ["not good"]))
    assert infra.node.validate() == ["not good"]


def test_checks_written_in_javascript_refuse_the_synth_with_their_construct_path():
    app, _, ai = _three_charts()
    target = kplus.Deployment(ai, "Fixed", replicas=3, containers=[kplus.ContainerProps(image="x:1")])
    kplus.HorizontalPodAutoscaler(ai, "Hpa", target=target, max_replicas=5)
    with pytest.raises(SynthError, match=r"\[ai/Hpa\] HorizontalPodAutoscaler target cannot have a fixed number"):
        render(app, FOLDERS)


def test_python_and_javascript_problems_are_reported_together():
    app, infra, ai = _three_charts()
    infra.node.add_validation(Validation(lambda: ["python check failed"]))
    target = kplus.Deployment(ai, "Fixed", replicas=3, containers=[kplus.ContainerProps(image="x:1")])
    kplus.HorizontalPodAutoscaler(ai, "Hpa", target=target, max_replicas=5)
    with pytest.raises(SynthError) as refused:
        render(app, FOLDERS)
    assert refused.value.problems[0] == "python check failed"
    assert "HorizontalPodAutoscaler target cannot have a fixed number" in refused.value.problems[1]


def test_load_balancer_conflicts_are_checked_once_per_tree_not_per_exposed_workload(monkeypatch):
    calls: list[int] = []
    real = app_workload_module.conflicts

    def counting(exposures):
        calls.append(1)
        return real(exposures)

    monkeypatch.setattr(app_workload_module, "conflicts", counting)
    app, _, ai = _three_charts()
    for index in range(4):
        AppWorkload(ai, f"W{index}", app_props(f"web-{index}", expose=LoadBalancer(ip=f"10.0.0.{index + 1}")))
    render(app, FOLDERS)
    assert len(calls) == 1


def test_load_balancer_conflict_across_charts_is_reported_once():
    app, infra, ai = _three_charts()
    AppWorkload(ai, "A", app_props("first", expose=LoadBalancer(ip="10.10.2.25", port=80)))
    AppWorkload(infra, "B", app_props("second", expose=LoadBalancer(ip="10.10.2.25", port=80)))
    with pytest.raises(SynthError) as refused:
        render(app, FOLDERS)
    assert len([p for p in refused.value.problems if "both ask for 10.10.2.25:80" in p]) == 1


def _tree_walks_during_render(monkeypatch, exposed: int) -> int:
    import constructs

    walks: list[int] = []
    real = constructs.Node.find_all

    def counting(self, *args, **kwargs):
        walks.append(1)
        return real(self, *args, **kwargs)

    app, _, ai = _three_charts()
    for index in range(exposed):
        AppWorkload(ai, f"W{index}", app_props(f"web-{index}", expose=LoadBalancer(ip=f"10.0.0.{index + 1}")))
    with monkeypatch.context() as patch:
        patch.setattr(constructs.Node, "find_all", counting)
        render(app, FOLDERS)
    return len(walks)


def test_tree_walks_during_render_do_not_grow_with_exposed_workloads(monkeypatch):
    # A walk per exposed workload made validation quadratic in the number of apps.
    assert _tree_walks_during_render(monkeypatch, 1) == _tree_walks_during_render(monkeypatch, 6)
