"""VramArbiter: what it renders, from the same card and envelopes the budget reads, and what it refuses.

The monitoring objects are validated against the prometheus-operator CRDs pinned in crds/, and every
PromQL expression (alert rules, dashboard panels) is parsed with Prometheus's own grammar
(@prometheus-io/lezer-promql, pinned in package.json; tests/promql_check.cjs).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from homelab_ai import (
    HomelabConfigError,
    LlmBackend,
    LlmBackendProps,
    OpenWebUI,
    OpenWebUIProps,
    PodSecurityLevel,
    SharedGpu,
    SharedGpuProps,
    SopsSecret,
    SopsSecretProps,
    StableDiffusion,
    StableDiffusionProps,
    VramArbiter,
    VramArbiterMonitoringProps,
    VramArbiterProps,
)
from homelab_ai.cluster.pod_security import violations
from tests.arbiter_rig import load_arbiter
from tests.crd_schemas import validate_custom
from tests.factories import charts, gpu, vram, write_encrypted_like_secret
from tests.helpers import container, env_of, synth

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMQL_CHECK = Path(__file__).resolve().parent / "promql_check.cjs"


def _secret(ai, tmp_path, name: str, keys: list[str]) -> SopsSecret:
    path = write_encrypted_like_secret(tmp_path / f"{name}.sops.yaml", name, keys)
    return SopsSecret(ai, f"Secret-{name}", SopsSecretProps(name=name, file=path, keys=keys))


class Stack:
    """A card with Ollama and Stable Diffusion (the spec's envelopes), an arbiter, and Open WebUI through it."""

    def __init__(self, tmp_path: Path, *, with_ui: bool = True, **arbiter) -> None:
        self.app, self.infra, self.ai = charts()
        self.gpu = gpu(self.infra)
        self.ollama = LlmBackend(
            self.ai, "Ollama", LlmBackendProps(gpu=self.gpu, vram=vram(0, 8, 16), keep_alive=timedelta(minutes=7))
        )
        self.sd = StableDiffusion(
            self.ai,
            "SD",
            StableDiffusionProps(
                gpu=self.gpu, vram=vram(0, 8, 12), secret=_secret(self.ai, tmp_path, "sd", ["password"])
            ),
        )
        self.arbiter = VramArbiter(
            self.ai,
            "Arbiter",
            VramArbiterProps(gpu=self.gpu, ollama=self.ollama, stable_diffusion=self.sd, **arbiter),
        )
        if with_ui:
            OpenWebUI(
                self.ai,
                "UI",
                OpenWebUIProps(
                    backend=self.ollama,
                    image_generation=self.sd,
                    vram_arbiter=self.arbiter,
                    secret=_secret(self.ai, tmp_path, "ui", ["WEBUI_SECRET_KEY"]),
                ),
            )
        self.objects = synth(self.app)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Stack:
    """Built once for the module: the tests only read it."""
    return Stack(tmp_path_factory.mktemp("stack"))


def rendered_config(stack: Stack) -> dict:
    return json.loads(stack.objects[("ConfigMap", "vram-arbiter")]["data"]["config.json"])


# What it renders -----------------------------------------------------------------------------------------------


def test_the_config_takes_the_card_and_envelopes_from_the_shared_gpu_and_the_apps(stack):
    config = rendered_config(stack)
    assert config["card"] == {"name": "Test GPU", "vram_gib": 24}
    ollama, sd = config["apps"]
    assert (ollama["name"], ollama["kind"], ollama["upstream"]) == ("ollama", "ollama", stack.ollama.url)
    assert ollama["envelope"] == {"idle_gib": 0, "active_min_gib": 8, "active_max_gib": 16}
    assert (ollama["keep_alive_cap_seconds"], ollama["max_loaded_models"]) == (420.0, 1)
    assert (sd["name"], sd["kind"], sd["upstream"]) == ("stable-diffusion", "automatic1111", stack.sd.url)
    assert sd["envelope"] == {"idle_gib": 0, "active_min_gib": 8, "active_max_gib": 12}


def test_the_rendered_config_is_one_the_program_accepts(stack):
    arbiter = load_arbiter()
    env = {"SD_API_USER": "admin", "SD_API_PASSWORD": "x"}
    loaded = arbiter.load_config(rendered_config(stack), env)
    assert [a.listen_port for a in loaded.apps] == [11434, 7860]
    assert loaded.apps[1].auth_user == "admin"


def test_the_configmap_carries_the_program_and_the_pod_rolls_when_either_changes(stack):
    data = stack.objects[("ConfigMap", "vram-arbiter")]["data"]
    script = (REPO_ROOT / "homelab_ai/services/vram_arbiter/vram_arbiter.py").read_text()
    assert data["vram_arbiter.py"] == script
    annotations = stack.objects[("Deployment", "vram-arbiter")]["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["homelab-ai/vram-arbiter-checksum"]) == 64


def test_the_pod_runs_the_script_with_a_bare_interpreter_and_sd_credentials_from_the_secret(stack):
    deployment = stack.objects[("Deployment", "vram-arbiter")]
    main = container(deployment)
    assert main["command"] == ["python", "-I", "/opt/vram-arbiter/vram_arbiter.py"]
    env = env_of(deployment)
    assert env["VRAM_ARBITER_CONFIG"]["value"] == "/opt/vram-arbiter/config.json"
    assert env["SD_API_USER"]["value"] == "admin"
    assert env["SD_API_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "sd", "key": "password"}


def test_the_pod_is_restricted_hardened_one_replica_recreated_and_holds_no_gpu(stack):
    deployment = stack.objects[("Deployment", "vram-arbiter")]
    spec = deployment["spec"]["template"]["spec"]
    assert violations(spec, PodSecurityLevel.RESTRICTED) == []
    assert (deployment["spec"]["replicas"], deployment["spec"]["strategy"]["type"]) == (1, "Recreate")
    assert "runtimeClassName" not in spec
    assert "nvidia.com/gpu" not in json.dumps(container(deployment)["resources"])
    assert container(deployment)["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("probe", ["startupProbe", "readinessProbe", "livenessProbe"])
def test_every_probe_asks_healthz_on_the_status_port(stack, probe):
    http_get = container(stack.objects[("Deployment", "vram-arbiter")])[probe]["httpGet"]
    assert (http_get["path"], http_get["port"]) == ("/healthz", 9400)


def test_the_service_serves_each_api_on_its_apps_port_and_metrics(stack):
    ports = {
        p["name"]: (p["port"], p["targetPort"]) for p in stack.objects[("Service", "vram-arbiter")]["spec"]["ports"]
    }
    assert ports == {"ollama": (11434, 11434), "stable-diffusion": (7860, 7860), "metrics": (9400, 9400)}


def test_open_webui_reaches_both_apis_through_the_arbiter(stack):
    env = env_of(stack.objects[("Deployment", "open-webui")])
    assert env["OLLAMA_BASE_URL"]["value"] == "http://vram-arbiter.ai.svc.cluster.local:11434"
    assert env["AUTOMATIC1111_BASE_URL"]["value"] == "http://vram-arbiter.ai.svc.cluster.local:7860"


def test_the_doors_are_open_webui_in_and_the_two_apis_out(stack):
    policy = stack.objects[("NetworkPolicy", "vram-arbiter")]["spec"]
    clients = [(r["from"][0]["podSelector"]["matchLabels"], [p["port"] for p in r["ports"]]) for r in policy["ingress"]]
    assert clients == [({"app.kubernetes.io/name": "open-webui"}, [11434, 7860])]
    targets = {
        (r["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"], r["ports"][0]["port"])
        for r in policy["egress"][1:]
    }
    # An admitted client may use every port of the app: Stable Diffusion's include the idle unloader's API gate.
    assert targets == {("ollama", 11434), ("stable-diffusion", 7860), ("stable-diffusion", 7861)}
    ollama = stack.objects[("NetworkPolicy", "ollama")]["spec"]["ingress"]
    assert [r["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for r in ollama] == ["vram-arbiter"]


def test_no_monitoring_objects_unless_asked(stack):
    kinds = {kind for kind, _ in stack.objects}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert ("ConfigMap", "vram-arbiter-dashboard") not in stack.objects
    assert ("NetworkPolicy", "vram-arbiter-metrics") not in stack.objects


def test_the_budget_names_the_pair_the_arbiter_serializes_and_no_longer_warns(stack):
    budget = stack.gpu.budget()
    assert budget.warnings == []
    [note] = [v.message for v in budget.verdicts() if v.severity.value == "note"]
    assert "the VRAM arbiter 'vram-arbiter' serializes ollama + stable-diffusion" in note
    assert [tuple(a.name for a in g) for g in budget.serialized_groups()] == [("ollama", "stable-diffusion")]


def test_a_card_without_an_arbiter_still_warns_about_the_over_booking():
    _, infra, ai = charts()
    card = gpu(infra)
    LlmBackend(ai, "Ollama", LlmBackendProps(gpu=card, vram=vram(0, 8, 16)))
    LlmBackend(ai, "Other", LlmBackendProps(gpu=card, vram=vram(0, 8, 16), name="other"))
    assert [w for w in card.budget().warnings if "Must not be busy at max together: ollama + other" in w]


# Monitoring ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def monitored(tmp_path_factory) -> Stack:
    """Built once for the module: the tests only read it (the monitoring objects need no Open WebUI)."""
    return Stack(tmp_path_factory.mktemp("monitored"), with_ui=False, monitoring=VramArbiterMonitoringProps())


def test_service_monitor_and_prometheus_rule_validate_against_the_pinned_crds(monitored):
    for key in (("ServiceMonitor", "vram-arbiter"), ("PrometheusRule", "vram-arbiter")):
        assert validate_custom(monitored.objects[key]) == [], key


def test_the_service_monitor_scrapes_the_metrics_port_and_carries_the_release_label(monitored):
    monitor = monitored.objects[("ServiceMonitor", "vram-arbiter")]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "vram-arbiter"}}
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]


def test_prometheus_alone_may_reach_the_metrics_port(monitored):
    policy = monitored.objects[("NetworkPolicy", "vram-arbiter-metrics")]["spec"]
    assert policy["ingress"] == [
        {
            "from": [
                {
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                }
            ],
            "ports": [{"port": 9400, "protocol": "TCP"}],
        }
    ]


def test_the_rules_alert_on_an_exceeded_envelope_for_ten_minutes_and_on_repeated_overlaps(monitored):
    rules = {r["alert"]: r for r in monitored.objects[("PrometheusRule", "vram-arbiter")]["spec"]["groups"][0]["rules"]}
    exceeded = rules["VramEnvelopeExceeded"]
    assert exceeded["for"] == "10m"
    assert "vram_arbiter_app_observed_vram_bytes" in exceeded["expr"]
    assert "vram_arbiter_app_active_max_vram_bytes" in exceeded["expr"]
    assert rules["VramArbiterRepeatedOverlaps"]["expr"].endswith("[1h])) >= 3")
    assert set(rules) == {
        "VramEnvelopeExceeded",
        "VramArbiterRepeatedOverlaps",
        "VramArbiterRefusing",
        "VramArbiterDown",
    }


def test_the_dashboard_is_a_grafana_sidecar_configmap_with_one_json_dashboard(monitored):
    board_map = monitored.objects[("ConfigMap", "vram-arbiter-dashboard")]
    assert board_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    [(key, text)] = board_map["data"].items()
    board = json.loads(text)
    assert key == "vram-arbiter.json"
    assert board["uid"] and board["title"] == "VRAM arbiter (ai/vram-arbiter)"
    assert [v["type"] for v in board["templating"]["list"]] == ["datasource"]
    assert all(p["datasource"]["uid"] == "${datasource}" and p["targets"] for p in board["panels"])


def _expressions(stack: Stack) -> list[str]:
    rules = stack.objects[("PrometheusRule", "vram-arbiter")]["spec"]["groups"][0]["rules"]
    board = json.loads(next(iter(stack.objects[("ConfigMap", "vram-arbiter-dashboard")]["data"].values())))
    return [r["expr"] for r in rules] + [t["expr"] for p in board["panels"] for t in p["targets"]]


@pytest.mark.slow
def test_every_promql_expression_parses_with_prometheus_grammar(monitored):
    node = shutil.which("node")
    assert node is not None, "node is needed (make test installs it with the cdk8s CLI)"
    expressions = _expressions(monitored)
    done = subprocess.run(
        [node, str(PROMQL_CHECK)],
        input=json.dumps(expressions),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    assert dict(zip(expressions, json.loads(done.stdout), strict=True)) == {e: None for e in expressions}


@pytest.mark.slow
def test_the_promql_check_catches_a_broken_expression():
    done = subprocess.run(
        ["node", str(PROMQL_CHECK)],
        input='["max by (app) (x) >"]',
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert json.loads(done.stdout)[0].startswith("syntax error at")


def test_every_metric_the_rules_and_the_dashboard_query_is_one_the_program_exports(monitored):
    arbiter = load_arbiter()
    config = arbiter.load_config(rendered_config(monitored), {"SD_API_USER": "a", "SD_API_PASSWORD": "b"})
    text = arbiter.Arbiter(config, {app.name: None for app in config.apps}).metrics()
    exported = set(re.findall(r"^# TYPE (\w+)", text, re.MULTILINE))
    used = {m for e in _expressions(monitored) for m in re.findall(r"\b(vram_arbiter_\w+)", e)}
    assert len(used) >= 10
    assert used <= exported


# Bad input ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ollama_on_card() -> tuple[SharedGpu, LlmBackend]:
    """A card with Ollama on it, for props that are refused before anything joins the tree (the tests only read it)."""
    _, infra, ai = charts()
    card = gpu(infra)
    return card, LlmBackend(ai, "Ollama", LlmBackendProps(gpu=card, vram=vram(0, 8, 16)))


def test_an_app_on_another_card_is_refused():
    _, infra, ai = charts()
    card = gpu(infra)
    other = SharedGpu(
        infra, "Other", SharedGpuProps(card="Other GPU", vram_gib=16, device_plugin_namespace="x", config_map_name="y")
    )
    ollama = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=other, vram=vram(0, 8, 16)))
    with pytest.raises(HomelabConfigError) as error:
        VramArbiterProps(gpu=card, ollama=ollama)
    assert str(error.value).startswith(
        "VramArbiterProps.ollama: ollama runs on the card 'Other GPU', not on 'Test GPU'"
    )
    assert "Fix: give the arbiter the SharedGpu its apps share" in str(error.value)


def test_a_status_port_that_clashes_with_an_api_port_is_refused(ollama_on_card):
    card, ollama = ollama_on_card
    with pytest.raises(HomelabConfigError, match=r"VramArbiterProps.status_port: 11434 is also the port"):
        VramArbiterProps(gpu=card, ollama=ollama, status_port=11434)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("chat_max_wait", timedelta(hours=2), "from 0:00:00 to 1:00:00"),
        ("image_max_wait", timedelta(seconds=-1), "from 0:00:00 to 1:00:00"),
        ("poll_interval", timedelta(0), "from 0:00:01 to 1 day"),
        ("unload_timeout", timedelta(days=2), "from 0:00:01 to 1 day"),
        ("name", "Vram_Arbiter", ""),
    ],
)
def test_bad_props_name_the_field(ollama_on_card, field, value, problem):
    card, ollama = ollama_on_card
    with pytest.raises(HomelabConfigError) as error:
        VramArbiterProps(gpu=card, ollama=ollama, **{field: value})
    assert str(error.value).startswith(f"VramArbiterProps.{field}: ")
    assert problem in str(error.value)
    assert "Fix: " in str(error.value)


def test_monitoring_with_nothing_to_make_is_refused():
    with pytest.raises(HomelabConfigError, match=r"VramArbiterMonitoringProps.service_monitor: .* all off"):
        VramArbiterMonitoringProps(service_monitor=False, rules=False, dashboard=False)


def test_a_second_arbiter_on_the_same_card_is_refused():
    _, infra, ai = charts()
    card = gpu(infra)
    ollama = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=card, vram=vram(0, 8, 16)))
    VramArbiter(ai, "Arbiter", VramArbiterProps(gpu=card, ollama=ollama))
    with pytest.raises(HomelabConfigError, match=r"already has the VRAM arbiter 'vram-arbiter'"):
        VramArbiter(ai, "Second", VramArbiterProps(gpu=card, ollama=ollama, name="second"))


