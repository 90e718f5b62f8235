"""User data survives a GitOps prune (annotation), a deleted claim (Retain class) and a lost node (backups)."""

from __future__ import annotations

import pytest

from homelab_ai import (
    DataLocality,
    HomelabConfigError,
    LonghornRecurringJob,
    LonghornRecurringJobProps,
    LonghornStorageClass,
    LonghornStorageClassProps,
    LonghornVolume,
    LonghornVolumeProps,
    RecurringTask,
    SynthError,
)
from tests.factories import charts
from tests.helpers import synth

PRUNE = "kustomize.toolkit.fluxcd.io/prune"
USER_DATA = ["open-webui-data", "sd-data"]


@pytest.mark.parametrize("claim", ["ollama-models", "open-webui-data", "sd-data"])
def test_every_claim_is_protected_from_flux_prune(homelab_objects, claim):
    assert homelab_objects[("PersistentVolumeClaim", claim)]["metadata"]["annotations"][PRUNE] == "disabled"


@pytest.mark.parametrize("claim", USER_DATA)
def test_user_data_claims_carry_the_labels_longhorn_selects_on(homelab_objects, claim):
    labels = homelab_objects[("PersistentVolumeClaim", claim)]["metadata"]["labels"]
    assert labels["recurring-job.longhorn.io/source"] == "enabled"
    assert labels["recurring-job-group.longhorn.io/user-data"] == "enabled"


@pytest.mark.parametrize("claim", USER_DATA)
def test_user_data_claims_use_the_retain_class(homelab_objects, claim):
    assert homelab_objects[("PersistentVolumeClaim", claim)]["spec"]["storageClassName"] == "longhorn-retain"


def test_models_that_can_be_pulled_again_are_not_backed_up(homelab_objects):
    assert "labels" not in homelab_objects[("PersistentVolumeClaim", "ollama-models")]["metadata"]


def test_retain_class_is_cluster_scoped_with_three_replicas(homelab_objects, homelab_files):
    sc = homelab_objects[("StorageClass", "longhorn-retain")]
    assert "namespace" not in sc["metadata"]
    assert (sc["provisioner"], sc["reclaimPolicy"]) == ("driver.longhorn.io", "Retain")
    assert sc["parameters"]["numberOfReplicas"] == "3"
    assert "infrastructure/storageclass-longhorn-retain.yaml" in {f.path for f in homelab_files}


def test_user_data_is_snapshotted_hourly_and_backed_up_daily(homelab_objects, homelab_files):
    jobs = {name: obj for (kind, name), obj in homelab_objects.items() if kind == "RecurringJob"}
    assert {name: (j["spec"]["task"], j["spec"]["cron"], j["spec"]["groups"]) for name, j in jobs.items()} == {
        "user-data-snapshot": ("snapshot", "0 * * * *", ["user-data"]),
        "user-data-backup": ("backup", "0 3 * * *", ["user-data"]),
    }
    for job in jobs.values():
        assert job["apiVersion"] == "longhorn.io/v1beta2"
        assert job["metadata"]["namespace"] == "longhorn-system"
    assert {f.path for f in homelab_files} >= {
        "infrastructure/recurringjob-user-data-snapshot.yaml",
        "infrastructure/recurringjob-user-data-backup.yaml",
    }


def test_replica_count_is_settable_for_a_single_node_cluster():
    app, infra, _ = charts()
    LonghornStorageClass(infra, "Sc", LonghornStorageClassProps(name="single", number_of_replicas=1))
    assert synth(app)[("StorageClass", "single")]["parameters"]["numberOfReplicas"] == "1"


def test_storage_class_defaults_to_retain_and_three_replicas():
    props = LonghornStorageClassProps()
    assert (props.reclaim_policy.value, props.number_of_replicas) == ("Retain", 3)


def test_storage_class_refuses_a_namespaced_chart():
    _, _, ai = charts()
    with pytest.raises(HomelabConfigError, match=r"LonghornStorageClass\(scope\)"):
        LonghornStorageClass(ai, "Sc")


def test_strict_local_needs_one_replica():
    with pytest.raises(HomelabConfigError, match=r"LonghornStorageClassProps.number_of_replicas"):
        LonghornStorageClassProps(data_locality=DataLocality.STRICT_LOCAL)


def test_prune_protection_can_be_turned_off_for_scratch_volumes():
    app, _, ai = charts()
    LonghornVolume(ai, "V", LonghornVolumeProps(name="cache", size_gib=1, protect_from_prune=False))
    assert "annotations" not in synth(app)[("PersistentVolumeClaim", "cache")]["metadata"]


def test_a_backup_group_without_a_job_refuses_the_synth():
    app, _, ai = charts()
    LonghornVolume(ai, "V", LonghornVolumeProps(name="chats", size_gib=1, backup_groups=["user-dta"]))
    with pytest.raises(SynthError, match=r"LonghornVolumeProps.backup_groups: volume 'chats' is in group 'user-dta'"):
        synth(app)


def test_a_volume_joins_every_group_it_names():
    app, infra, ai = charts()
    for group in ("hourly", "weekly"):
        LonghornRecurringJob(
            infra,
            group,
            LonghornRecurringJobProps(
                name=group, task=RecurringTask.SNAPSHOT, cron="0 * * * *", groups=[group], retain=3
            ),
        )
    LonghornVolume(ai, "V", LonghornVolumeProps(name="chats", size_gib=1, backup_groups=["hourly", "weekly"]))
    labels = synth(app)[("PersistentVolumeClaim", "chats")]["metadata"]["labels"]
    assert labels == {
        "recurring-job.longhorn.io/source": "enabled",
        "recurring-job-group.longhorn.io/hourly": "enabled",
        "recurring-job-group.longhorn.io/weekly": "enabled",
    }


def test_recurring_job_refuses_longhorns_default_group():
    with pytest.raises(HomelabConfigError, match=r"LonghornRecurringJobProps.groups: 'default'"):
        LonghornRecurringJobProps(name="j", task=RecurringTask.BACKUP, cron="0 3 * * *", groups=["default"], retain=3)
