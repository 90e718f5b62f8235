"""`homelab-ai doctor` against recorded kubectl output of healthy and broken clusters (a fake kubectl on PATH)."""

from __future__ import annotations

import json

import attrs
import cdk8s
import jsonschema
import pytest
from constructs import Construct

from homelab_ai.base.expectations import CheckKind, Expectation
from homelab_ai.cli import main
from homelab_ai.ops.doctor import run_doctor
from homelab_ai.ops.kubectl import Kubectl
from homelab_ai.ops.report import Report, Verdict, ok, schema
from homelab_ai.synth.expectations import expectations
from tests.doctor_cluster import CONTEXT, FakeCluster, chart_values, make_repo

# The slow tier (`make test-fast` leaves it out): runs `homelab-ai doctor` against a fake kubectl, in this process
# for most tests and as a process per call for those marked ``kubectl_process``.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chart() -> tuple[Expectation, ...]:
    from apps.homelab import build

    app, _ = build()
    return expectations(app)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("repo")
    return path, make_repo(path)


@pytest.fixture
def fake(request, tmp_path, repo, chart, monkeypatch):
    """The fake cluster, its kubectl answered in this process; tests marked ``kubectl_process`` run it as a process."""
    path, commits = repo
    cluster = FakeCluster(tmp_path, path, commits, chart_values(chart))
    if not request.node.get_closest_marker("kubectl_process"):
        cluster.answer_in_process(monkeypatch)

    def serve(*overlays: str, **values: str) -> FakeCluster:
        for key, value in cluster.env(*overlays, **values).items():
            monkeypatch.setenv(key, value)
        return cluster

    cluster.serve = serve  # type: ignore[attr-defined]
    serve()
    return cluster


def doctor(chart, fake, check: str, *overlays: str, **values: str) -> Report:
    """Run the doctor's probes of one kind of check against the healthy cluster plus ``overlays``."""
    fake.serve(*overlays, **values)
    return run_doctor([e for e in chart if e.kind.id == check], fake.cluster())


def by_subject(report: Report) -> dict[str, tuple[Verdict, str]]:
    return {f.expectation.subject: (f.verdict, " | ".join(f.evidence)) for f in report.findings}


# --- each check: healthy, then broken -------------------------------------------------------------


def test_gpu_node_offers_four_slices_of_its_card(chart, fake):
    found = by_subject(doctor(chart, fake, "gpu-slices"))
    assert found == {"nvidia.com/gpu": (Verdict.OK, "node gpu-1 offers 4 (4 slices x 1 card(s))")}


def test_gpu_node_offering_one_per_card_means_the_plugin_ignores_time_slicing(chart, fake):
    found = by_subject(doctor(chart, fake, "gpu-slices", "gpu-slices"))
    assert found["nvidia.com/gpu"] == (
        Verdict.FAIL,
        "node gpu-1 offers 1, one per card: the plugin runs without the time-slicing config",
    )


def test_device_plugin_pod_carries_the_generated_config_checksum(chart, fake):
    report = doctor(chart, fake, "device-plugin")
    verdict, evidence = by_subject(report)["HelmRelease nvidia-device-plugin/nvidia-device-plugin"]
    assert verdict is Verdict.OK
    assert evidence == "pod nvidia-device-plugin-7xk2p on gpu-1 runs, config 6b54d942b173 (the chart's)"


def test_device_plugin_pod_with_an_old_checksum_fails_with_the_reconcile_fix(chart, fake):
    report = doctor(chart, fake, "device-plugin", "device-plugin")
    (finding,) = report.findings
    assert finding.verdict is Verdict.FAIL
    assert finding.evidence == ("pod nvidia-device-plugin-7xk2p on gpu-1 runs config 0d1f6b3c9a2e, not 6b54d942b173",)
    assert finding.fix_text == "`flux reconcile helmrelease nvidia-device-plugin -n nvidia-device-plugin --with-source`"


def test_runtime_class_exists_with_the_nvidia_handler(chart, fake):
    assert by_subject(doctor(chart, fake, "runtime-class")) == {"RuntimeClass nvidia": (Verdict.OK, "handler 'nvidia'")}


