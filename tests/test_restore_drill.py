"""RestoreDrill: the CronJob, its least-privilege RBAC, its NetworkPolicy, and the objects it makes at run time."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from homelab_ai import (
    ApiServerEgress,
    FileCount,
    HomelabConfigError,
    LonghornRecurringJob,
    LonghornRecurringJobProps,
    LonghornVolume,
    LonghornVolumeProps,
    RecurringTask,
    RestoreDrill,
    RestoreDrillProps,
    SecurityProfile,
    SqliteIntegrity,
)
from homelab_ai.cluster.pod_security import PodSecurityLevel, pod_spec, violations
from tests.factories import charts
from tests.helpers import synth


def backed_up(scope, name: str = "open-webui-data") -> LonghornVolume:
    return LonghornVolume(
        scope, f"Volume-{name}", LonghornVolumeProps(name=name, size_gib=10, backup_groups=("user-data",))
    )


def drill_objects(**overrides):
    app, infra, ai = charts()
    LonghornRecurringJob(
        infra,
        "Backups",
        LonghornRecurringJobProps(
            name="user-data-backup", task=RecurringTask.BACKUP, cron="0 3 * * *", groups=["user-data"], retain=7
        ),
    )
    values = dict(volume=backed_up(ai), check=SqliteIntegrity(file="webui.db"))
    values.update(overrides)
    drill = RestoreDrill(ai, "Drill", RestoreDrillProps(**values))
    return drill, synth(app)


@pytest.fixture(scope="module")
def rendered():
    return drill_objects()


def test_cron_job_runs_the_drill_weekly_with_its_service_account(rendered):
    _, objects = rendered
    cron = objects[("CronJob", "restore-drill-open-webui-data")]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron["spec"]["schedule"] == "30 4 * * 0"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert pod["serviceAccountName"] == "restore-drill-open-webui-data"
    assert pod["automountServiceAccountToken"] is True
    assert pod["containers"][0]["args"] == ["drill", "--config", "/opt/homelab-ai/drill.json"]


def test_drill_pods_meet_pod_security_restricted(rendered):
    drill, objects = rendered
    cron = objects[("CronJob", "restore-drill-open-webui-data")]
    check_job = drill.drill_config()["checkJob"]
    assert violations(pod_spec(cron), PodSecurityLevel.RESTRICTED) == []
    assert violations(pod_spec(check_job), PodSecurityLevel.RESTRICTED) == []


def test_check_runs_as_the_apps_user_with_a_read_only_root(rendered):
    _app, _infra, ai = charts()
    sd_user = SecurityProfile(run_as_user=1000, run_as_group=1000, fs_group=1000, read_only_root_filesystem=False)
    drill = RestoreDrill(
        ai, "Drill", RestoreDrillProps(volume=backed_up(ai, "sd-data"), check=FileCount(), security=sd_user)
    )
    pod = drill.drill_config()["checkJob"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["fsGroup"]) == (1000, 1000)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["command"][-2:] == ["--min-files", "1"]


def test_namespace_role_names_every_object_it_may_delete_or_change(rendered):
    _, objects = rendered
    rules = objects[("Role", "restore-drill-open-webui-data")]["rules"]
    granted = {(r["resources"][0], v, tuple(r.get("resourceNames") or ())) for r in rules for v in r["verbs"]}
    assert granted == {
        ("persistentvolumeclaims", "get", ("open-webui-data", "restore-drill-open-webui-data-scratch")),
        ("persistentvolumeclaims", "create", ()),
        ("persistentvolumeclaims", "delete", ("restore-drill-open-webui-data-scratch",)),
        ("jobs", "create", ()),
        ("jobs", "get", ("restore-drill-open-webui-data-check",)),
        ("jobs", "delete", ("restore-drill-open-webui-data-check",)),
        ("pods", "list", ()),
        ("configmaps", "create", ()),
        ("configmaps", "update", ("restore-drill-open-webui-data-result",)),
    }


def test_longhorn_role_only_lists_backups_and_is_bound_to_the_drills_account(rendered):
    _, objects = rendered
    role = objects[("Role", "restore-drill-open-webui-data-backups")]
    binding = objects[("RoleBinding", "restore-drill-open-webui-data-backups")]
    assert role["metadata"]["namespace"] == "longhorn-system"
    assert role["rules"] == [{"apiGroups": ["longhorn.io"], "resources": ["backups"], "verbs": ["list"]}]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "restore-drill-open-webui-data", "namespace": "ai"}
    ]


def test_cluster_role_creates_storage_classes_and_deletes_only_its_own(rendered):
    _, objects = rendered
    role = objects[("ClusterRole", "restore-drill-open-webui-data.ai")]
    binding = objects[("ClusterRoleBinding", "restore-drill-open-webui-data.ai")]
    assert "namespace" not in role["metadata"] and "namespace" not in binding["metadata"]
    assert role["rules"] == [
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["create"]},
        {
            "apiGroups": ["storage.k8s.io"],
            "resourceNames": ["restore-drill-open-webui-data.ai"],
            "resources": ["storageclasses"],
            "verbs": ["delete"],
        },
    ]


def test_network_policy_lets_the_drill_reach_only_dns_and_the_api_server(rendered):
    _, objects = rendered
    spec = objects[("NetworkPolicy", "restore-drill-open-webui-data")]["spec"]
    assert spec["ingress"] == []
    assert spec["egress"][0]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert spec["egress"][1:] == [
        {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
            "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
        }
    ]


def test_api_server_egress_can_be_narrowed_to_the_control_plane():
    _, objects = drill_objects(api_server=ApiServerEgress(cidr="10.10.0.10/32", ports=(6443,)))
    egress = objects[("NetworkPolicy", "restore-drill-open-webui-data")]["spec"]["egress"]
    assert egress[1:] == [
        {"to": [{"ipBlock": {"cidr": "10.10.0.10/32"}}], "ports": [{"port": 6443, "protocol": "TCP"}]}
    ]


def test_scratch_class_restores_with_one_replica_and_deletes_its_volume(rendered):
    drill, _ = rendered
    storage_class = drill.drill_config()["storageClass"]
    assert storage_class["provisioner"] == "driver.longhorn.io"
    assert storage_class["reclaimPolicy"] == "Delete"
    assert storage_class["parameters"] == {"numberOfReplicas": "1", "staleReplicaTimeout": "30", "fsType": "ext4"}


def test_objects_the_drill_makes_at_run_time_are_valid_kubernetes_objects(rendered):
    drill, _ = rendered
    config = drill.drill_config()
    for key in ("storageClass", "scratchClaim", "checkJob", "resultConfigMap"):
        kubernetes_validate.validate(config[key], kubernetes_validate.latest_version(), strict=True)
    storage_class = dict(
        config["storageClass"],
        parameters={**config["storageClass"]["parameters"], "fromBackup": "s3://b@r/?backup=x&volume=y"},
    )
    kubernetes_validate.validate(storage_class, kubernetes_validate.latest_version(), strict=True)


def test_config_map_ships_the_program_and_the_drills_json(rendered):
    drill, objects = rendered
    data = objects[("ConfigMap", "restore-drill-open-webui-data")]["data"]
    assert data["longhorn_jobs.py"].startswith("#!/usr/bin/env python3")
    assert json.loads(data["drill.json"]) == drill.drill_config()


def test_drill_of_a_claim_without_backups_is_refused():
    _app, _infra, ai = charts()
    volume = LonghornVolume(ai, "Scratch", LonghornVolumeProps(name="ollama-models", size_gib=100))
    with pytest.raises(HomelabConfigError) as error:
        RestoreDrillProps(volume=volume, check=FileCount())
    assert error.value.field == "RestoreDrillProps.volume"
    assert "is in no backup group" in str(error.value)


def test_drill_check_must_be_one_of_the_two_kinds():
    _app, _infra, ai = charts()
    with pytest.raises(HomelabConfigError) as error:
        RestoreDrillProps(volume=backed_up(ai), check="sqlite")
    assert error.value.field == "RestoreDrillProps.check"


def test_drill_name_too_long_for_its_jobs_is_refused():
    _app, _infra, ai = charts()
    with pytest.raises(HomelabConfigError) as error:
        RestoreDrillProps(volume=backed_up(ai), check=FileCount(), name="a" * 47)
    assert error.value.field == "RestoreDrillProps.name"


def test_sqlite_path_must_stay_inside_the_volume():
    with pytest.raises(HomelabConfigError) as error:
        SqliteIntegrity(file="../etc/passwd")
    assert error.value.field == "SqliteIntegrity.file"


def test_drill_in_a_chart_without_a_namespace_is_refused():
    _app, infra, ai = charts()
    with pytest.raises(HomelabConfigError) as error:
        RestoreDrill(infra, "Drill", RestoreDrillProps(volume=backed_up(ai), check=FileCount()))
    assert error.value.field == "RestoreDrill(scope)"
