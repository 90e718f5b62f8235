"""longhorn_jobs.py, run for real: the drill's check on real SQLite files and trees, the drill and the
pre-upgrade snapshot against a fake Kubernetes API on 127.0.0.1 (tests/fake_kube_api.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from homelab_ai.base.pod_scripts import script_path
from tests.crd_schemas import validate_custom
from tests.fake_kube_api import FakeKubeApi

# The slow tier (`make test-fast` leaves it out): runs the in-pod Longhorn job programs against a fake API server.
pytestmark = pytest.mark.slow

SCRIPT = script_path("homelab_ai.cluster.longhorn", "longhorn_jobs.py")
TOKEN = "test-token"
LONGHORN = "/apis/longhorn.io/v1beta2/namespaces/longhorn-system"
VOLUME = "pvc-8c2b1a0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9"


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The script as its container runs it: a bare interpreter, nothing from homelab_ai."""
    return subprocess.run([sys.executable, "-I", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def api_args(server: FakeKubeApi, tmp_path: Path) -> list[str]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    return ["--api-server", server.url, "--token-file", str(token), "--ca-file", "", "--poll-seconds", "0.05"]


def make_webui_db(folder: Path, rows: int = 300) -> Path:
    """A database shaped like Open WebUI's (a chat table with a unique column and an index)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "webui.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE chat (id INTEGER PRIMARY KEY, title TEXT UNIQUE, body TEXT)")
        db.execute("CREATE TABLE user (id TEXT PRIMARY KEY, email TEXT)")
        db.executemany(
            "INSERT INTO chat (title, body) VALUES (?, ?)", [(f"chat-{i:05d}", "hello " * 20) for i in range(rows)]
        )
    return path


def corrupt_one_record(path: Path) -> None:
    """Change one stored title in place, same length: the table and its unique index no longer agree."""
    data = bytearray(path.read_bytes())
    at = data.find(b"chat-00042")
    data[at : at + 10] = b"CHAT-00042"
    path.write_bytes(bytes(data))


def check(folder: Path, tmp_path: Path, *what: str) -> tuple[subprocess.CompletedProcess[str], dict, str]:
    message = tmp_path / "termination-log"
    done = run("check", "--path", str(folder), *what, "--termination-log", str(message))
    return done, json.loads(done.stdout.strip().splitlines()[-1]), message.read_text() if message.exists() else ""


# --- check -------------------------------------------------------------------------------------


def test_check_of_a_good_database_passes_sqlites_integrity_check(tmp_path):
    make_webui_db(tmp_path / "restored")
    done, result, message = check(tmp_path / "restored", tmp_path, "--sqlite", "webui.db")
    assert done.returncode == 0, done.stderr
    assert result["ok"] is True
    assert result["integrity"] == ["ok"]
    assert result["tables"] == 2
    assert json.loads(message) == result


def test_check_of_a_corrupted_database_fails_with_sqlites_findings(tmp_path):
    corrupt_one_record(make_webui_db(tmp_path / "restored"))
    done, result, message = check(tmp_path / "restored", tmp_path, "--sqlite", "webui.db")
    assert done.returncode == 1
    assert result["ok"] is False
    assert any("sqlite_autoindex_chat_1" in line for line in result["integrity"])
    assert json.loads(message)["ok"] is False


def test_check_of_a_file_that_is_no_database_fails(tmp_path):
    (tmp_path / "restored").mkdir()
    (tmp_path / "restored" / "webui.db").write_bytes(b"\x00" * 100 + b"not sqlite" * 500)
    done, result, _ = check(tmp_path / "restored", tmp_path, "--sqlite", "webui.db")
    assert done.returncode == 1
    assert result["error"] == "SQLite: file is not a database"


def test_check_of_a_volume_without_the_database_fails(tmp_path):
    (tmp_path / "restored").mkdir()
    done, result, _ = check(tmp_path / "restored", tmp_path, "--sqlite", "webui.db")
    assert done.returncode == 1
    assert result["error"] == f"{tmp_path / 'restored' / 'webui.db'} is missing from the restored volume"


def test_file_count_counts_regular_files_per_top_folder(tmp_path):
    root = tmp_path / "restored"
    for relative in ("outputs/a.png", "outputs/2026/b.png", "models/Stable-diffusion/x.safetensors"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"x")
    done, result, _ = check(root, tmp_path, "--min-files", "3")
    assert done.returncode == 0
    assert (result["files"], result["folders"]) == (3, {"outputs": 2, "models": 1})


def test_file_count_of_an_empty_volume_fails(tmp_path):
    (tmp_path / "restored" / "outputs").mkdir(parents=True)
    done, result, _ = check(tmp_path / "restored", tmp_path, "--min-files", "1")
    assert done.returncode == 1
    assert result["error"] == "0 file(s) restored, fewer than the 1 expected"


# --- drill -------------------------------------------------------------------------------------


def _backup(name: str, volume: str, created: str, state: str = "Completed") -> dict:
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "Backup",
        "metadata": {"name": name, "namespace": "longhorn-system", "labels": {"backup-volume": volume}},
        "status": {
            "state": state,
            "backupCreatedAt": created,
            "url": f"s3://homelab-backups@us-east-1/longhorn?backup={name}&volume={volume}",
        },
    }


@pytest.fixture(scope="module")
def drill_config(homelab_objects) -> dict:
    """The open-webui-data drill's JSON, as the chart writes it into the drill's ConfigMap."""
    config_map = homelab_objects[("ConfigMap", "restore-drill-open-webui-data")]
    return json.loads(config_map["data"]["drill.json"])


def seeded_api(restored: Path, tmp_path: Path, backups: list[dict]) -> FakeKubeApi:
    """The cluster: the claim bound to VOLUME, its backups; a check Job runs the real check on ``restored``."""

    def run_check(job: dict) -> tuple[int, str]:
        container = job["spec"]["template"]["spec"]["containers"][0]
        command = container["command"]
        assert command[:2] == ["python", "/opt/homelab-ai/longhorn_jobs.py"]
        args = [restored if a == "/restored" else a for a in command[2:]]
        message = tmp_path / "check-termination-log"
        done = run(*map(str, args), "--termination-log", str(message))
        return done.returncode, message.read_text()

    api = FakeKubeApi(TOKEN, run_check=run_check)
    api.put(
        "/api/v1/namespaces/ai/persistentvolumeclaims",
        {
            "metadata": {"name": "open-webui-data", "namespace": "ai"},
            "spec": {"volumeName": VOLUME, "resources": {"requests": {"storage": "10Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "12Gi"}},
        },
    )
    for backup in backups:
        api.put(f"{LONGHORN}/backups", backup)
    return api


BACKUPS = [
    _backup("backup-old", VOLUME, "2026-11-26T03:00:41Z"),
    _backup("backup-new", VOLUME, "2026-11-27T03:00:39Z"),
    _backup("backup-broken", VOLUME, "2026-11-28T03:00:40Z", state="Error"),
    _backup("backup-other-volume", "pvc-other", "2026-11-28T03:10:00Z"),
]


def run_drill(api: FakeKubeApi, config: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "drill.json"
    path.write_text(json.dumps(config))
    return run("drill", "--config", str(path), *api_args(api, tmp_path))


@pytest.fixture(scope="module")
def good_drill(drill_config, tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], FakeKubeApi]:
    """One drill of a good backup, run once for the tests that read what it did (the API server's objects and
    requests stay readable after it stops): the process's result and the fake API."""
    tmp_path = tmp_path_factory.mktemp("good-drill")
    make_webui_db(tmp_path / "restored")
    with seeded_api(tmp_path / "restored", tmp_path, BACKUPS) as api:
        done = run_drill(api, drill_config, tmp_path)
    return done, api


def test_drill_restores_the_newest_completed_backup_into_a_scratch_claim_and_records_a_pass(good_drill):
    done, api = good_drill
    (storage_class,) = api.created("StorageClass")
    (claim,) = api.created("PersistentVolumeClaim")
    (job,) = api.created("Job")
    result_map = api.get("/api/v1/namespaces/ai/configmaps/restore-drill-open-webui-data-result")
    assert done.returncode == 0, done.stdout + done.stderr
    assert storage_class["parameters"]["fromBackup"] == BACKUPS[1]["status"]["url"]
    assert storage_class["reclaimPolicy"] == "Delete"
    assert claim["spec"]["storageClassName"] == storage_class["metadata"]["name"] == "restore-drill-open-webui-data.ai"
    assert claim["spec"]["resources"]["requests"]["storage"] == "12Gi"  # the claim's size now, not the chart's
    assert (
        job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    )
    result = json.loads(result_map["data"]["result.json"])
    assert (result["verdict"], result["backup"], result["check"]["integrity"]) == ("passed", "backup-new", ["ok"])
    assert result_map["metadata"]["annotations"]["homelab-ai/verdict"] == "passed"


def test_drill_deletes_the_check_job_the_scratch_claim_and_its_class_when_done(good_drill):
    _, api = good_drill
    left = sorted(p for p in api.objects if "scratch" in p or "check" in p or "storageclasses" in p)
    deleted = api.deleted()
    assert left == []
    assert deleted[-3:] == [
        "/apis/batch/v1/namespaces/ai/jobs/restore-drill-open-webui-data-check",
        "/api/v1/namespaces/ai/persistentvolumeclaims/restore-drill-open-webui-data-scratch",
        "/apis/storage.k8s.io/v1/storageclasses/restore-drill-open-webui-data.ai",
    ]


def test_drill_objects_are_valid_kubernetes_objects(good_drill):
    _, api = good_drill
    made = [body for method, _, body in api.requests if method in ("POST", "PUT") and body]
    assert {o["kind"] for o in made} == {"StorageClass", "PersistentVolumeClaim", "Job", "ConfigMap"}
    for obj in made:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)


def test_drill_of_a_corrupted_backup_records_a_failure_and_still_cleans_up(drill_config, tmp_path):
    corrupt_one_record(make_webui_db(tmp_path / "restored"))
    with seeded_api(tmp_path / "restored", tmp_path, BACKUPS) as api:
        done = run_drill(api, drill_config, tmp_path)
        result = json.loads(
            api.get("/api/v1/namespaces/ai/configmaps/restore-drill-open-webui-data-result")["data"]["result.json"]
        )
        left = [p for p in api.objects if "scratch" in p or "storageclasses" in p]
    assert done.returncode == 1
    assert result["verdict"] == "failed"
    assert result["check"]["ok"] is False
    assert left == []


def test_drill_without_a_completed_backup_records_why_and_creates_nothing(drill_config, tmp_path):
    with seeded_api(tmp_path, tmp_path, [_backup("backup-broken", VOLUME, "2026-11-28T03:00:40Z", "Error")]) as api:
        done = run_drill(api, drill_config, tmp_path)
        created = {body["kind"] for body in api.created("StorageClass") + api.created("PersistentVolumeClaim")}
        result = json.loads(
            api.get("/api/v1/namespaces/ai/configmaps/restore-drill-open-webui-data-result")["data"]["result.json"]
        )
    assert done.returncode == 1
    assert created == set()
    assert result["error"].startswith(f"volume {VOLUME} of claim open-webui-data has no Completed Longhorn backup")


def test_drill_replaces_the_result_of_the_last_run(drill_config, tmp_path):
    make_webui_db(tmp_path / "restored")
    with seeded_api(tmp_path / "restored", tmp_path, BACKUPS) as api:
        api.put(
            "/api/v1/namespaces/ai/configmaps",
            {"metadata": {"name": "restore-drill-open-webui-data-result"}, "data": {"result.json": "{}"}},
        )
        done = run_drill(api, drill_config, tmp_path)
        puts = [path for method, path, _ in api.requests if method == "PUT"]
        result = json.loads(
            api.get("/api/v1/namespaces/ai/configmaps/restore-drill-open-webui-data-result")["data"]["result.json"]
        )
    assert done.returncode == 0
    assert puts == ["/api/v1/namespaces/ai/configmaps/restore-drill-open-webui-data-result"]
    assert result["verdict"] == "passed"


def test_drill_uses_only_what_its_role_grants(good_drill, homelab_objects):
    """Every request the drill makes is allowed by its Roles and ClusterRole as rendered in dist/."""
    _, api = good_drill
    requests = [(method, path) for method, path, _ in api.requests]
    rules = {
        "ai": homelab_objects[("Role", "restore-drill-open-webui-data")]["rules"],
        "longhorn-system": homelab_objects[("Role", "restore-drill-open-webui-data-backups")]["rules"],
        None: homelab_objects[("ClusterRole", "restore-drill-open-webui-data.ai")]["rules"],
    }
    verbs = {"POST": "create", "PUT": "update", "DELETE": "delete"}
    for method, raw in requests:
        parts = raw.split("?")[0].strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = rest[1] if rest and rest[0] == "namespaces" else None
        rest = rest[2:] if namespace else rest
        resource, name = rest[0], (rest[1] if len(rest) > 1 else None)
        verb = verbs.get(method) or ("get" if name else "list")
        allowed = any(
            group in rule["apiGroups"]
            and resource in rule["resources"]
            and verb in rule["verbs"]
            and (not rule.get("resourceNames") or name in rule["resourceNames"])
            for rule in rules[namespace]
        )
        assert allowed, f"{method} {raw} ({verb}) is not granted"


# --- snapshot ----------------------------------------------------------------------------------


def _volume(name: str, claim: str, released: bool = False) -> dict:
    status = {"namespace": "ai", "pvcName": claim, "pvName": name, "pvStatus": "Bound", "lastPVCRefAt": ""}
    if released:
        status.update(pvStatus="Released", lastPVCRefAt="2026-10-01T00:00:00Z")
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "Volume",
        "metadata": {"name": name, "namespace": "longhorn-system"},
        "status": {"kubernetesStatus": status},
    }