def test_missing_runtime_class_fails(chart, fake):
    report = doctor(chart, fake, "runtime-class", "runtime-class")
    assert by_subject(report) == {"RuntimeClass nvidia": (Verdict.FAIL, "no RuntimeClass 'nvidia'")}
    assert report.findings[0].fix_text == (
        "`flux reconcile kustomization homelab-ai-infrastructure -n flux-system --with-source`"
    )


def test_longhorn_classes_the_claims_use_exist(chart, fake):
    found = by_subject(doctor(chart, fake, "storage-class"))
    assert found == {
        "StorageClass longhorn": (Verdict.OK, "provisioner driver.longhorn.io, reclaimPolicy Delete"),
        "StorageClass longhorn-retain": (Verdict.OK, "provisioner driver.longhorn.io, reclaimPolicy Retain"),
    }


def test_missing_retain_class_fails(chart, fake):
    found = by_subject(doctor(chart, fake, "storage-class", "storage-class"))
    assert found["StorageClass longhorn-retain"] == (Verdict.FAIL, "no StorageClass 'longhorn-retain'")
    assert found["StorageClass longhorn"][0] is Verdict.OK


def test_every_claim_is_bound(chart, fake):
    found = by_subject(doctor(chart, fake, "claim-bound"))
    assert found["PVC ai/open-webui-data"] == (Verdict.OK, "Bound to pvc-8c2b1a0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9, 10Gi")
    assert {verdict for verdict, _ in found.values()} == {Verdict.OK}
    assert len(found) == 3


def test_pending_claim_fails(chart, fake):
    found = by_subject(doctor(chart, fake, "claim-bound", "claim-bound"))
    assert found["PVC ai/open-webui-data"] == (Verdict.FAIL, "phase Pending")


def test_backup_target_is_set_and_available(chart, fake):
    (finding,) = doctor(chart, fake, "backup-target").findings
    assert finding.verdict is Verdict.OK
    assert finding.evidence[0].startswith("BackupTarget 'default': s3://homelab-backups@us-east-1/longhorn, available")


def test_empty_backup_target_fails(chart, fake):
    (finding,) = doctor(chart, fake, "backup-target", "backup-target").findings
    assert finding.verdict is Verdict.FAIL
    assert finding.evidence == ("BackupTarget 'default' has no URL: backups have nowhere to go",)
    assert "Settings > Backup Target" in finding.fix_text


def test_each_backed_up_claim_has_a_backup_from_the_last_two_days(chart, fake):
    found = by_subject(doctor(chart, fake, "backups-recent"))
    verdict, evidence = found["backups of ai/open-webui-data"]
    assert verdict is Verdict.OK
    assert evidence == f"newest: backup-1b2c3d4e5f6a4b7c of {fake.values['BACKUP_RECENT']}, 5 h old"
    assert found["backups of ai/sd-data"][0] is Verdict.OK


def test_four_day_old_newest_backup_fails(chart, fake):
    found = by_subject(doctor(chart, fake, "backups-recent", "backups-recent"))
    assert found["backups of ai/open-webui-data"] == (
        Verdict.FAIL,
        f"newest: backup-0a1b2c3d4e5f4a6b of {fake.values['BACKUP_STALE']}, 4 days old (more than 48 h)",
    )


def test_load_balancer_ips_are_in_the_metallb_pool_and_assigned(chart, fake):
    found = by_subject(doctor(chart, fake, "load-balancer"))
    assert found == {
        "Service ai/open-webui": (
            Verdict.OK,
            "10.10.2.25 from IPAddressPool metallb-system/lan; the Service has it",
        ),
        "Service ai/stable-diffusion": (
            Verdict.OK,
            "10.10.2.26 from IPAddressPool metallb-system/lan; the Service has it",
        ),
    }


