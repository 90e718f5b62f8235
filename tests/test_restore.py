"""Restoring a backed-up claim on a rebuilt cluster: `homelab-ai restore` and the objects it generates."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from homelab_ai.cli import main
from homelab_ai.synth.expectations import expectations
from homelab_ai.synth.restore import RestoreError, backed_up_claims, newest_backup, restore_manifests
from tests.crd_schemas import validate_custom
from tests.doctor_cluster import CONTEXT, FakeCluster, chart_values, make_repo


def _backup(name: str, claim: str, created: str, state: str = "Completed", namespace: str = "ai") -> dict:
    status = {"namespace": namespace, "pvcName": claim, "pvName": "pvc-old", "lastPVCRefAt": ""}
    return {
        "metadata": {"name": name, "namespace": "longhorn-system"},
        "status": {
            "state": state,
            "backupCreatedAt": created,
            "url": f"nfs://nas.lan:/backups?backup={name}&volume=pvc-old",
            "volumeSize": "10737418240",
            "labels": {"KubernetesStatus": json.dumps(status)},
        },
    }


BACKUPS = [
    _backup("backup-a", "open-webui-data", "2026-11-26T03:00:00Z"),
    _backup("backup-b", "open-webui-data", "2026-11-27T03:00:00Z"),
    _backup("backup-c", "open-webui-data", "2026-11-28T03:00:00Z", state="Error"),
    _backup("backup-d", "sd-data", "2026-11-28T03:05:00Z"),
    _backup("backup-e", "open-webui-data", "2026-11-28T04:00:00Z", namespace="other"),
]


@pytest.fixture(scope="module")
def app():
    from apps.homelab import build

    return build()[0]


@pytest.fixture(scope="module")
def open_webui(app):
    (target,) = [c for c in backed_up_claims(app) if c.claim == "open-webui-data"]
    return target


@pytest.mark.stack
def test_backed_up_claims_are_the_user_data_ones(app):
    assert [(c.namespace, c.claim) for c in backed_up_claims(app)] == [("ai", "open-webui-data"), ("ai", "sd-data")]


def test_newest_completed_backup_of_the_claim_is_chosen():
    assert newest_backup(BACKUPS, "ai", "open-webui-data")["metadata"]["name"] == "backup-b"


def test_no_backup_of_the_claim_is_an_error_naming_it():
    with pytest.raises(RestoreError, match="no Completed Longhorn backup of claim ai/ollama-models"):
        newest_backup(BACKUPS, "ai", "ollama-models")


@pytest.mark.stack
def test_restored_volume_matches_longhorns_volume_crd_and_restores_the_backup(open_webui):
    volume, _, _ = restore_manifests(open_webui, BACKUPS[1], "longhorn-system")
    assert validate_custom(volume) == []
    assert volume["metadata"] == {
        "name": "ai-open-webui-data",
        "namespace": "longhorn-system",
        "labels": {"app.kubernetes.io/managed-by": "homelab-ai"},
        "annotations": {"homelab-ai/restored-from": "backup-b"},
    }
    assert volume["spec"]["fromBackup"] == "nfs://nas.lan:/backups?backup=backup-b&volume=pvc-old"
    assert volume["spec"]["size"] == "10737418240"
    assert volume["spec"]["numberOfReplicas"] == 3  # longhorn-retain's


@pytest.mark.stack
def test_persistent_volume_hands_the_restored_volume_to_the_claim_only(open_webui):
    _, persistent_volume, _ = restore_manifests(open_webui, BACKUPS[1], "longhorn-system")
    kubernetes_validate.validate(persistent_volume, kubernetes_validate.latest_version(), strict=True)
    spec = persistent_volume["spec"]
    assert spec["csi"]["driver"] == "driver.longhorn.io"
    assert spec["csi"]["volumeHandle"] == "ai-open-webui-data"
    assert spec["claimRef"] == {"namespace": "ai", "name": "open-webui-data"}
    assert (spec["storageClassName"], spec["persistentVolumeReclaimPolicy"]) == ("longhorn-retain", "Retain")


def test_claim_is_the_charts_claim_bound_to_the_restored_volume(open_webui, homelab_objects):
    _, _, claim = restore_manifests(open_webui, BACKUPS[1], "longhorn-system")
    kubernetes_validate.validate(claim, kubernetes_validate.latest_version(), strict=True)
    chart = homelab_objects[("PersistentVolumeClaim", "open-webui-data")]
    assert claim["metadata"] == chart["metadata"]
    assert claim["spec"] == {**chart["spec"], "volumeName": "ai-open-webui-data"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The user's git repo and its commits, made once: `restore` only reads the cluster, never the repo."""
    path = tmp_path_factory.mktemp("repo")
    return path, make_repo(path)


@pytest.fixture(scope="module")
def values(app) -> dict[str, str]:
    return chart_values(expectations(app))


@pytest.fixture
def fake(tmp_path, repo, values, monkeypatch):
    cluster = FakeCluster(tmp_path, *repo, values)
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    return cluster


@pytest.mark.slow
def test_restore_command_prints_the_objects_for_the_newest_backup(fake, capsys):
    code = main(["restore", "open-webui-data", "--context", CONTEXT])
    out = capsys.readouterr().out
    documents = [d for d in yaml.safe_load_all(out) if d]
    assert code == 0
    assert [d["kind"] for d in documents] == ["Volume", "PersistentVolume", "PersistentVolumeClaim"]
    assert documents[0]["metadata"]["annotations"]["homelab-ai/restored-from"] == "backup-1b2c3d4e5f6a4b7c"
    assert out.startswith("# Restores ai/open-webui-data from Longhorn backup backup-1b2c3d4e5f6a4b7c")


@pytest.mark.slow
def test_restore_command_only_reads_the_cluster(fake, capsys):
    main(["restore", "sd-data", "--context", CONTEXT])
    assert fake.calls() == [
        ["--context", CONTEXT, "get", "backups.longhorn.io", "--namespace", "longhorn-system", "--output", "json"]
    ]


@pytest.mark.slow
def test_restore_of_a_claim_the_chart_does_not_back_up_is_refused(fake, capsys):
    code = main(["restore", "ollama-models", "--context", CONTEXT])
    err = capsys.readouterr().err
    assert code == 1
    assert "no backed-up claim named 'ollama-models' (backed-up claims: ai/open-webui-data, ai/sd-data)" in err
