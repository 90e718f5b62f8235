"""Least privilege: every container of the chart, and any pod or container other constructs add."""

from __future__ import annotations

import cdk8s
import pytest

from homelab_ai import (
    AppWorkload,
    HomelabConfigError,
    ScratchDir,
    SecurityProfile,
    SynthError,
    harden_container,
    harden_pod,
)
from homelab_ai.base.plus import kplus
from homelab_ai.cluster.pod_security import PodSecurityLevel, pod_spec, violations
from homelab_ai.services.open_webui.open_webui import STATIC_DIR
from tests.factories import app_props, charts
from tests.helpers import container, env_of, synth

RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _pods(objects: dict) -> dict[tuple[str, str], dict]:
    return {key: spec for key, obj in objects.items() if (spec := pod_spec(obj)) is not None}


def _all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def test_every_pod_of_the_chart_meets_the_restricted_standard(homelab_objects):
    pods = _pods(homelab_objects)
    # ollama, open-webui, stable-diffusion, the VRAM arbiter, the model-pull Job, the pre-upgrade Job
    # and two restore drills
    assert len(pods) == 8
    assert {key: violations(spec, PodSecurityLevel.RESTRICTED) for key, spec in pods.items()} == {
        key: [] for key in pods
    }


def test_every_container_drops_all_capabilities_with_seccomp_and_no_escalation(homelab_objects):
    # Only the Longhorn chores call the API (their Roles name what they may touch).
    calls_the_api = {
        key for key, spec in _pods(homelab_objects).items() if spec["automountServiceAccountToken"] is not False
    }
    assert {name for _, name in calls_the_api} == {
        "restore-drill-open-webui-data",
        "restore-drill-sd-data",
        next(name for kind, name in homelab_objects if kind == "Job" and name.startswith("open-webui-pre-upgrade-")),
    }
    for key, spec in _pods(homelab_objects).items():
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, key
        for c in _all_containers(spec):
            assert RESTRICTED_CONTAINER.items() <= c["securityContext"].items(), (key, c["name"])


@pytest.mark.parametrize(("key", "uid"), [(("StatefulSet", "ollama"), 10001), (("Deployment", "open-webui"), 10001)])
def test_ollama_and_open_webui_run_as_a_high_uid_on_a_read_only_root(homelab_objects, key, uid):
    spec = pod_spec(homelab_objects[key])
    assert spec["securityContext"]["runAsUser"] == uid
    assert spec["securityContext"]["fsGroup"] == uid
    for c in _all_containers(spec):
        assert c["securityContext"]["runAsUser"] == uid
        assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_stable_diffusion_is_the_one_documented_exception(homelab_objects):
    """UID 1000 (the image's own user) and a writable root: the two skips of .checkov.yaml."""
    writable = {
        key
        for key, spec in _pods(homelab_objects).items()
        for c in _all_containers(spec)
        if not c["securityContext"]["readOnlyRootFilesystem"]
    }
    assert writable == {("Deployment", "stable-diffusion")}
    sd = container(homelab_objects[("Deployment", "stable-diffusion")])["securityContext"]
    assert (sd["runAsUser"], sd["runAsGroup"], sd["runAsNonRoot"]) == (1000, 1000, True)