def test_ip_outside_every_metallb_pool_fails(chart, fake):
    found = by_subject(doctor(chart, fake, "load-balancer", "load-balancer"))
    assert found["Service ai/open-webui"] == (
        Verdict.FAIL,
        "10.10.2.25 is in no MetalLB pool (pools: IPAddressPool metallb-system/lan: 10.10.3.0/24)",
    )


def test_service_still_pending_its_ip_fails_pointing_at_its_events(chart, fake):
    report = doctor(chart, fake, "load-balancer", "load-balancer-pending")
    finding = next(f for f in report.findings if f.expectation.subject == "Service ai/open-webui")
    assert finding.verdict is Verdict.FAIL
    assert finding.evidence == (
        "10.10.2.25 is in IPAddressPool metallb-system/lan, but the Service is <pending>: no address assigned",
    )
    assert finding.fix_text == "`kubectl -n ai describe service open-webui` (the LB controller's events say why)"


def test_cluster_without_metallb_fails_naming_it(chart, fake):
    found = by_subject(doctor(chart, fake, "load-balancer", "load-balancer-no-metallb"))
    verdict, evidence = found["Service ai/open-webui"]
    assert verdict is Verdict.FAIL
    assert evidence.startswith("the cluster has no MetalLB pools (error: the server doesn't have a resource type")


def _with_provider(chart, provider: str) -> list[Expectation]:
    """The chart's LoadBalancer expectations as if its Services used another LB controller."""
    return [attrs.evolve(e, data={**e.data, "provider": provider}) for e in chart if e.kind.id == "load-balancer"]


def test_ip_inside_a_cilium_lb_ipam_pool_block_passes(chart, fake):
    fake.serve("lb-cilium")
    found = by_subject(run_doctor(_with_provider(chart, "cilium"), fake.cluster()))
    assert found["Service ai/open-webui"] == (
        Verdict.OK,
        "10.10.2.25 from CiliumLoadBalancerIPPool lan; the Service has it",
    )


def test_ip_outside_kube_vips_ranges_for_its_namespace_fails(chart, fake):
    fake.serve("lb-kube-vip")
    found = by_subject(run_doctor(_with_provider(chart, "kube-vip"), fake.cluster()))
    assert found["Service ai/open-webui"] == (Verdict.OK, "10.10.2.25 from kubevip cidr-ai; the Service has it")
    assert found["Service ai/stable-diffusion"] == (
        Verdict.FAIL,
        "10.10.2.26 is in no kube-vip pool (pools: kubevip range-global: 10.10.3.10-10.10.3.20; "
        "kubevip cidr-ai: 10.10.2.24/31)",
    )


def test_flux_kustomizations_ready_at_the_commit_holding_their_dist_folder(chart, fake):
    found = by_subject(doctor(chart, fake, "flux-ready"))
    a, b, c = (fake.commits[k][:8] for k in "ABC")
    assert found == {
        "Kustomization flux-system/homelab-ai-apps": (
            Verdict.OK,
            f"Ready, applied {c}: the same dist/ai as HEAD {c}, dist/ai last changed in {b}",
        ),
        # Applied at A: dist/infrastructure has not changed since, so that is the current one.
        "Kustomization flux-system/homelab-ai-infrastructure": (
            Verdict.OK,
            f"Ready, applied {a}: the same dist/infrastructure as HEAD {c}, dist/infrastructure last changed in {a}",
        ),
    }


def test_flux_applied_an_older_dist_warns_to_push_and_reconcile(chart, fake):
    report = doctor(chart, fake, "flux-ready", APPS_REVISION=f"main@sha1:{fake.commits['A']}")
    finding = next(f for f in report.findings if f.expectation.subject.endswith("homelab-ai-apps"))
    a, b, c = (fake.commits[k][:8] for k in "ABC")
    assert finding.verdict is Verdict.WARN
    assert finding.evidence == (
        f"Ready, but applied {a}; dist/ai has changed since (HEAD {c}, dist/ai last changed in {b})",
    )
    assert (
        finding.fix_text
        == "`git push`, then `flux reconcile kustomization homelab-ai-apps -n flux-system --with-source`"
    )