@pytest.fixture(scope="module")
def snapshot_args(homelab_objects) -> list[str]:
    """The args of the chart's own pre-upgrade Job."""
    (job,) = [o for (kind, name), o in homelab_objects.items() if kind == "Job" and "pre-upgrade" in name]
    return job["spec"]["template"]["spec"]["containers"][0]["args"]


def test_pre_upgrade_job_snapshots_the_claims_current_volume(snapshot_args, tmp_path):
    with FakeKubeApi(TOKEN) as api:
        api.put(f"{LONGHORN}/volumes", _volume("pvc-released-old", "open-webui-data", released=True))
        api.put(f"{LONGHORN}/volumes", _volume(VOLUME, "open-webui-data"))
        done = run(*snapshot_args, *api_args(api, tmp_path))
        (snapshot,) = api.created("Snapshot")
    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot["spec"] == {"volume": VOLUME, "createSnapshot": True}
    assert snapshot["metadata"]["name"] == snapshot_args[snapshot_args.index("--snapshot") + 1]
    assert snapshot["metadata"]["annotations"]["homelab-ai/before"] == snapshot_args[snapshot_args.index("--image") + 1]
    assert "snapshot ready" in done.stdout


def test_pre_upgrade_snapshot_matches_longhorns_snapshot_crd(snapshot_args, tmp_path):
    with FakeKubeApi(TOKEN) as api:
        api.put(f"{LONGHORN}/volumes", _volume(VOLUME, "open-webui-data"))
        run(*snapshot_args, *api_args(api, tmp_path))
        (snapshot,) = api.created("Snapshot")
    assert validate_custom(snapshot) == []


