"""The synth validates in one pass: every check runs once, Python and JavaScript problems together."""

from __future__ import annotations

import cdk8s
import pytest

import homelab_ai.cluster.app_workload as app_workload_module
import homelab_ai.cluster.hardening as hardening_module
from homelab_ai import (
    AppWorkload,
    LoadBalancer,
    LonghornRecurringJob,
    LonghornRecurringJobProps,
    LonghornVolume,
    LonghornVolumeProps,
    RecurringTask,
    SynthError,
)
from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.plus import kplus
from homelab_ai.synth.dist import render
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
    # Two exposed workloads tell one check per tree (1 call) from one per workload (2) or per chart (3).
    for index in range(2):
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


def _tree_walks_during_render(monkeypatch, exposed: int = 0, backed_up: int = 0) -> int:
    import constructs

    walks: list[int] = []
    real = constructs.Node.find_all

    def counting(self, *args, **kwargs):
        walks.append(1)
        return real(self, *args, **kwargs)

    app, infra, ai = _three_charts()
    for index in range(exposed):
        AppWorkload(ai, f"W{index}", app_props(f"web-{index}", expose=LoadBalancer(ip=f"10.0.0.{index + 1}")))
    if backed_up:
        LonghornRecurringJob(
            infra,
            "Backups",
            LonghornRecurringJobProps(
                name="backups", task=RecurringTask.BACKUP, cron="0 3 * * *", groups=["user-data"], retain=7
            ),
        )
    for index in range(backed_up):
        LonghornVolume(
            ai, f"V{index}", LonghornVolumeProps(name=f"data-{index}", size_gib=1, backup_groups=["user-data"])
        )
    with monkeypatch.context() as patch:
        patch.setattr(constructs.Node, "find_all", counting)
        render(app, FOLDERS)
    return len(walks)


def test_tree_walks_during_render_do_not_grow_with_exposed_workloads(monkeypatch):
    # A walk per exposed workload made validation quadratic in the number of apps.
    assert _tree_walks_during_render(monkeypatch, exposed=1) == _tree_walks_during_render(monkeypatch, exposed=6)


def test_tree_walks_during_render_do_not_grow_with_backed_up_volumes(monkeypatch):
    # Each backed-up volume walked the tree to find the recurring jobs of its groups.
    assert _tree_walks_during_render(monkeypatch, backed_up=1) == _tree_walks_during_render(monkeypatch, backed_up=6)


def test_volumes_in_groups_without_a_job_are_each_reported_across_charts():
    app, infra, ai = _three_charts()
    LonghornVolume(ai, "A", LonghornVolumeProps(name="chats", size_gib=1, backup_groups=["nightly"]))
    LonghornVolume(infra, "B", LonghornVolumeProps(name="images", size_gib=1, backup_groups=["weekly"]))
    with pytest.raises(SynthError) as refused:
        render(app, FOLDERS)
    reported = sorted(p for p in refused.value.problems if "LonghornVolumeProps.backup_groups" in p)
    assert len(reported) == 2
    assert "volume 'chats' is in group 'nightly'" in reported[0]
    assert "volume 'images' is in group 'weekly'" in reported[1]


def test_pods_are_checked_for_unhardened_containers_by_one_check_per_tree(monkeypatch):
    created: list[int] = []
    real = hardening_module.Validation

    def counting(check):
        created.append(1)
        return real(check)

    monkeypatch.setattr(hardening_module, "Validation", counting)
    app, _, ai = _three_charts()
    # Two pods tell one check per tree (1 created) from one per pod (2).
    for index in range(2):
        AppWorkload(ai, f"W{index}", app_props(f"web-{index}"))
    render(app, FOLDERS)
    assert len(created) == 1


def test_an_unhardened_container_is_reported_in_every_pod_of_the_tree():
    app, infra, ai = _three_charts()
    for chart, name in ((ai, "first"), (infra, "second")):
        AppWorkload(chart, "W", app_props(name)).workload.add_container(name="sidecar", image="example/sidecar:1.0")
    with pytest.raises(SynthError) as refused:
        render(app, FOLDERS)
    reported = [p for p in refused.value.problems if "container 'sidecar' (spec.containers) is not hardened" in p]
    assert sorted(p.split(":")[0] for p in reported) == ["ai/W/Workload", "infrastructure/W/Workload"]


def test_a_plaintext_secret_is_reported_with_the_problems_of_a_failed_validation():
    app, infra, ai = _three_charts()
    infra.node.add_validation(Validation(lambda: ["python check failed"]))
    kplus.Secret(ai, "Creds", metadata=cdk8s.ApiObjectMetadata(name="creds"), string_data={"TOKEN": "x"})
    with pytest.raises(SynthError) as refused:
        render(app, FOLDERS)
    assert refused.value.problems[0] == "python check failed"
    assert "Secret 'creds' would be written to dist/ in plaintext" in refused.value.problems[1]