def test_kustomization_not_ready_fails_with_its_message(chart, fake):
    found = by_subject(doctor(chart, fake, "flux-ready", "flux-ready"))
    verdict, evidence = found["Kustomization flux-system/homelab-ai-apps"]
    assert verdict is Verdict.FAIL
    assert evidence.startswith("not Ready (ReconciliationFailed: Secret/ai/open-webui-secret decryption failed")


def test_sops_age_secret_has_an_agekey_entry(chart, fake):
    found = by_subject(doctor(chart, fake, "sops-age"))
    assert found == {"Secret flux-system/sops-age": (Verdict.OK, "entries: age.agekey")}


def test_sops_age_secret_without_an_agekey_entry_fails_and_never_shows_a_value(chart, fake):
    report = doctor(chart, fake, "sops-age", "sops-age")
    assert by_subject(report) == {
        "Secret flux-system/sops-age": (Verdict.FAIL, "no *.agekey entry (entries: keys.txt)")
    }
    assert "QUdFLVNFQ1JF" not in json.dumps(report.to_json())


def test_pre_upgrade_snapshot_job_succeeded(chart, fake):
    (finding,) = doctor(chart, fake, "pre-upgrade-snapshot").findings
    assert finding.verdict is Verdict.OK
    assert finding.evidence == ("succeeded at 2026-11-20T10:03:12Z",)


def test_failed_pre_upgrade_snapshot_job_fails_with_its_log_command(chart, fake):
    (finding,) = doctor(chart, fake, "pre-upgrade-snapshot", "pre-upgrade-snapshot").findings
    job = fake.values["PRE_UPGRADE_JOB"]
    assert finding.verdict is Verdict.FAIL
    assert finding.evidence == ("failed: BackoffLimitExceeded: Job has reached the specified backoff limit",)
    assert finding.fix_text.startswith(f"`kubectl -n longhorn-system logs job/{job}`")


def test_model_pull_job_succeeded(chart, fake):
    (finding,) = doctor(chart, fake, "model-pull").findings
    assert (finding.verdict, finding.evidence) == (Verdict.OK, ("succeeded at 2026-11-20T10:03:12Z",))


def test_failed_model_pull_fails(chart, fake):
    (finding,) = doctor(chart, fake, "model-pull", "model-pull").findings
    assert finding.verdict is Verdict.FAIL
    assert finding.evidence == ("failed: BackoffLimitExceeded: Job has reached the specified backoff limit",)


def test_ollama_lists_the_declared_models(chart, fake):
    assert by_subject(doctor(chart, fake, "ollama-models")) == {
        "Service ai/ollama": (Verdict.OK, "lists llama3.2:latest")
    }


def test_ollama_without_the_declared_model_fails(chart, fake):
    assert by_subject(doctor(chart, fake, "ollama-models", "ollama-models")) == {
        "Service ai/ollama": (Verdict.FAIL, "missing llama3.2 (Ollama lists: none)")
    }


def test_every_app_answers_its_health_path_through_its_service(chart, fake):
    found = by_subject(doctor(chart, fake, "app-health"))
    assert found == {
        "Service ai/ollama": (Verdict.OK, 'GET /api/version: {"version": "0.6.8"}'),
        "Service ai/open-webui": (Verdict.OK, 'GET /health: {"status": true}'),
        "Service ai/stable-diffusion": (Verdict.OK, "GET /internal/ping: {}"),
    }


def test_app_that_does_not_answer_fails_with_the_api_servers_error(chart, fake):
    found = by_subject(doctor(chart, fake, "app-health", "app-health"))
    assert found["Service ai/open-webui"] == (
        Verdict.FAIL,
        "GET /health failed: Error from server (ServiceUnavailable): the server is currently unable to handle the "
        "request (get services open-webui:80)",
    )


