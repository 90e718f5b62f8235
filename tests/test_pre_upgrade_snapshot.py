"""PreUpgradeSnapshot: a Job per image that snapshots the app's claims, ordered by Flux before the app."""

from __future__ import annotations

import copy

import attrs
import cdk8s
import pytest

from homelab_ai import (
    ContainerImage,
    FluxKustomization,
    FluxKustomizationProps,
    HomelabConfigError,
    LonghornVolume,
    LonghornVolumeProps,
    PreUpgradeSnapshot,
    PreUpgradeSnapshotProps,
)
from homelab_ai.cluster.pod_security import PodSecurityLevel, pod_spec, violations
from homelab_ai.synth.dist import collect_problems
from tests.factories import charts
from tests.helpers import synth

IMAGE = ContainerImage(repository="ghcr.io/open-webui/open-webui", tag="v0.6.5")


def build(image: ContainerImage = IMAGE, *, wait: bool = True, depends: bool = True):
    app, infra, ai = charts()
    volume = LonghornVolume(ai, "Data", LonghornVolumeProps(name="open-webui-data", size_gib=10))
    snapshot = PreUpgradeSnapshot(
        infra, "PreUpgrade", PreUpgradeSnapshotProps(name="open-webui-pre-upgrade", volumes=[volume], image=image)
    )
    flux = cdk8s.Chart(app, "flux", disable_resource_name_hashes=True)
    first = FluxKustomization(
        flux, "Infra", FluxKustomizationProps(name="infrastructure", folder="out", charts=[infra], wait=wait)
    )
    FluxKustomization(
        flux,
        "Apps",
        FluxKustomizationProps(name="apps", folder="out", charts=[ai], depends_on=[first] if depends else []),
    )
    return app, snapshot


def job_of(objects: dict) -> dict:
    (job,) = [o for (kind, _), o in objects.items() if kind == "Job"]
    return job


@attrs.frozen
class Built:
    """``build()`` with its defaults, built and synthesized once for the tests that only read it."""

    app: cdk8s.App
    snapshot: PreUpgradeSnapshot
    objects: dict


@pytest.fixture(scope="module")
def _default() -> Built:
    app, snapshot = build()
    return Built(app, snapshot, synth(app))


@pytest.fixture
def default(_default) -> Built:
    """Each test gets its own copy of the synthesized objects."""
    return attrs.evolve(_default, objects=copy.deepcopy(_default.objects))


def test_job_name_carries_a_hash_of_the_image(default):
    snapshot = default.snapshot
    assert job_of(default.objects)["metadata"]["name"] == snapshot.job_name
    assert snapshot.job_name.startswith("open-webui-pre-upgrade-") and len(snapshot.job_name) == 31


def test_a_new_tag_makes_a_new_job_and_a_new_snapshot(default):
    old = default.snapshot
    _, new = build(ContainerImage(repository="ghcr.io/open-webui/open-webui", tag="v0.12.4"))
    _, same = build()
    assert new.job_name != old.job_name and new.snapshots != old.snapshots
    assert (same.job_name, same.snapshots) == (old.job_name, old.snapshots)


def test_job_runs_in_longhorns_namespace_and_names_its_claims_and_snapshots(default):
    snapshot = default.snapshot
    job = job_of(default.objects)
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert job["metadata"]["namespace"] == "longhorn-system"
    assert args[:3] == ["snapshot", "--namespace", "ai"]
    assert args[args.index("--claim") + 1] == "open-webui-data"
    assert args[args.index("--snapshot") + 1] == snapshot.snapshots[0]
    assert args[args.index("--image") + 1] == "ghcr.io/open-webui/open-webui:v0.6.5"
    assert job["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/force"] == "enabled"


def test_job_pod_meets_pod_security_restricted(default):
    assert violations(pod_spec(job_of(default.objects)), PodSecurityLevel.RESTRICTED) == []


def test_role_reads_volumes_and_creates_and_reads_only_its_snapshots(default):
    snapshot = default.snapshot
    role = default.objects[("Role", "open-webui-pre-upgrade")]
    assert role["metadata"]["namespace"] == "longhorn-system"
    granted = {(r["resources"][0], v, tuple(r.get("resourceNames") or ())) for r in role["rules"] for v in r["verbs"]}
    assert granted == {
        ("volumes", "list", ()),
        ("snapshots", "create", ()),
        ("snapshots", "get", tuple(snapshot.snapshots)),
    }


def test_flux_wiring_that_applies_it_first_passes(default):
    assert collect_problems(default.app) == []


def test_flux_kustomization_that_does_not_wait_is_refused():
    app, _ = build(wait=False)
    problems = collect_problems(app)
    assert any("FluxKustomization 'infrastructure' applies it without wait=True" in p for p in problems)


def test_apps_that_do_not_depend_on_the_snapshot_are_refused():
    app, _ = build(depends=False)
    problems = collect_problems(app)
    assert any("which does not depend on 'infrastructure'" in p for p in problems)


def test_snapshot_in_a_namespaced_chart_is_refused():
    _app, _infra, ai = charts()
    volume = LonghornVolume(ai, "Data", LonghornVolumeProps(name="open-webui-data", size_gib=10))
    with pytest.raises(HomelabConfigError) as error:
        PreUpgradeSnapshot(ai, "X", PreUpgradeSnapshotProps(name="x", volumes=[volume], image=IMAGE))
    assert error.value.field == "PreUpgradeSnapshot(scope)"


def test_no_volume_is_refused():
    with pytest.raises(HomelabConfigError) as error:
        PreUpgradeSnapshotProps(name="x", volumes=[], image=IMAGE)
    assert error.value.field == "PreUpgradeSnapshotProps.volumes"


def test_homelab_snapshots_open_webui_before_flux_applies_the_apps(homelab_objects):
    job = next(o for (kind, name), o in homelab_objects.items() if kind == "Job" and name.startswith("open-webui-pre"))
    apps = homelab_objects[("Kustomization", "homelab-ai-apps")]
    infra = homelab_objects[("Kustomization", "homelab-ai-infrastructure")]
    assert (
        job["metadata"]["annotations"]["homelab-ai/image"]
        == homelab_objects[("Deployment", "open-webui")]["spec"]["template"]["spec"]["containers"][0]["image"]
    )
    assert infra["spec"]["wait"] is True
    assert apps["spec"]["dependsOn"] == [{"name": "homelab-ai-infrastructure"}]