def test_open_webui_through_an_arbiter_that_does_not_front_its_stable_diffusion_is_refused(tmp_path):
    _, infra, ai = charts()
    card = gpu(infra)
    ollama = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=card, vram=vram(0, 8, 16)))
    sd = StableDiffusion(
        ai, "SD", StableDiffusionProps(gpu=card, vram=vram(0, 8, 12), secret=_secret(ai, tmp_path, "sd", ["password"]))
    )
    arbiter = VramArbiter(ai, "Arbiter", VramArbiterProps(gpu=card, ollama=ollama))
    with pytest.raises(HomelabConfigError) as error:
        OpenWebUIProps(
            backend=ollama,
            image_generation=sd,
            vram_arbiter=arbiter,
            secret=_secret(ai, tmp_path, "ui", ["WEBUI_SECRET_KEY"]),
        )
    assert str(error.value).startswith("OpenWebUIProps.vram_arbiter: does not arbitrate the Stable Diffusion")


# The stack's switch ---------------------------------------------------------------------------------------------


@pytest.mark.stack
def test_a_stack_without_the_arbiter_wires_open_webui_straight_to_the_apps():
    import attrs
    import cdk8s

    from apps.homelab import site
    from homelab_ai import AiStack

    stack = AiStack(cdk8s.App(), "Site", attrs.evolve(site(REPO_ROOT), vram_arbiter=False))
    objects = synth(stack.app, stack.folders)
    assert stack.vram_arbiter is None
    assert ("Deployment", "vram-arbiter") not in objects
    assert env_of(objects[("Deployment", "open-webui")])["OLLAMA_BASE_URL"]["value"] == stack.ollama.url


def test_stack_monitoring_without_the_arbiter_is_refused():
    import attrs

    from apps.homelab import site

    with pytest.raises(HomelabConfigError, match=r"AiStackProps.vram_arbiter_monitoring: monitors a VRAM arbiter"):
        attrs.evolve(site(REPO_ROOT), vram_arbiter=False, vram_arbiter_monitoring=VramArbiterMonitoringProps())
