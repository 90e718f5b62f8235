"""No invalid input gets past the constructs: each case is refused before anything is written,
with a message that names the field at fault.

Each case builds a small chart with one mistake and runs the real synth into a folder that already
holds a dist/; the synth must raise, name the field, and leave that folder byte for byte as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import cdk8s
import pytest

from homelab_ai import (
    AppNetworkPolicyProps,
    AppWorkload,
    ComputeResources,
    ContainerImage,
    DataLocality,
    GpuTimeSlicedApp,
    GpuTimeSlicedAppProps,
    HealthCheck,
    HomelabConfigError,
    InternetEgress,
    LlmBackendProps,
    LoadBalancer,
    LonghornRecurringJobProps,
    LonghornStorageClass,
    LonghornStorageClassProps,
    LonghornVolume,
    LonghornVolumeProps,
    NamespaceIsolation,
    OpenWebUIProps,
    PodSelector,
    RecurringTask,
    ScratchDir,
    SecureNamespace,
    SecureNamespaceProps,
    SecurityProfile,
    SharedGpuProps,
    SopsSecret,
    SopsSecretProps,
    StableDiffusionProps,
    SynthError,
    VramEnvelope,
)
from homelab_ai.synth.dist import synthesize
from tests.factories import app_props, charts, gpu, vram

Build = Callable[[cdk8s.Chart, cdk8s.Chart], object]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _backend_props(**overrides) -> Callable[[cdk8s.Chart, cdk8s.Chart], object]:
    return lambda infra, ai: LlmBackendProps(gpu=gpu(infra), vram=vram(), **overrides)


def _sd_props(**overrides) -> Callable[[cdk8s.Chart, cdk8s.Chart], object]:
    def build(infra, ai):
        secret = SopsSecret(
            ai, "S", SopsSecretProps(name="stable-diffusion-secret", file=FIXTURES / "x.sops.yaml", keys=["password"])
        )
        return StableDiffusionProps(gpu=gpu(infra), vram=vram(), secret=secret, **overrides)

    return build


def _two_exposed_on_one_ip(infra, ai):
    lb = LoadBalancer(ip="10.10.2.25", port=80)
    AppWorkload(ai, "A", app_props(name="a", expose=lb))
    AppWorkload(ai, "B", app_props(name="b", expose=lb))


def _two_volumes_one_name(infra, ai):
    LonghornVolume(ai, "A", LonghornVolumeProps(name="data", size_gib=1))
    LonghornVolume(ai, "B", LonghornVolumeProps(name="data", size_gib=2))


def _two_apps_one_name(infra, ai):
    AppWorkload(ai, "A", app_props(name="chat"))
    AppWorkload(ai, "B", app_props(name="chat"))


def _undeclared_secret_key(infra, ai):
    secret = SopsSecret(ai, "S", SopsSecretProps(name="s", file=FIXTURES / "x.sops.yaml", keys=["password"]))
    secret.key_ref("pasword")


def _missing_secret_file(infra, ai):
    SopsSecret(ai, "S", SopsSecretProps(name="open-webui-secret", file=FIXTURES / "absent.sops.yaml", keys=["K"]))


def _backup_group_without_job(infra, ai):
    LonghornVolume(ai, "V", LonghornVolumeProps(name="chats", size_gib=1, backup_groups=["nightly"]))


def _root_pod_in_restricted_namespace(infra, ai):
    SecureNamespace(infra, "Ns", SecureNamespaceProps(name="ai"))
    AppWorkload(ai, "W", app_props(security=SecurityProfile(run_as_user=0, run_as_group=0, root_reason="legacy")))


def _unhardened_sidecar(infra, ai):
    workload = AppWorkload(ai, "W", app_props())
    workload.workload.add_container(name="sidecar", image="example/sidecar:1.0")


def _gpu_app_asking_two_slices(infra, ai):
    GpuTimeSlicedApp(ai, "G", GpuTimeSlicedAppProps(app=app_props(), gpu=gpu(infra), vram=vram(), gpu_count=2))


CASES: list[tuple[str, str, Build]] = [
    # names
    ("app name with spaces", "AppWorkloadProps.name", lambda i, a: app_props(name="Open WebUI")),
    (
        "volume name with underscore",
        "LonghornVolumeProps.name",
        lambda i, a: LonghornVolumeProps(name="a_b", size_gib=1),
    ),
    (
        "secret name upper case",
        "SopsSecretProps.name",
        lambda i, a: SopsSecretProps(name="Key", file="x.sops.yaml", keys=["k"]),
    ),
    (
        "storage class name",
        "LonghornVolumeProps.storage_class",
        lambda i, a: LonghornVolumeProps(name="d", size_gib=1, storage_class="Fast!"),
    ),
    (
        "policy name",
        "AppNetworkPolicyProps.name",
        lambda i, a: AppNetworkPolicyProps(name="-x", pods=PodSelector(labels={"a": "b"})),
    ),
    ("namespace name", "SecureNamespaceProps.name", lambda i, a: SecureNamespaceProps(name="AI")),
    ("label key", "PodSelector.labels", lambda i, a: PodSelector(labels={"bad key": "x"})),
    ("empty selector", "PodSelector.labels", lambda i, a: PodSelector(labels={})),
    ("env var name", "AppWorkloadProps.env", lambda i, a: app_props(env={"1BAD": "x"})),
    ("latest tag", "ContainerImage.tag", lambda i, a: ContainerImage(repository="ollama/ollama", tag="latest")),
    (
        "short digest",
        "ContainerImage.digest",
        lambda i, a: ContainerImage(repository="x/y", tag="1", digest="sha256:abc"),
    ),
    # sizes and counts
    ("zero size volume", "LonghornVolumeProps.size_gib", lambda i, a: LonghornVolumeProps(name="d", size_gib=0)),
    ("fractional size", "LonghornVolumeProps.size_gib", lambda i, a: LonghornVolumeProps(name="d", size_gib=1.5)),
    (
        "memory limit below request",
        "ComputeResources.memory_limit_gib",
        lambda i, a: ComputeResources(cpu_request=1, cpu_limit=1, memory_request_gib=8, memory_limit_gib=4),
    ),
    (
        "negative cpu",
        "ComputeResources.cpu_request",
        lambda i, a: ComputeResources(cpu_request=-1, cpu_limit=1, memory_request_gib=1, memory_limit_gib=1),
    ),
    (
        "zero replicas",
        "LonghornStorageClassProps.number_of_replicas",
        lambda i, a: LonghornStorageClassProps(number_of_replicas=0),
    ),
    (
        "retain above Longhorn's limit",
        "LonghornRecurringJobProps.retain",
        lambda i, a: LonghornRecurringJobProps(
            name="j", task=RecurringTask.BACKUP, cron="0 3 * * *", groups=["g"], retain=101
        ),
    ),
    ("zero models loaded", "LlmBackendProps.max_loaded_models", _backend_props(max_loaded_models=0)),
    ("emptyDir size", "ScratchDir.size_limit_gib", lambda i, a: ScratchDir(name="tmp", path="/tmp", size_limit_gib=0)),
    # IPs and networks
    ("IP out of range", "LoadBalancer.ip", lambda i, a: LoadBalancer(ip="10.10.2.300")),
    ("host name as IP", "LoadBalancer.ip", lambda i, a: LoadBalancer(ip="webui.lan")),
    ("CIDR with host bits", "InternetEgress.cidr", lambda i, a: InternetEgress(cidr="10.0.0.1/8")),
    (
        "except outside cidr",
        "InternetEgress.except_cidrs",
        lambda i, a: InternetEgress(cidr="100.0.0.0/8", except_cidrs=("10.0.0.0/8",)),
    ),
    ("two apps on one IP and port", "LoadBalancer.ip/port", _two_exposed_on_one_ip),
    # ports
    ("port above 65535", "AppWorkloadProps.container_port", lambda i, a: app_props(container_port=70000)),
    ("port zero", "LoadBalancer.port", lambda i, a: LoadBalancer(ip="10.10.2.25", port=0)),
    ("Ollama port as text", "LlmBackendProps.port", _backend_props(port="11434")),
    ("internet port zero", "InternetEgress.ports", lambda i, a: InternetEgress(ports=(0,))),
    (
        "clients without ports",
        "AppNetworkPolicyProps.ports",
        lambda i, a: AppNetworkPolicyProps(name="x", pods=PodSelector(labels={"a": "b"}), from_anywhere=True),
    ),
    # durations and schedules
    (
        "zero startup budget",
        "HealthCheck.startup_budget",
        lambda i, a: HealthCheck(path="/h", startup_budget=timedelta(0)),
    ),
    (
        "fractional probe period",
        "HealthCheck.period",
        lambda i, a: HealthCheck(path="/h", period=timedelta(seconds=1.5)),
    ),
    ("negative keep-alive", "LlmBackendProps.keep_alive", _backend_props(keep_alive=timedelta(seconds=-5))),
    ("idle timeout as minutes int", "StableDiffusionProps.idle_timeout", _sd_props(idle_timeout=10)),
    (
        "cron in words",
        "LonghornRecurringJobProps.cron",
        lambda i, a: LonghornRecurringJobProps(
            name="j", task=RecurringTask.SNAPSHOT, cron="every day", groups=["g"], retain=3
        ),
    ),
    (
        "cron hour 24",
        "LonghornRecurringJobProps.cron",
        lambda i, a: LonghornRecurringJobProps(
            name="j", task=RecurringTask.SNAPSHOT, cron="0 24 * * *", groups=["g"], retain=3
        ),
    ),
    # VRAM and the GPU
    (
        "idle above active",
        "VramEnvelope.idle_gib",
        lambda i, a: VramEnvelope(idle_gib=10, active_min_gib=8, active_max_gib=16),
    ),
    (
        "min above max",
        "VramEnvelope.active_min_gib",
        lambda i, a: VramEnvelope(idle_gib=0, active_min_gib=20, active_max_gib=16),
    ),
    (
        "negative VRAM",
        "VramEnvelope.idle_gib",
        lambda i, a: VramEnvelope(idle_gib=-1, active_min_gib=8, active_max_gib=16),
    ),
    ("card without VRAM", "SharedGpuProps.vram_gib", lambda i, a: SharedGpuProps(card="RTX 4000", vram_gib=0)),
    ("GPU over-subscription: two slices", "GpuTimeSlicedAppProps.gpu_count", _gpu_app_asking_two_slices),
    # secrets
    (
        "secret key with space",
        "SopsSecretProps.keys",
        lambda i, a: SopsSecretProps(name="s", file="x.sops.yaml", keys=["bad key"]),
    ),
    ("no secret keys", "SopsSecretProps.keys", lambda i, a: SopsSecretProps(name="s", file="x.sops.yaml", keys=[])),
    ("undeclared key", "SopsSecret(s).key_ref", _undeclared_secret_key),
    (
        "secret key key",
        "OpenWebUIProps.secret_key_key",
        lambda i, a: OpenWebUIProps(backend=None, secret=None, secret_key_key="a b"),
    ),
    ("SD password key", "StableDiffusionProps.password_key", _sd_props(password_key="pass word")),
    ("SD user with colon", "StableDiffusionProps.username", _sd_props(username="ad:min")),
    ("missing encrypted file", "SopsSecret 'open-webui-secret'", _missing_secret_file),
    # duplicates and cross-object rules
    ("two claims named data", "PersistentVolumeClaim metadata.name 'data'", _two_volumes_one_name),
    ("two apps named chat", "Deployment metadata.name 'chat'", _two_apps_one_name),
    ("backup group without a job", "LonghornVolumeProps.backup_groups", _backup_group_without_job),
    (
        "Longhorn default group",
        "LonghornRecurringJobProps.groups",
        lambda i, a: LonghornRecurringJobProps(
            name="j", task=RecurringTask.BACKUP, cron="0 3 * * *", groups=["default"], retain=3
        ),
    ),
    (
        "strict-local with 3 replicas",
        "LonghornStorageClassProps.number_of_replicas",
        lambda i, a: LonghornStorageClassProps(data_locality=DataLocality.STRICT_LOCAL),
    ),
    ("storage class in a namespaced chart", "LonghornStorageClass(scope)", lambda i, a: LonghornStorageClass(a, "Sc")),
    ("isolation in a cluster chart", "NamespaceIsolation(scope)", lambda i, a: NamespaceIsolation(i, "Iso")),
    (
        "exposed app with allow_from",
        "AppWorkloadProps.allow_from",
        lambda i, a: app_props(expose=LoadBalancer(ip="10.10.2.25"), allow_from=(PodSelector(labels={"a": "b"}),)),
    ),
    (
        "one path mounted twice",
        "AppWorkloadProps.scratch",
        lambda i, a: app_props(scratch=(ScratchDir(name="a", path="/tmp"), ScratchDir(name="b", path="/tmp"))),
    ),
    # least privilege
    ("root without a reason", "SecurityProfile.run_as_user", lambda i, a: SecurityProfile(run_as_user=0)),
    ("root pod in a restricted namespace", "SecureNamespaceProps.enforce", _root_pod_in_restricted_namespace),
    ("sidecar left unhardened", "is not hardened", _unhardened_sidecar),
    ("relative scratch path", "ScratchDir.path", lambda i, a: ScratchDir(name="tmp", path="tmp")),
]


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def existing_dist(tmp_path_factory) -> Path:
    """A dist/ from an earlier, good synth, plus a file of the operator's."""
    out = tmp_path_factory.mktemp("bad-input") / "dist"

    def good():
        app, _, ai = charts()
        AppWorkload(ai, "W", app_props())
        return app, {chart.node.id: "out" for chart in app.charts}

    synthesize(good, out)
    (out / "operator-notes.txt").write_text("mine")
    return out


def test_there_are_at_least_25_cases_across_the_constructs():
    assert len(CASES) >= 25
    assert len({label for label, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("label", "field", "make"), CASES, ids=[label for label, _, _ in CASES])
def test_invalid_input_is_refused_before_anything_is_written(existing_dist, label, field, make):
    before = _tree(existing_dist)

    def build():
        app, infra, ai = charts()
        make(infra, ai)
        return app, {chart.node.id: "out" for chart in app.charts}

    with pytest.raises((HomelabConfigError, SynthError)) as refused:
        synthesize(build, existing_dist)
    assert field in str(refused.value)
    assert "Fix:" in str(refused.value) or isinstance(refused.value, SynthError)
    assert _tree(existing_dist) == before
    assert not [p for p in existing_dist.parent.iterdir() if p.name.startswith(".dist.")]