@pytest.mark.parametrize("key", [("StatefulSet", "ollama"), ("Deployment", "open-webui")])
def test_read_only_apps_have_home_and_tmp_on_emptydirs(homelab_objects, key):
    obj = homelab_objects[key]
    spec = pod_spec(obj)
    mounts = {m["mountPath"]: m["name"] for m in container(obj)["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert env_of(obj)["HOME"]["value"] == "/tmp"


def test_open_webui_static_folder_is_an_emptydir_seeded_from_the_image(homelab_objects):
    obj = homelab_objects[("Deployment", "open-webui")]
    spec = pod_spec(obj)
    (seed,) = spec["initContainers"]
    assert seed["image"] == container(obj)["image"]
    assert seed["volumeMounts"] == [{"mountPath": "/seed", "name": "static"}]
    assert seed["command"][-1] == f"cp -R {STATIC_DIR}/. /seed/"
    assert {"mountPath": STATIC_DIR, "name": "static"} in container(obj)["volumeMounts"]
    assert {"name": "static", "emptyDir": {}} in spec["volumes"]


def _job(profile: SecurityProfile = SecurityProfile()) -> tuple[cdk8s.App, kplus.Job]:
    app, _, ai = charts()
    job = kplus.Job(ai, "Pull", metadata=cdk8s.ApiObjectMetadata(name="pull"))
    job.add_container(name="pull", image="example/pull:1.0")
    return app, job


def test_harden_pod_hardens_a_job_and_its_containers():
    app, job = _job()
    harden_pod(job)
    spec = synth(app)[("Job", "pull")]["spec"]["template"]["spec"]
    assert violations(spec, PodSecurityLevel.RESTRICTED) == []
    assert spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["containers"][0]["volumeMounts"] == [{"mountPath": "/tmp", "name": "tmp"}]


def test_harden_pod_reaches_a_cronjob_pod_spec():
    app, _, ai = charts()
    cron = kplus.CronJob(ai, "Nightly", metadata=cdk8s.ApiObjectMetadata(name="nightly"), schedule=cdk8s.Cron.daily())
    cron.add_container(name="work", image="example/work:1.0")
    harden_pod(cron)
    spec = synth(app)[("CronJob", "nightly")]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert violations(spec, PodSecurityLevel.RESTRICTED) == []


def test_a_sidecar_added_later_is_hardened_with_one_call():
    app, _, ai = charts()
    workload = AppWorkload(ai, "W", app_props())
    sidecar = workload.workload.add_container(name="idle-watch", image="example/idle:1.0")
    harden_container(workload.workload, sidecar, scratch=(ScratchDir(name="tmp", path="/tmp"),))
    spec = synth(app)[("Deployment", "demo")]["spec"]["template"]["spec"]
    assert spec["containers"][1]["securityContext"] == spec["containers"][0]["securityContext"]
    assert [v["name"] for v in spec["volumes"]].count("tmp") == 1


def test_an_init_container_is_hardened_with_its_own_scratch_dir():
    app, _, ai = charts()
    workload = AppWorkload(ai, "W", app_props())
    init = workload.workload.add_init_container(name="fetch", image="example/fetch:1.0")
    harden_container(workload.workload, init, scratch=(ScratchDir(name="download", path="/download"),))
    spec = synth(app)[("Deployment", "demo")]["spec"]["template"]["spec"]
    assert RESTRICTED_CONTAINER.items() <= spec["initContainers"][0]["securityContext"].items()
    assert {"name": "download", "emptyDir": {}} in spec["volumes"]


def test_a_container_added_without_hardening_refuses_the_synth():
    app, _, ai = charts()
    workload = AppWorkload(ai, "W", app_props())
    workload.workload.add_container(name="forgotten", image="example/x:1.0")
    with pytest.raises(
        SynthError, match=r"container 'forgotten' \(spec.containers\) is not hardened; call .*harden_container"
    ):
        synth(app)


def test_harden_container_needs_a_hardened_pod():
    _, job = _job()
    with pytest.raises(HomelabConfigError, match=r"harden_container\(.*\): the pod is not hardened"):
        harden_container(job, job.containers[0])


def test_root_needs_a_written_reason():
    with pytest.raises(HomelabConfigError, match=r"SecurityProfile.run_as_user: 0 runs the container as root"):
        SecurityProfile(run_as_user=0)


def test_root_with_a_reason_is_rendered_honestly():
    app, job = _job()
    harden_pod(job, SecurityProfile(run_as_user=0, run_as_group=0, root_reason="image needs it"))
    spec = synth(app)[("Job", "pull")]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is False
    c = spec["containers"][0]["securityContext"]
    assert (c["runAsUser"], c["runAsNonRoot"], c["capabilities"]) == (0, False, {"drop": ["ALL"]})
    assert "may run as root" in " ".join(violations(spec, PodSecurityLevel.RESTRICTED))
    assert violations(spec, PodSecurityLevel.BASELINE) == []


def test_a_pod_is_hardened_once():
    _, job = _job()
    harden_pod(job)
    with pytest.raises(HomelabConfigError, match="already hardened"):
        harden_pod(job)