def test_restore_drills_passed_recently(chart, fake):
    found = by_subject(doctor(chart, fake, "restore-drill"))
    verdict, evidence = found["CronJob ai/restore-drill-open-webui-data"]
    assert verdict is Verdict.OK
    assert evidence == (
        f"passed at {fake.values['DRILL_FINISHED']}: backup backup-1b2c3d4e5f6a4b7c of {fake.values['BACKUP_RECENT']}; "
        "/restored/webui.db: integrity ok, 24 tables"
    )
    assert found["CronJob ai/restore-drill-sd-data"][1].endswith("; 1342 files restored")


def test_failed_restore_drill_fails_with_sqlites_finding(chart, fake):
    found = by_subject(doctor(chart, fake, "restore-drill", "restore-drill"))
    verdict, evidence = found["CronJob ai/restore-drill-open-webui-data"]
    assert verdict is Verdict.FAIL
    assert "integrity *** in database main ***\nTree 12 page 37 cell 4: invalid page number 8421" in evidence


def test_restore_drill_that_never_ran_warns(chart, fake):
    found = by_subject(doctor(chart, fake, "restore-drill", "restore-drill-missing"))
    assert found["CronJob ai/restore-drill-sd-data"] == (Verdict.WARN, "no drill has finished yet")


def test_vram_arbiter_runs_the_charts_card_and_envelopes_and_reaches_both_apps(chart, fake):
    (finding,) = doctor(chart, fake, "vram-arbiter").findings
    assert finding.verdict is Verdict.OK
    assert finding.evidence == (
        "ollama: idle, 0.0 GiB observed",
        "stable-diffusion: loaded, 6.512 GiB observed",
        "0 request(s) waiting",
    )


def test_vram_arbiter_with_an_old_envelope_fails(chart, fake):
    (finding,) = doctor(chart, fake, "vram-arbiter", "vram-arbiter").findings
    assert finding.verdict is Verdict.FAIL
    assert finding.evidence == (
        "runs another config than the chart: stable-diffusion envelope 0/6-10 GiB, the chart says 0/8-12",
    )
    assert finding.fix_text.startswith("`kubectl -n ai rollout status deployment/vram-arbiter`")


def test_vram_arbiter_that_cannot_reach_an_app_warns_with_its_error(chart, fake):
    (finding,) = doctor(chart, fake, "vram-arbiter", "vram-arbiter-unreachable").findings
    assert finding.verdict is Verdict.WARN
    assert finding.evidence[0] == "stable-diffusion: unreachable (GET /sdapi/v1/memory: connection refused)"


# --- the whole run ----------------------------------------------------------------------------


def test_healthy_cluster_passes_every_check(chart, fake):
    report = run_doctor(chart, fake.cluster())
    assert [(f.check, f.expectation.subject) for f in report.findings if f.verdict is not Verdict.OK] == []
    assert report.count(Verdict.OK) == len(chart) == 25


@pytest.mark.kubectl_process
def test_doctor_never_runs_a_mutating_verb(chart, fake):
    run_doctor(chart, fake.cluster())
    fake.serve("gpu-slices", "load-balancer", "flux-ready", "app-health", "restore-drill")
    run_doctor(chart, fake.cluster())
    calls = fake.calls()
    assert len(calls) > 40
    for argv in calls:
        assert argv[:2] == ["--context", CONTEXT]
        verb, rest = argv[2], argv[3:]
        assert verb == "get", argv
        if rest[0] == "--raw":
            assert len(rest) == 2 and rest[1].startswith("/api/v1/namespaces/"), argv
            assert "/proxy/" in rest[1], argv
        else:
            assert rest[-2:] == ["--output", "json"], argv


def test_kubectl_wrapper_refuses_every_verb_but_get_before_running_anything():
    kubectl = Kubectl(binary="/nonexistent/kubectl")
    for verb in ("apply", "delete", "patch", "create", "edit", "scale", "exec"):
        with pytest.raises(ValueError, match="only reads"):
            kubectl._run([verb, "pods"])
    assert kubectl.calls == []


def test_json_report_of_a_healthy_cluster_matches_its_schema(chart, fake):
    document = run_doctor(chart, fake.cluster(), app="apps.homelab:build").to_json()
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(document, schema(), cls=jsonschema.Draft202012Validator)
    assert document["verdict"] == "ok"
    assert document["summary"] == {"ok": 25, "warn": 0, "fail": 0}