def test_claim_without_a_volume_yet_has_nothing_to_protect(snapshot_args, tmp_path):
    with FakeKubeApi(TOKEN) as api:
        done = run(*snapshot_args, *api_args(api, tmp_path))
        created = api.created("Snapshot")
    assert done.returncode == 0
    assert created == []
    assert "has no Longhorn volume yet (a first install?): nothing to protect" in done.stdout


def test_snapshot_longhorn_cannot_take_fails_the_job(snapshot_args, tmp_path):
    with FakeKubeApi(TOKEN, snapshot_error="failed to create snapshot: replica pvc-r-1 is in ERR state") as api:
        api.put(f"{LONGHORN}/volumes", _volume(VOLUME, "open-webui-data"))
        done = run(*snapshot_args, *api_args(api, tmp_path))
    assert done.returncode == 1
    assert (
        "Longhorn could not take the snapshot: failed to create snapshot: replica pvc-r-1 is in ERR state"
        in done.stdout
    )


def test_a_retried_job_reuses_the_snapshot_it_already_asked_for(snapshot_args, tmp_path):
    with FakeKubeApi(TOKEN) as api:
        api.put(f"{LONGHORN}/volumes", _volume(VOLUME, "open-webui-data"))
        run(*snapshot_args, *api_args(api, tmp_path))
        done = run(*snapshot_args, *api_args(api, tmp_path))
        created = api.created("Snapshot")
    assert done.returncode == 0
    assert len(created) == 1
    assert "exists already" in done.stdout


def test_the_script_asks_for_the_service_account_token(tmp_path):
    with FakeKubeApi("another-token") as api:
        done = run("snapshot", "--namespace", "ai", "--claim", "x", "--image", "i:1", *api_args(api, tmp_path))
    assert done.returncode == 1
    assert "ERROR: the API server refused: HTTP 401: Unauthorized" in done.stdout
