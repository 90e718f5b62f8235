"""No invalid input gets past the synth: a table of bad inputs, each refused through the real CLI
with a message that names the field at fault, exit code 1, no traceback, and dist/ as it was.

The classes: values the props refuse (names, sizes, IPs, ports, schedules, secrets, cross-object
rules), numbers that are not finite or not whole, values of the wrong type (or a misspelt or
missing keyword), and what one construct declares but the rendered cluster could never do (a
download its NetworkPolicy blocks, a probe on a port nobody declares, a Secret key nobody holds).
Each case is a chart (tests/small_chart.py with CASE set) run by ``homelab_ai.cli.main`` into a
folder that already holds a dist/; a few run as their own process (`homelab-ai synth` and
`python -m apps.main`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import cdk8s
import pytest

import tests.small_chart
from homelab_ai import (
    AppNetworkPolicyProps,
    AppWorkload,
    Checkpoint,
    ComputeResources,
    ContainerImage,
    DataLocality,
    FluxKustomizationProps,
    GpuTimeSlicedApp,
    GpuTimeSlicedAppProps,
    HealthCheck,
    InternetEgress,
    LlmBackend,
    LlmBackendProps,
    LoadBalancer,
    LonghornRecurringJobProps,
    LonghornStorageClass,
    LonghornStorageClassProps,
    LonghornVolume,
    LonghornVolumeProps,
    NamespaceIsolation,
    OllamaModelPull,
    OllamaModelPullProps,
    OpenWebUIProps,
    PodSelector,
    RecurringTask,
    ScratchDir,
    SdIdleUnloader,
    SdIdleUnloaderProps,
    SecretKeyRef,
    SecureNamespace,
    SecureNamespaceProps,
    SecurityProfile,
    SharedGpu,
    SharedGpuProps,
    SopsSecret,
    SopsSecretProps,
    StableDiffusion,
    StableDiffusionProps,
    VramEnvelope,
)
from homelab_ai.base.plus import k8s
from homelab_ai.cli import main
from tests.factories import app_props, gpu, vram, write_encrypted_like_secret

REPO = Path(__file__).resolve().parent.parent
NAN, INF = float("nan"), float("inf")
# Secret files the cases read (written once per module by the existing_dist fixture).
SECRETS = Path()

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


def _open_webui_props(**overrides) -> Callable[[cdk8s.Chart, cdk8s.Chart], object]:
    def build(infra, ai):
        backend = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram()))
        secret = SopsSecret(ai, "S", SopsSecretProps(name="webui", file=FIXTURES / "x.sops.yaml", keys=["K"]))
        return OpenWebUIProps(backend=backend, secret=secret, **overrides)

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


NAMES_SIZES_AND_RULES: list[tuple[str, str, Build]] = [
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
    ("secret key key", "OpenWebUIProps.secret_key_key", _open_webui_props(secret_key_key="a b")),
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


def _resources(**overrides) -> ComputeResources:
    values = dict(cpu_request=1, cpu_limit=2, memory_request_gib=1, memory_limit_gib=2)
    values.update(overrides)
    return ComputeResources(**values)


NOT_FINITE_OR_NOT_WHOLE: list[tuple[str, str, Build]] = [
    ("NaN card VRAM", "SharedGpuProps.vram_gib", lambda i, a: SharedGpuProps(card="NVIDIA RTX 4090", vram_gib=NAN)),
    ("infinite card VRAM", "SharedGpuProps.vram_gib", lambda i, a: SharedGpuProps(card="RTX", vram_gib=INF)),
    ("NaN active max", "VramEnvelope.active_max_gib", lambda i, a: vram(0, 4, NAN)),
    ("infinite active max", "VramEnvelope.active_max_gib", lambda i, a: vram(0, 4, INF)),
    ("NaN active min", "VramEnvelope.active_min_gib", lambda i, a: vram(0, NAN, 8)),
    ("NaN idle", "VramEnvelope.idle_gib", lambda i, a: vram(NAN, 4, 8)),
    ("minus infinity idle", "VramEnvelope.idle_gib", lambda i, a: vram(-INF, 4, 8)),
    ("NaN cpu request", "ComputeResources.cpu_request", lambda i, a: _resources(cpu_request=NAN)),
    ("infinite cpu limit", "ComputeResources.cpu_limit", lambda i, a: _resources(cpu_limit=INF)),
    ("NaN memory request", "ComputeResources.memory_request_gib", lambda i, a: _resources(memory_request_gib=NAN)),
    ("infinite memory limit", "ComputeResources.memory_limit_gib", lambda i, a: _resources(memory_limit_gib=INF)),
    ("NaN scratch size", "ScratchDir.size_limit_gib", lambda i, a: ScratchDir(name="t", path="/t", size_limit_gib=NAN)),
    (
        "fractional slices",
        "SharedGpuProps.replicas",
        lambda i, a: SharedGpuProps(card="RTX", vram_gib=24, replicas=2.5),
    ),
    ("float slices", "SharedGpuProps.replicas", lambda i, a: SharedGpuProps(card="RTX", vram_gib=24, replicas=4.0)),
    ("NaN volume size", "LonghornVolumeProps.size_gib", lambda i, a: LonghornVolumeProps(name="d", size_gib=NAN)),
    (
        "fractional retain",
        "LonghornRecurringJobProps.retain",
        lambda i, a: LonghornRecurringJobProps(
            name="j", task=RecurringTask.SNAPSHOT, cron="0 * * * *", groups=["g"], retain=2.5
        ),
    ),
    (
        "float Longhorn replicas",
        "LonghornStorageClassProps.number_of_replicas",
        lambda i, a: LonghornStorageClassProps(number_of_replicas=2.0),
    ),
    (
        "NaN stale replica timeout",
        "LonghornStorageClassProps.stale_replica_timeout_minutes",
        lambda i, a: LonghornStorageClassProps(stale_replica_timeout_minutes=NAN),
    ),
    (
        "fractional liveness failures",
        "HealthCheck.liveness_failures",
        lambda i, a: HealthCheck(path="/h", liveness_failures=2.5),
    ),
    ("float UID", "SecurityProfile.run_as_user", lambda i, a: SecurityProfile(run_as_user=10001.0)),
    ("infinite GID", "SecurityProfile.run_as_group", lambda i, a: SecurityProfile(run_as_group=INF)),
    ("float port", "AppWorkloadProps.container_port", lambda i, a: app_props(container_port=8000.0)),
    ("NaN load balancer port", "LoadBalancer.port", lambda i, a: LoadBalancer(ip="10.10.2.25", port=NAN)),
    ("float Ollama parallel", "LlmBackendProps.num_parallel", _backend_props(num_parallel=2.0)),
    (
        "fractional pull retries",
        "OllamaModelPullProps.backoff_limit",
        lambda i, a: OllamaModelPullProps(models=["x"], server_url="http://ollama:11434", backoff_limit=2.5),
    ),
    (
        "float GPU slices for one app",
        "GpuTimeSlicedAppProps.gpu_count",
        lambda i, a: GpuTimeSlicedAppProps(app=app_props(), gpu=gpu(i), vram=vram(), gpu_count=1.0),
    ),
    (
        "NaN timedelta (raised by the standard library in the user's code)",
        "test_bad_input.py:",
        lambda i, a: HealthCheck(path="/h", period=timedelta(seconds=NAN)),
    ),
]


def _misspelt_keyword(infra, ai):
    return SharedGpuProps(card="RTX", vram_gibb=24)


def _missing_keyword(infra, ai):
    return SharedGpuProps(card="RTX")


def _construct_id_twice(infra, ai):
    SharedGpu(infra, "Gpu", SharedGpuProps(card="RTX", vram_gib=24))
    SharedGpu(infra, "Gpu", SharedGpuProps(card="RTX", vram_gib=24))


WRONG_TYPES: list[tuple[str, str, Build]] = [
    ("slices as text", "SharedGpuProps.replicas", lambda i, a: SharedGpuProps(card="RTX", vram_gib=24, replicas="4")),
    ("VRAM as text", "SharedGpuProps.vram_gib", lambda i, a: SharedGpuProps(card="RTX", vram_gib="24")),
    ("VRAM as a bool", "SharedGpuProps.vram_gib", lambda i, a: SharedGpuProps(card="RTX", vram_gib=True)),
    ("card as a number", "SharedGpuProps.card", lambda i, a: SharedGpuProps(card=4090, vram_gib=24)),
    (
        "idle VRAM as None",
        "VramEnvelope.idle_gib",
        lambda i, a: VramEnvelope(idle_gib=None, active_min_gib=1, active_max_gib=2),
    ),
    ("container port as text", "AppWorkloadProps.container_port", lambda i, a: app_props(container_port="8000")),
    ("service port as text", "AppWorkloadProps.service_port", lambda i, a: app_props(service_port="80")),
    ("image as a string", "AppWorkloadProps.image", lambda i, a: app_props(image="ollama/ollama:0.6.8")),
    ("resources as a dict", "AppWorkloadProps.resources", lambda i, a: app_props(resources={"cpu": 1})),
    ("health as a path", "AppWorkloadProps.health", lambda i, a: app_props(health="/healthz")),
    ("kind as text", "AppWorkloadProps.kind", lambda i, a: app_props(kind="Deployment")),
    ("env as a list", "AppWorkloadProps.env", lambda i, a: app_props(env=["A=1"])),
    ("env value as a number", "AppWorkloadProps.env", lambda i, a: app_props(env={"WORKERS": 4})),
    ("args as one string", "AppWorkloadProps.args", lambda i, a: app_props(args="--listen --api")),
    ("network policy as text", "AppWorkloadProps.network_policy", lambda i, a: app_props(network_policy="no")),
    ("expose as an IP", "AppWorkloadProps.expose", lambda i, a: app_props(expose="10.10.2.25")),
    ("scratch as one dir", "AppWorkloadProps.scratch", lambda i, a: app_props(scratch=ScratchDir(name="t", path="/t"))),
    (
        "allow_from as one selector",
        "AppWorkloadProps.allow_from",
        lambda i, a: app_props(allow_from=PodSelector(labels={"a": "b"})),
    ),
    ("security as a dict", "AppWorkloadProps.security", lambda i, a: app_props(security={"run_as_user": 1000})),
    ("Ollama port as a float", "LlmBackendProps.port", _backend_props(port=11434.5)),
    ("keep-alive as seconds", "LlmBackendProps.keep_alive", _backend_props(keep_alive=300)),
    ("models as one string", "LlmBackendProps.models", _backend_props(models="llama3.2")),
    ("models as a number", "LlmBackendProps.models", _backend_props(models=3)),
    ("GPU as a name", "LlmBackendProps.gpu", lambda i, a: LlmBackendProps(gpu="rtx", vram=vram())),
    ("GPU missing (None)", "LlmBackendProps.gpu", lambda i, a: LlmBackendProps(gpu=None, vram=vram())),
    ("VRAM as a number", "LlmBackendProps.vram", lambda i, a: LlmBackendProps(gpu=gpu(i), vram=16)),
    ("extra env as pairs", "LlmBackendProps.extra_env", _backend_props(extra_env=[("A", "1")])),
    (
        "checkpoint list as one checkpoint",
        "StableDiffusionProps.checkpoints",
        _sd_props(checkpoints=Checkpoint(url="https://x.org/a", file_name="a.ckpt", sha256="ab" * 32)),
    ),
    (
        "checkpoint kind unknown",
        "Checkpoint.kind",
        lambda i, a: Checkpoint(url="https://x.org/a", file_name="a", sha256="ab" * 32, kind="embedding"),
    ),
    (
        "SD secret as a name",
        "StableDiffusionProps.secret",
        lambda i, a: StableDiffusionProps(gpu=gpu(i), vram=vram(), secret="sd-secret"),
    ),
    (
        "enforce level as text",
        "SecureNamespaceProps.enforce",
        lambda i, a: SecureNamespaceProps(name="ai", enforce="restricted"),
    ),
    ("warn level as None", "SecureNamespaceProps.warn", lambda i, a: SecureNamespaceProps(name="ai", warn=None)),
    (
        "load balancer provider as text",
        "LoadBalancer.provider",
        lambda i, a: LoadBalancer(ip="10.10.2.25", provider="metallb"),
    ),
    (
        "recurring task as text",
        "LonghornRecurringJobProps.task",
        lambda i, a: LonghornRecurringJobProps(name="j", task="backup", cron="0 3 * * *", groups=["g"], retain=3),
    ),
    (
        "backup groups as one string",
        "LonghornVolumeProps.backup_groups",
        lambda i, a: LonghornVolumeProps(name="d", size_gib=1, backup_groups=5),
    ),
    (
        "access mode as text",
        "LonghornVolumeProps.access_mode",
        lambda i, a: LonghornVolumeProps(name="d", size_gib=1, access_mode="ReadWriteOnce"),
    ),
    ("internet ports as one port", "InternetEgress.ports", lambda i, a: InternetEgress(ports=443)),
    (
        "policy ports as text",
        "AppNetworkPolicyProps.ports",
        lambda i, a: AppNetworkPolicyProps(name="x", pods=PodSelector(labels={"a": "b"}), ports="8080"),
    ),
    ("labels as a list", "PodSelector.labels", lambda i, a: PodSelector(labels=["app=x"])),
    ("label value as a number", "PodSelector.labels", lambda i, a: PodSelector(labels={"tier": 1})),
    (
        "secret keys as a number",
        "SopsSecretProps.keys",
        lambda i, a: SopsSecretProps(name="s", file="s.sops.yaml", keys=5),
    ),
    ("secret file as a number", "SopsSecretProps.file", lambda i, a: SopsSecretProps(name="s", file=5, keys=["k"])),
    (
        "flux charts as names",
        "FluxKustomizationProps.charts",
        lambda i, a: FluxKustomizationProps(name="x", folder="ai", charts=["ai"]),
    ),
    (
        "idle unload as text",
        "GpuTimeSlicedAppProps.idle_unload",
        lambda i, a: GpuTimeSlicedAppProps(app=app_props(), gpu=gpu(i), vram=vram(), idle_unload="5m"),
    ),
    (
        "toleration switch as text",
        "GpuTimeSlicedAppProps.tolerate_gpu_taint",
        lambda i, a: GpuTimeSlicedAppProps(app=app_props(), gpu=gpu(i), vram=vram(), tolerate_gpu_taint="yes"),
    ),
    ("misspelt keyword", "SharedGpuProps.vram_gibb", _misspelt_keyword),
    ("missing keyword", "SharedGpuProps.vram_gib", _missing_keyword),
    ("a construct id used twice (cdk8s's own error)", "test_bad_input.py:", _construct_id_twice),
]


def _secret(ai, name: str, keys: list[str]) -> SopsSecret:
    file = write_encrypted_like_secret(SECRETS / f"{name}.sops.yaml", name, keys)
    return SopsSecret(ai, f"Secret-{name}", SopsSecretProps(name=name, file=file, keys=keys))


def _stable_diffusion(infra, ai, **overrides):
    secret = _secret(ai, "sd", ["password"])
    return StableDiffusion(ai, "SD", StableDiffusionProps(gpu=gpu(infra), vram=vram(), secret=secret, **overrides))


CHECKPOINT = dict(file_name="m.safetensors", sha256="ab" * 32)


def _http_checkpoint(infra, ai):
    checkpoint = Checkpoint(url="http://files.example.org/m.safetensors", **CHECKPOINT)
    _stable_diffusion(infra, ai, checkpoints=[checkpoint], model_downloads=InternetEgress())


def _checkpoint_on_8443(infra, ai):
    checkpoint = Checkpoint(url="https://files.example.org:8443/m.safetensors", **CHECKPOINT)
    _stable_diffusion(infra, ai, checkpoints=[checkpoint], model_downloads=InternetEgress())


def _checkpoint_without_egress(infra, ai):
    _stable_diffusion(infra, ai, checkpoints=[Checkpoint(url="https://huggingface.co/m.safetensors", **CHECKPOINT)])


def _models_without_egress(infra, ai):
    LlmBackendProps(gpu=gpu(infra), vram=vram(), models=["llama3.2"])


def _models_over_port_80_only(infra, ai):
    LlmBackendProps(gpu=gpu(infra), vram=vram(), models=["llama3.2"], model_downloads=InternetEgress(ports=(80,)))


def _secret_key_nobody_holds(infra, ai):
    _secret(ai, "api", ["token"])
    AppWorkload(ai, "W", app_props(secret_env={"TOKEN": SecretKeyRef(secret_name="api", key="tokn")}))


def _probe_port(infra, ai):
    tests.small_chart.SUBPROCESS_CASES["probe-on-an-undeclared-port"](infra, ai)


def _liveness_on_a_named_port_nobody_has(infra, ai):
    app = AppWorkload(ai, "W", app_props())
    cdk8s.ApiObject.of(app.workload).add_json_patch(
        cdk8s.JsonPatch.replace(
            "/spec/template/spec/containers/0/livenessProbe/httpGet/port", k8s.IntOrString.from_string("metrics")
        )
    )


def _service(ai, selector: dict, target_port: int) -> None:
    k8s.KubeService(
        ai,
        "Svc",
        metadata=k8s.ObjectMeta(name="extra"),
        spec=k8s.ServiceSpec(
            selector=selector, ports=[k8s.ServicePort(port=80, target_port=k8s.IntOrString.from_number(target_port))]
        ),
    )


def _service_target_port(infra, ai):
    AppWorkload(ai, "W", app_props())
    _service(ai, {"app.kubernetes.io/name": "demo"}, 9999)


def _service_selects_nothing(infra, ai):
    AppWorkload(ai, "W", app_props())
    _service(ai, {"app.kubernetes.io/name": "dmeo"}, 8000)


def _client_not_admitted(infra, ai):
    AppWorkload(ai, "A", app_props(name="a", env={"API_URL": "http://b.ai.svc.cluster.local:8000"}))
    AppWorkload(ai, "B", app_props(name="b"))


def _server_ingress_closed(infra, ai):
    client = AppWorkload(ai, "A", app_props(name="a", env={"API_URL": "http://b.ai.svc.cluster.local:8000"}))
    server = AppWorkload(ai, "B", app_props(name="b"))
    client.network_policy.allow_to(server.endpoint)  # the client may go out, but the server never lets it in


def _wrong_service_port(infra, ai):
    client = AppWorkload(ai, "A", app_props(name="a", env={"API_URL": "http://b.ai.svc.cluster.local:9000"}))
    AppWorkload(ai, "B", app_props(name="b")).allow_client(client)


def _no_such_service(infra, ai):
    AppWorkload(ai, "A", app_props(name="a", env={"API_URL": "http://nosuch.ai.svc.cluster.local:8000"}))


def _short_service_name_wrong_port(infra, ai):
    client = AppWorkload(ai, "A", app_props(name="a", args=("--backend", "http://b:8080/v1")))
    AppWorkload(ai, "B", app_props(name="b")).allow_client(client)


def _loopback_nobody_listens_on(infra, ai):
    AppWorkload(ai, "W", app_props(env={"SIDECAR_URL": "http://127.0.0.1:9999/health"}))


def _internet_over_http(infra, ai):
    AppWorkload(ai, "W", app_props(env={"MIRROR": "http://mirror.example.org/x"}, internet=InternetEgress()))


def _idle_unloader_on_another_port(infra, ai):
    app = AppWorkload(ai, "W", app_props())
    SdIdleUnloader(
        ai,
        "Unloader",
        SdIdleUnloaderProps(workload=app, name="demo-unloader", web_ui_port=7861, idle_timeout=timedelta(minutes=5)),
    )


def _model_pull_to_the_wrong_port(infra, ai):
    backend = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram()))
    OllamaModelPull(
        ai, "Pull", OllamaModelPullProps(models=["llama3.2"], server_url="http://ollama.ai.svc.cluster.local:11435")
    )
    del backend


def _open_webui_pointed_at_the_wrong_port(infra, ai):
    from homelab_ai import OpenWebUI

    backend = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram()))
    secret = _secret(ai, "webui", ["WEBUI_SECRET_KEY"])
    OpenWebUI(
        ai,
        "Web",
        OpenWebUIProps(
            backend=backend, secret=secret, extra_env={"OLLAMA_BASE_URL": "http://ollama.ai.svc.cluster.local:11435"}
        ),
    )


def _missing_claim(infra, ai):
    app = AppWorkload(ai, "W", app_props())
    cdk8s.ApiObject.of(app.workload).add_json_patch(
        cdk8s.JsonPatch.add(
            "/spec/template/spec/volumes/-", {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
        )
    )


def _missing_config_map(infra, ai):
    app = AppWorkload(ai, "W", app_props())
    cdk8s.ApiObject.of(app.workload).add_json_patch(
        cdk8s.JsonPatch.add("/spec/template/spec/volumes/-", {"name": "cfg", "configMap": {"name": "settings"}})
    )


DECLARED_BUT_UNREACHABLE: list[tuple[str, str, Build]] = [
    ("checkpoint over http while only 443 is open", "StableDiffusionProps.checkpoints", _http_checkpoint),
    ("checkpoint on port 8443", "StableDiffusionProps.checkpoints", _checkpoint_on_8443),
    ("checkpoints without internet egress", "StableDiffusionProps.checkpoints", _checkpoint_without_egress),
    ("models without internet egress", "LlmBackendProps.models", _models_without_egress),
    ("models with port 80 only", "LlmBackendProps.models", _models_over_port_80_only),
    ("a Secret key nobody holds", "container 'demo' env TOKEN: reads key 'tokn'", _secret_key_nobody_holds),
    ("probe on an undeclared port", "readinessProbe.httpGet.port", _probe_port),
    ("liveness on a named port nobody has", "livenessProbe.httpGet.port", _liveness_on_a_named_port_nobody_has),
    (
        "Service targetPort no container declares",
        "Service extra (namespace ai) spec.ports[0].targetPort",
        _service_target_port,
    ),
    ("Service that selects no pod", "Service extra (namespace ai) spec.selector", _service_selects_nothing),
    ("client calls a server its policy does not reach", "container 'a' env API_URL: calls", _client_not_admitted),
    ("server's policy does not admit the client", "does not admit this pod on port 8000", _server_ingress_closed),
    ("URL on a port the Service does not offer", "offers port(s) [8000], not 9000", _wrong_service_port),
    ("URL of a Service that does not exist", "there is no Service 'nosuch'", _no_such_service),
    ("short Service name, wrong port", "container 'a' args[1]: calls http://b:8080", _short_service_name_wrong_port),
    ("loopback port nobody listens on", "env SIDECAR_URL: calls http://127.0.0.1:9999", _loopback_nobody_listens_on),
    ("internet over http while only 443 is open", "env MIRROR: calls http://mirror.example.org", _internet_over_http),
    (
        "idle unloader on another port than the web UI",
        "env SD_URL: calls http://127.0.0.1:7861",
        _idle_unloader_on_another_port,
    ),
    (
        "model pull to a port Ollama does not serve",
        "offers port(s) [11434], not 11435",
        _model_pull_to_the_wrong_port,
    ),
    (
        "Open WebUI pointed at the wrong Ollama port",
        "OpenWebUIProps.extra_env: sets OLLAMA_BASE_URL",
        _open_webui_pointed_at_the_wrong_port,
    ),
    ("a claim the chart does not render", "volume 'data': mounts PersistentVolumeClaim 'data'", _missing_claim),
    ("a ConfigMap the chart does not render", "volume 'cfg': mounts ConfigMap 'settings'", _missing_config_map),
]

CLASSES = {
    "names, sizes and rules": NAMES_SIZES_AND_RULES,
    "not finite or not whole": NOT_FINITE_OR_NOT_WHOLE,
    "wrong types": WRONG_TYPES,
    "declared but unreachable": DECLARED_BUT_UNREACHABLE,
}
CASES = [(kind, *case) for kind, cases in CLASSES.items() for case in cases]


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def _beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p != out)


@pytest.fixture(scope="module")
def existing_dist(tmp_path_factory) -> Path:
    """A dist/ from an earlier, good synth through the CLI (alone in its folder), and the secret files."""
    global SECRETS
    SECRETS = tmp_path_factory.mktemp("secrets")
    out = tmp_path_factory.mktemp("bad-input") / "dist"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(REPO)
        monkeypatch.setattr(tests.small_chart, "CASE", None)
        assert main(["--app", "tests.small_chart:build", "synth", str(out)]) == 0
    return out


def test_the_table_has_at_least_100_cases_in_every_class():
    assert len(CASES) >= 100
    assert all(len(cases) >= 20 for cases in CLASSES.values())
    assert len({label for _, label, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("kind", "label", "field", "make"), CASES, ids=[f"{k}: {label}" for k, label, _, _ in CASES])
def test_bad_input_is_refused_by_the_cli_naming_the_field(existing_dist, monkeypatch, capsys, kind, label, field, make):
    before = _tree(existing_dist)
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(tests.small_chart, "CASE", make)
    assert main(["--app", "tests.small_chart:build", "synth", str(existing_dist)]) == 1
    err = capsys.readouterr().err
    assert field in err
    assert "Fix:" in err or "synth refused" in err
    assert "Traceback" not in err
    assert _tree(existing_dist) == before
    assert _beside(existing_dist) == []


def _run(argv: list[str], case: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, SMALL_CHART_CASE=case, PYTHONPATH=str(REPO), JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20"
    )
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("nan-vram", "SharedGpuProps.vram_gib: nan must be a finite number"),
        ("probe-on-an-undeclared-port", "readinessProbe.httpGet.port: the probe checks port 9000"),
    ],
)
def test_homelab_ai_synth_as_its_own_process_refuses_with_one_line(existing_dist, case, field):
    before = _tree(existing_dist)
    result = _run(
        [sys.executable, "-m", "homelab_ai.cli", "--app", "tests.small_chart:build", "synth", str(existing_dist)], case
    )
    assert result.returncode == 1
    assert field in result.stderr
    assert "Traceback" not in result.stderr
    assert _tree(existing_dist) == before
    assert _beside(existing_dist) == []


@pytest.mark.slow
def test_python_m_apps_main_refuses_a_wrong_type_with_one_line(existing_dist):
    """The path `cdk8s synth` runs (apps/main.py), with the chart swapped for one with slices as text."""
    before = _tree(existing_dist)
    code = (
        "import sys, apps.main as m, tests.small_chart as s; m.build = s.build; "
        f"sys.exit(m.main([{str(existing_dist)!r}]))"
    )
    result = _run([sys.executable, "-c", code], "replicas-as-text")
    assert result.returncode == 1
    assert "SharedGpuProps.replicas: '4' is not a whole number" in result.stderr
    assert "Traceback" not in result.stderr
    assert _tree(existing_dist) == before
    assert _beside(existing_dist) == []


@pytest.mark.parametrize("command", [["budget"], ["docs"], ["secrets", "check"], ["doctor"], ["restore", "sd-data"]])
def test_every_command_that_loads_the_chart_reports_a_build_error_in_one_line(tmp_path, monkeypatch, capsys, command):
    """load_build hands every command a guarded build: a misspelt keyword is one line there too."""
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(tests.small_chart, "CASE", _misspelt_keyword)
    args = [*command, str(tmp_path / "docs")] if command == ["docs"] else command
    assert main(["--app", "tests.small_chart:build", *args]) == 1
    err = capsys.readouterr().err
    assert "error: SharedGpuProps.vram_gibb: SharedGpuProps has no field 'vram_gibb'" in err
    assert "Traceback" not in err