def test_json_report_of_a_broken_cluster_matches_its_schema_and_carries_the_fixes(chart, fake):
    fake.serve("runtime-class", "restore-drill-missing")
    document = run_doctor(chart, fake.cluster()).to_json()
    jsonschema.validate(document, schema(), cls=jsonschema.Draft202012Validator)
    assert document["verdict"] == "fail"
    assert document["summary"] == {"ok": 23, "warn": 1, "fail": 1}
    (failed,) = [f for f in document["findings"] if f["verdict"] == "fail"]
    assert failed["check"] == "runtime-class"
    assert failed["fix"].startswith("`flux reconcile kustomization homelab-ai-infrastructure")


def test_schema_refuses_an_ok_finding_with_a_fix():
    finding = {
        "check": "gpu-slices",
        "title": "GPU slices",
        "subject": "nvidia.com/gpu",
        "expect": "4",
        "verdict": "ok",
        "evidence": [],
        "fix": "something",
    }
    document = {
        "version": 1,
        "app": "x",
        "context": None,
        "verdict": "ok",
        "summary": {"ok": 1, "warn": 0, "fail": 0},
        "findings": [finding],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema(), cls=jsonschema.Draft202012Validator)


@pytest.mark.kubectl_process
def test_cli_exits_1_on_a_failure_and_prints_json(fake, repo, capsys):
    fake.serve("storage-class")
    code = main(["doctor", "--context", CONTEXT, "--json", "--repo", str(repo[0])])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["context"] == CONTEXT
    assert [f["subject"] for f in document["findings"] if f["verdict"] == "fail"] == ["StorageClass longhorn-retain"]


def test_cli_exits_0_on_a_healthy_cluster_and_prints_a_line_per_check(fake, repo, capsys):
    code = main(["doctor", "--context", CONTEXT, "--repo", str(repo[0])])
    out = capsys.readouterr().out
    assert code == 0
    assert "ok    gpu-slices" in out
    assert out.rstrip().endswith("25 ok, 0 warn, 0 fail")


def test_app_the_api_server_cannot_reach_points_at_pods_and_network_policy(chart, fake):
    report = doctor(chart, fake, "app-health", "app-health-unreachable")
    finding = next(f for f in report.findings if f.expectation.subject == "Service ai/ollama")
    assert finding.verdict is Verdict.FAIL
    assert finding.evidence == (
        "GET /api/version failed: Error from server (ServiceUnavailable): error trying to reach service: dial tcp "
        "10.42.0.17:11434: i/o timeout",
    )
    assert finding.fix_text.startswith("`kubectl -n ai get pods,endpoints -l app.kubernetes.io/name=ollama`")
    assert "NetworkPolicy does not admit the API server" in finding.fix_text


class _Exporter(Construct):
    """A stand-in for a construct of any layer that brings its own check (say, a GPU metrics exporter)."""

    def doctor_expectations(self) -> list[Expectation]:
        return [Expectation(kind=EXPORTER, subject="DaemonSet ai/gpu-exporter", expect="serves", fix="look at it")]


EXPORTER = CheckKind(id="gpu-exporter", title="GPU exporter", symptom="-", looks_at="its /metrics.")


def test_a_construct_can_add_its_own_expectations_and_a_probe_for_them(fake):
    app = cdk8s.App()
    _Exporter(cdk8s.Chart(app, "ai", namespace="ai"), "Exporter")
    (expected,) = expectations(app)
    without_probe = run_doctor([expected], fake.cluster())
    with_probe = run_doctor([expected], fake.cluster(), probes={"gpu-exporter": lambda e, c: ok(e, "serves")})
    assert (without_probe.findings[0].verdict, without_probe.findings[0].evidence) == (
        Verdict.WARN,
        ("this homelab-ai has no probe for check 'gpu-exporter'",),
    )
    assert (with_probe.findings[0].verdict, with_probe.findings[0].evidence) == (Verdict.OK, ("serves",))
