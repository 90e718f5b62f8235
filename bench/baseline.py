"""The same objects as homelab-ai renders, written with raw cdk8s-plus-27: the benchmark's floor.

No homelab-ai import on purpose (``homelab_ai.base.plus`` would load the whole library): this is what
a user who wrote the manifests by hand with cdk8s-plus would run. It uses what the library uses
for each object (kplus L2 constructs, cdk8s ``ApiObject`` with JSON patches, the ``k8s`` L1
bindings, the generated Flux and Longhorn bindings in ``imports/``), with the same props, the same
JSON patches, the same YAML dump and file layout (``<kind>-<name>.yaml`` per object, a
kustomization.yaml per folder, SOPS files copied byte for byte). Where homelab-ai adds the patches
of one object from several constructs (hardening, the GPU slice, client wiring), the baseline,
knowing everything up front, passes them in one ``add_json_patch`` call, as a hand-written chart
would. What it leaves out is the homelab-ai layer itself: attrs props and their validators, the
library's own constructs around the objects, construct validations (GPU budget, Pod Security,
load balancer conflicts, SOPS file checks, backup groups) and the atomic dist/ swap.

Structure: a chart is a list of *emitters*, plain functions ``emit(chart)`` that add objects;
``ai_namespace()`` and ``scale(n)`` list them. When homelab-ai gains an object (a NetworkPolicy,
a Job, a Flux Kustomization...), add an emitter that writes it with kplus/ApiObject and append it
to the chart's list; ``python -m bench.compare`` names every object that still differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cdk8s
import cdk8s_plus_27 as kplus
import yaml
from cdk8s_plus_27 import k8s

from bench import scale as scale_spec
from homelab_ai._crds.io import longhorn
from homelab_ai._crds.io.fluxcd.toolkit import helm, kustomize

REPO_ROOT = Path(__file__).resolve().parent.parent
NAME_LABEL = "app.kubernetes.io/name"
MANAGED = {"app.kubernetes.io/managed-by": "homelab-ai"}
SCRIPT_IMAGE = "python:3.13.15-alpine3.24"
POD_SPEC = "/spec/template/spec"

Emitter = Callable[[cdk8s.Chart], None]


class File(NamedTuple):
    """One file of the output tree (same shape as homelab_ai.synth.dist.RenderedFile)."""

    path: str
    content: bytes


@dataclass
class ChartSpec:
    """One cdk8s chart: its id, namespace, dist folder, and the emitters that fill it."""

    id: str
    folder: str
    namespace: str | None = None
    emitters: list[Emitter] = field(default_factory=list)


@dataclass
class Tree:
    """Everything one synth writes: charts, plus files copied as they are (SOPS secrets)."""

    charts: list[ChartSpec]
    copied: dict[str, Path] = field(default_factory=dict)  # dist path -> source file


# ---------------------------------------------------------------------------------------------
# Plain values: what a hand-written chart would keep in constants.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Security:
    """The pod's user, group, fsGroup and root filesystem mode (homelab-ai's SecurityProfile)."""

    user: int = 10001
    group: int = 10001
    fs_group: int = 10001
    read_only_root: bool = True

    def pod_context(self) -> dict:
        return {
            "runAsNonRoot": True,
            "runAsUser": self.user,
            "runAsGroup": self.group,
            "seccompProfile": {"type": "RuntimeDefault"},
            "fsGroup": self.fs_group,
            "fsGroupChangePolicy": "OnRootMismatch",
        }

    def container_context(self) -> dict:
        return {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": self.read_only_root,
            "runAsNonRoot": True,
            "runAsUser": self.user,
            "runAsGroup": self.group,
            "seccompProfile": {"type": "RuntimeDefault"},
        }


DEFAULT_SECURITY = Security()
TMP = ("tmp", "/tmp")  # (emptyDir name, mount path)
DNS_RULE = {
    "to": [
        {
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        }
    ],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
INTERNET_RULE = {
    "to": [
        {
            "ipBlock": {
                "cidr": "0.0.0.0/0",
                "except": [
                    "10.0.0.0/8",
                    "100.64.0.0/10",
                    "127.0.0.0/8",
                    "169.254.0.0/16",
                    "172.16.0.0/12",
                    "192.168.0.0/16",
                ],
            }
        }
    ],
    "ports": [{"port": 443, "protocol": "TCP"}],
}


def pods(name: str) -> dict:
    """A NetworkPolicy peer: the pods of app ``name``."""
    return {"podSelector": {"matchLabels": {NAME_LABEL: name}}}


@dataclass(frozen=True)
class Claim:
    """A Longhorn PVC, protected from Flux's prune, in backup groups when asked."""

    name: str
    size_gib: int
    storage_class: str = "longhorn"
    backup_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mount:
    claim: str
    path: str
    sub_path: str | None = None


@dataclass(frozen=True)
class Policy:
    """The app's NetworkPolicy: who may connect (``clients``), where it may go (``reaches``: app, port)."""

    from_anywhere: bool = False
    clients: tuple[str, ...] = ()
    internet: bool = False
    reaches: tuple[tuple[str, int], ...] = ()


PodExtra = Callable[[cdk8s.Chart, "Pod"], None]


@dataclass(frozen=True)
class Workload:
    """One app's pod, Service and NetworkPolicy, as plain values (what homelab-ai's props carry)."""

    name: str
    image: str
    port: int
    cpu_millis: tuple[int, int]  # request, limit
    memory_mib: tuple[int, int]
    health_path: str
    startup_failures: int
    ready_path: str | None = None  # startup and readiness probes, when the app has one (Open WebUI's /ready)
    secret_checksums: tuple[tuple[str, str], ...] = ()  # (secret, sha256 of its encrypted file) on the pod
    stateful: bool = False
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[tuple[str, str, str], ...] = ()  # (variable, secret, key)
    claims: tuple[Claim, ...] = ()
    mounts: tuple[Mount, ...] = ()
    lb_ip: str | None = None
    gpu: bool = False
    security: Security = DEFAULT_SECURITY
    scratch: tuple[tuple[str, str], ...] = (TMP,)
    policy: Policy = Policy()
    extras: tuple[PodExtra, ...] = ()  # sidecars, init containers
    extra_ports: tuple[tuple[str, int], ...] = ()  # a sidecar's ports on the Service and in the NetworkPolicy


@dataclass
class Pod:
    """What an extra (sidecar, init container) needs of the pod it joins."""

    workload: kplus.Deployment | kplus.StatefulSet
    api_object: cdk8s.ApiObject
    scratch: dict[str, kplus.Volume]
    security: Security


# ---------------------------------------------------------------------------------------------
# Emitters: one function per kind of object, written the way a raw cdk8s-plus user writes them.
# ---------------------------------------------------------------------------------------------


def namespace(name: str, labels: Mapping[str, str] | None = None) -> Emitter:
    def emit(chart: cdk8s.Chart) -> None:
        kplus.Namespace(
            chart, f"Namespace-{name}", metadata=cdk8s.ApiObjectMetadata(name=name, labels=dict(labels or {}) or None)
        )

    return emit


def pod_security_labels(level: str = "restricted", version: str = "latest") -> dict[str, str]:
    labels: dict[str, str] = {}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = version
    return labels


def namespace_isolation() -> Emitter:
    """default-deny both ways, plus DNS egress, for every pod of the chart's namespace."""
    specs = {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [DNS_RULE]},
    }

    def emit(chart: cdk8s.Chart) -> None:
        for name, spec in specs.items():
            policy = cdk8s.ApiObject(
                chart,
                f"NetworkPolicy-{name}",
                api_version="networking.k8s.io/v1",
                kind="NetworkPolicy",
                metadata=cdk8s.ApiObjectMetadata(name=name, labels=dict(MANAGED)),
            )
            policy.add_json_patch(cdk8s.JsonPatch.add("/spec", spec))

    return emit


def device_plugin_config(replicas: int, resource: str = "nvidia.com/gpu") -> str:
    """The NVIDIA device plugin's time-slicing config for one card."""
    config = {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": False,
                "failRequestsGreaterThanOne": True,
                "resources": [{"name": resource, "replicas": replicas}],
            }
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def time_slicing_config_map(name: str, namespace: str, replicas: int) -> Emitter:
    def emit(chart: cdk8s.Chart) -> None:
        kplus.ConfigMap(
            chart,
            f"ConfigMap-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, namespace=namespace, labels=dict(MANAGED)),
            data={"any": device_plugin_config(replicas)},
        )

    return emit


def runtime_class(name: str = "nvidia") -> Emitter:
    def emit(chart: cdk8s.Chart) -> None:
        k8s.KubeRuntimeClass(
            chart, f"RuntimeClass-{name}", metadata=k8s.ObjectMeta(name=name, labels=dict(MANAGED)), handler=name
        )

    return emit


def device_plugin(namespace: str, config_map: str, replicas: int, runtime_class_name: str) -> Emitter:
    """The NVIDIA device plugin: a Flux HelmRepository and HelmRelease; its pods carry the config's checksum."""
    name = "nvidia-device-plugin"
    checksum = hashlib.sha256(f"any\n{device_plugin_config(replicas)}".encode()).hexdigest()

    def emit(chart: cdk8s.Chart) -> None:
        metadata = cdk8s.ApiObjectMetadata(name=name, namespace=namespace, labels=dict(MANAGED))
        repository = cdk8s.ApiObject(
            chart, "HelmRepository", api_version="source.toolkit.fluxcd.io/v1", kind="HelmRepository", metadata=metadata
        )
        repository.add_json_patch(
            cdk8s.JsonPatch.add("/spec", {"url": "https://nvidia.github.io/k8s-device-plugin", "interval": "1h"})
        )
        helm.HelmRelease(
            chart,
            "HelmRelease",
            metadata=metadata,
            spec=helm.HelmReleaseSpec(
                interval="1h",
                chart=helm.HelmReleaseSpecChart(
                    spec=helm.HelmReleaseSpecChartSpec(
                        chart=name,
                        version="0.20.0",
                        source_ref=helm.HelmReleaseSpecChartSpecSourceRef(
                            kind=helm.HelmReleaseSpecChartSpecSourceRefKind.HELM_REPOSITORY,
                            name=name,
                            namespace=namespace,
                        ),
                    )
                ),
                install=helm.HelmReleaseSpecInstall(remediation=helm.HelmReleaseSpecInstallRemediation(retries=3)),
                upgrade=helm.HelmReleaseSpecUpgrade(remediation=helm.HelmReleaseSpecUpgradeRemediation(retries=3)),
                values={
                    "config": {"name": config_map, "default": "any"},
                    "podAnnotations": {"checksum/config": checksum},
                    "runtimeClassName": runtime_class_name,
                },
            ),
        )

    return emit


def retain_storage_class(name: str, replicas: int = 3) -> Emitter:
    """A Longhorn class whose volumes outlive their claims."""

    def emit(chart: cdk8s.Chart) -> None:
        k8s.KubeStorageClass(
            chart,
            f"StorageClass-{name}",
            metadata=k8s.ObjectMeta(name=name, labels=dict(MANAGED)),
            provisioner="driver.longhorn.io",
            reclaim_policy="Retain",
            allow_volume_expansion=True,
            volume_binding_mode="Immediate",
            parameters={
                "numberOfReplicas": str(replicas),
                "staleReplicaTimeout": "30",
                "dataLocality": "disabled",
                "fsType": "ext4",
            },
        )

    return emit


def recurring_job(name: str, task: longhorn.RecurringJobSpecTask, cron: str, group: str, retain: int) -> Emitter:
    def emit(chart: cdk8s.Chart) -> None:
        longhorn.RecurringJob(
            chart,
            f"RecurringJob-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, namespace="longhorn-system", labels=dict(MANAGED)),
            spec=longhorn.RecurringJobSpec(
                name=name, task=task, cron=cron, groups=[group], retain=retain, concurrency=1
            ),
        )

    return emit


def flux_kustomization(
    name: str, folder: str, *, wait: bool = False, depends_on: str | None = None, decrypt: bool = False
) -> Emitter:
    """A Flux Kustomization applying ./dist/<folder> from the flux-system GitRepository."""

    def emit(chart: cdk8s.Chart) -> None:
        kustomize.Kustomization(
            chart,
            f"Kustomization-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, namespace="flux-system", labels=dict(MANAGED)),
            spec=kustomize.KustomizationSpec(
                interval="10m",
                path=f"./dist/{folder}",
                prune=True,
                source_ref=kustomize.KustomizationSpecSourceRef(
                    kind=kustomize.KustomizationSpecSourceRefKind.GIT_REPOSITORY, name="flux-system"
                ),
                depends_on=[kustomize.KustomizationSpecDependsOn(name=depends_on)] if depends_on else None,
                decryption=kustomize.KustomizationSpecDecryption(
                    provider=kustomize.KustomizationSpecDecryptionProvider.SOPS,
                    secret_ref=kustomize.KustomizationSpecDecryptionSecretRef(name="sops-age"),
                )
                if decrypt
                else None,
                wait=wait or None,
            ),
        )

    return emit


def workload(spec: Workload) -> Emitter:
    def emit(chart: cdk8s.Chart) -> None:
        _workload(chart, spec)

    return emit


def _probe(path: str, port: int, failures: int, period: int = 10, timeout: int = 5) -> kplus.Probe:
    return kplus.Probe.from_http_get(
        path,
        port=port,
        failure_threshold=failures,
        period_seconds=cdk8s.Duration.seconds(period),
        timeout_seconds=cdk8s.Duration.seconds(timeout),
    )


def _resources(cpu_millis: tuple[int, int], memory_mib: tuple[int, int]) -> kplus.ContainerResources:
    return kplus.ContainerResources(
        cpu=kplus.CpuResources(request=kplus.Cpu.millis(cpu_millis[0]), limit=kplus.Cpu.millis(cpu_millis[1])),
        memory=kplus.MemoryResources(
            request=cdk8s.Size.mebibytes(memory_mib[0]), limit=cdk8s.Size.mebibytes(memory_mib[1])
        ),
    )


def _claim(chart: cdk8s.Chart, c: Claim) -> kplus.Volume:
    labels = None
    if c.backup_groups:
        labels = {"recurring-job.longhorn.io/source": "enabled"}
        labels.update({f"recurring-job-group.longhorn.io/{g}": "enabled" for g in c.backup_groups})
    claim = kplus.PersistentVolumeClaim(
        chart,
        f"Claim-{c.name}",
        metadata=cdk8s.ApiObjectMetadata(
            name=c.name, labels=labels, annotations={"kustomize.toolkit.fluxcd.io/prune": "disabled"}
        ),
        storage=cdk8s.Size.gibibytes(c.size_gib),
        storage_class_name=c.storage_class,
        access_modes=[kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
        volume_mode=kplus.PersistentVolumeMode.FILE_SYSTEM,
    )
    return kplus.Volume.from_persistent_volume_claim(chart, f"Volume-{c.name}", claim, name=c.name)


def _workload(chart: cdk8s.Chart, w: Workload) -> None:
    volumes = {c.name: _claim(chart, c) for c in w.claims}
    labels = {NAME_LABEL: w.name, **MANAGED}
    service = kplus.Service(
        chart,
        f"Service-{w.name}",
        metadata=cdk8s.ApiObjectMetadata(
            name=w.name,
            labels=labels,
            annotations={"metallb.io/loadBalancerIPs": w.lb_ip} if w.lb_ip else None,
        ),
        type=kplus.ServiceType.LOAD_BALANCER if w.lb_ip else kplus.ServiceType.CLUSTER_IP,
        ports=[
            kplus.ServicePort(name="http", port=80 if w.lb_ip else w.port, target_port=w.port),
            *(kplus.ServicePort(name=n, port=number, target_port=number) for n, number in w.extra_ports),
        ],
    )
    common = dict(
        metadata=cdk8s.ApiObjectMetadata(name=w.name, labels=labels),
        select=False,
        replicas=1,
        pod_metadata=cdk8s.ApiObjectMetadata(labels=labels),
        automount_service_account_token=False,
    )
    if w.stateful:
        pod: kplus.Deployment | kplus.StatefulSet = kplus.StatefulSet(
            chart, f"StatefulSet-{w.name}", service=service, **common
        )
        cdk8s.ApiObject.of(service).add_json_patch(cdk8s.JsonPatch.remove("/spec/selector/cdk8s.io~1metadata.addr"))
    else:
        recreate = w.gpu or bool(w.mounts)
        pod = kplus.Deployment(
            chart,
            f"Deployment-{w.name}",
            strategy=kplus.DeploymentStrategy.recreate() if recreate else None,
            **common,
        )
    pod.select(kplus.LabelSelector.of(labels={NAME_LABEL: w.name}))
    service.select_label(NAME_LABEL, w.name)
    container = pod.add_container(
        name=w.name,
        image=w.image,
        image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
        port_number=w.port,
        args=list(w.args) or None,
        resources=_resources(w.cpu_millis, w.memory_mib),
        startup=_probe(w.ready_path or w.health_path, w.port, w.startup_failures),
        readiness=_probe(w.ready_path or w.health_path, w.port, 3),
        liveness=_probe(w.health_path, w.port, 6),
    )
    # A rotated secret is a new encrypted file: its checksum on the pod template restarts the pods.
    for secret_name, checksum in w.secret_checksums:
        pod.pod_metadata.add_annotation(f"checksum/secret-{secret_name}", checksum)
    secrets: dict[str, kplus.ISecret] = {}
    for variable, secret_name, key in w.secret_env:
        if secret_name not in secrets:
            secrets[secret_name] = kplus.Secret.from_secret_name(chart, f"Secret-{w.name}-{secret_name}", secret_name)
        container.env.add_variable(
            variable, kplus.EnvValue.from_secret_value(kplus.SecretValue(secret=secrets[secret_name], key=key))
        )
    for variable, value in w.env:
        container.env.add_variable(variable, kplus.EnvValue.from_value(value))
    for m in w.mounts:
        container.mount(m.path, volumes[m.claim], sub_path=m.sub_path, read_only=False)
    # Hardening: cdk8s-plus has no props for capabilities or seccomp, so the whole securityContext of
    # the pod and of the container is a JSON patch; /tmp and the other scratch dirs are emptyDirs.
    scratch: dict[str, kplus.Volume] = {}
    for name, path in w.scratch:
        scratch[name] = kplus.Volume.from_empty_dir(chart, f"Scratch-{w.name}-{name}", name)
        container.mount(path, scratch[name])
    patches = [
        # cdk8s-plus stamps its construct-path label on every pod; it would roll pods on a refactor.
        cdk8s.JsonPatch.remove("/spec/template/metadata/labels/cdk8s.io~1metadata.addr"),
        cdk8s.JsonPatch.add(f"{POD_SPEC}/securityContext", w.security.pod_context()),
        cdk8s.JsonPatch.add(f"{POD_SPEC}/automountServiceAccountToken", False),
        cdk8s.JsonPatch.add(f"{POD_SPEC}/containers/0/securityContext", w.security.container_context()),
    ]
    if w.gpu:
        one = k8s.Quantity.from_number(1)
        patches += [
            cdk8s.JsonPatch.add(f"{POD_SPEC}/containers/0/resources/limits/nvidia.com~1gpu", one),
            cdk8s.JsonPatch.add(f"{POD_SPEC}/containers/0/resources/requests/nvidia.com~1gpu", one),
            cdk8s.JsonPatch.add(f"{POD_SPEC}/runtimeClassName", "nvidia"),
            cdk8s.JsonPatch.add(
                f"{POD_SPEC}/tolerations", [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
            ),
        ]
    api_object = cdk8s.ApiObject.of(pod)
    api_object.add_json_patch(*patches)
    _network_policy(chart, w.name, (w.port, *(number for _, number in w.extra_ports)), w.policy)
    for extra in w.extras:
        extra(chart, Pod(pod, api_object, scratch, w.security))


def _network_policy(chart: cdk8s.Chart, name: str, app_ports: tuple[int, ...], p: Policy) -> None:
    """Ingress on the app's ports from anywhere or from its clients; egress to DNS, the internet, its servers."""
    ports = [{"port": port, "protocol": "TCP"} for port in app_ports]
    policy = cdk8s.ApiObject(
        chart,
        f"NetworkPolicy-{name}",
        api_version="networking.k8s.io/v1",
        kind="NetworkPolicy",
        metadata=cdk8s.ApiObjectMetadata(name=name, labels=dict(MANAGED)),
    )
    patches = [
        cdk8s.JsonPatch.add(
            "/spec",
            {
                "podSelector": {"matchLabels": {NAME_LABEL: name}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"ports": ports}] if p.from_anywhere else [],
                "egress": [DNS_RULE],
            },
        )
    ]
    if not p.from_anywhere:
        patches += [cdk8s.JsonPatch.add("/spec/ingress/-", {"from": [pods(c)], "ports": ports}) for c in p.clients]
    if p.internet:
        patches.append(cdk8s.JsonPatch.add("/spec/egress/-", INTERNET_RULE))
    patches += [
        cdk8s.JsonPatch.add("/spec/egress/-", {"to": [pods(server)], "ports": [{"port": number, "protocol": "TCP"}]})
        for server, number in p.reaches
    ]
    policy.add_json_patch(*patches)


def _harden_container(pod: Pod, section: str, index: int, security: Security) -> None:
    pod.api_object.add_json_patch(
        cdk8s.JsonPatch.add(f"{POD_SPEC}/{section}/{index}/securityContext", security.container_context())
    )


def idle_unloader(name: str, web_ui_port: int, secret: str, user: str = "admin") -> PodExtra:
    """The SD idle-unloader sidecar: its script in a ConfigMap, the pod annotated with the script's checksum."""
    script_file = REPO_ROOT / "homelab_ai/services/stable_diffusion/sd_idle_unloader.py"
    script_dir = "/opt/sd-idle-unloader"
    health_port = 8099
    gate_port = 7861

    def extra(chart: cdk8s.Chart, pod: Pod) -> None:
        script = script_file.read_text()
        config_map = kplus.ConfigMap(
            chart,
            f"ConfigMap-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=dict(MANAGED)),
            data={script_file.name: script},
        )
        volume = kplus.Volume.from_config_map(chart, f"Volume-{name}", config_map, name="idle-unloader")
        api_secret = kplus.Secret.from_secret_name(chart, f"Secret-{name}", secret)
        env = {
            "SD_URL": kplus.EnvValue.from_value(f"http://127.0.0.1:{web_ui_port}"),
            "SD_IDLE_TIMEOUT_SECONDS": kplus.EnvValue.from_value("600"),
            "SD_POLL_INTERVAL_SECONDS": kplus.EnvValue.from_value("15"),
            "SD_MAX_BACKOFF_SECONDS": kplus.EnvValue.from_value("120"),
            "SD_HEALTH_PORT": kplus.EnvValue.from_value(str(health_port)),
            "PYTHONDONTWRITEBYTECODE": kplus.EnvValue.from_value("1"),
            "SD_GATE_PORT": kplus.EnvValue.from_value(str(gate_port)),
            "SD_API_USER": kplus.EnvValue.from_value(user),
            "SD_API_PASSWORD": kplus.EnvValue.from_secret_value(kplus.SecretValue(secret=api_secret, key="password")),
        }
        container = pod.workload.add_container(
            name="idle-unloader",
            image=SCRIPT_IMAGE,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["python", f"{script_dir}/{script_file.name}"],
            env_variables=env,
            ports=[
                kplus.ContainerPort(number=health_port, name="unloader-health"),
                kplus.ContainerPort(number=gate_port, name="api-gate"),
            ],
            resources=_resources((10, 100), (32, 64)),
            startup=_probe("/healthz", health_port, 15, period=2, timeout=3),
            readiness=_probe("/healthz", health_port, 3, period=10, timeout=3),
            liveness=_probe("/healthz", health_port, 3, period=30, timeout=3),
        )
        container.mount(script_dir, volume, read_only=True)
        container.mount(TMP[1], pod.scratch[TMP[0]])
        _harden_container(pod, "containers", 1, DEFAULT_SECURITY)
        pod.workload.pod_metadata.add_annotation(
            "homelab-ai/idle-unloader-checksum", hashlib.sha256(script.encode()).hexdigest()
        )

    return extra


def vram_arbiter(
    name: str, config: dict, clients: tuple[str, ...], servers: tuple[tuple[str, int], ...], sd_secret_checksum: str
) -> Emitter:
    """The VRAM arbiter: its script and config in a ConfigMap, a hardened Deployment, Service and NetworkPolicy."""
    script_file = REPO_ROOT / "homelab_ai/services/vram_arbiter/vram_arbiter.py"
    script_dir = "/opt/vram-arbiter"
    ports = {app["name"]: app["listen_port"] for app in config["apps"]} | {"metrics": config["status_port"]}

    def emit(chart: cdk8s.Chart) -> None:
        script = script_file.read_text()
        text = json.dumps(config, indent=2, sort_keys=True) + "\n"
        labels = {NAME_LABEL: name, **MANAGED}
        config_map = kplus.ConfigMap(
            chart,
            f"ConfigMap-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=labels),
            data={script_file.name: script, "config.json": text},
        )
        pod = kplus.Deployment(
            chart,
            f"Deployment-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=labels),
            select=False,
            replicas=1,
            strategy=kplus.DeploymentStrategy.recreate(),
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels,
                annotations={"homelab-ai/vram-arbiter-checksum": hashlib.sha256((script + text).encode()).hexdigest()},
            ),
            automount_service_account_token=False,
        )
        pod.select(kplus.LabelSelector.of(labels={NAME_LABEL: name}))
        pod.pod_metadata.add_annotation("checksum/secret-stable-diffusion-secret", sd_secret_checksum)
        secret = kplus.Secret.from_secret_name(chart, f"Secret-{name}", "stable-diffusion-secret")
        container = pod.add_container(
            name="arbiter",
            image=SCRIPT_IMAGE,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["python", "-I", f"{script_dir}/{script_file.name}"],
            env_variables={
                "PYTHONDONTWRITEBYTECODE": kplus.EnvValue.from_value("1"),
                "VRAM_ARBITER_CONFIG": kplus.EnvValue.from_value(f"{script_dir}/config.json"),
                "SD_API_USER": kplus.EnvValue.from_value("admin"),
                "SD_API_PASSWORD": kplus.EnvValue.from_secret_value(kplus.SecretValue(secret=secret, key="password")),
            },
            ports=[kplus.ContainerPort(number=number, name=port_name) for port_name, number in ports.items()],
            resources=_resources((50, 500), (64, 256)),
            startup=_probe("/healthz", ports["metrics"], 30, period=2, timeout=3),
            readiness=_probe("/healthz", ports["metrics"], 3, period=10, timeout=3),
            liveness=_probe("/healthz", ports["metrics"], 3, period=20, timeout=3),
        )
        container.mount(
            script_dir, kplus.Volume.from_config_map(chart, f"Volume-{name}", config_map, name="files"), read_only=True
        )
        container.mount(TMP[1], kplus.Volume.from_empty_dir(chart, f"Scratch-{name}-tmp", TMP[0]))
        cdk8s.ApiObject.of(pod).add_json_patch(
            cdk8s.JsonPatch.remove("/spec/template/metadata/labels/cdk8s.io~1metadata.addr"),
            cdk8s.JsonPatch.add(f"{POD_SPEC}/securityContext", DEFAULT_SECURITY.pod_context()),
            cdk8s.JsonPatch.add(f"{POD_SPEC}/automountServiceAccountToken", False),
            cdk8s.JsonPatch.add(f"{POD_SPEC}/containers/0/securityContext", DEFAULT_SECURITY.container_context()),
        )
        service = kplus.Service(
            chart,
            f"Service-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=labels),
            type=kplus.ServiceType.CLUSTER_IP,
            ports=[kplus.ServicePort(name=n, port=number, target_port=number) for n, number in ports.items()],
        )
        service.select_label(NAME_LABEL, name)
        proxy_ports = [{"port": number, "protocol": "TCP"} for n, number in ports.items() if n != "metrics"]
        policy = cdk8s.ApiObject(
            chart,
            f"NetworkPolicy-{name}",
            api_version="networking.k8s.io/v1",
            kind="NetworkPolicy",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=dict(MANAGED)),
        )
        policy.add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {
                    "podSelector": {"matchLabels": {NAME_LABEL: name}},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [{"from": [pods(c)], "ports": proxy_ports} for c in clients],
                    "egress": [DNS_RULE]
                    + [{"to": [pods(s)], "ports": [{"port": n, "protocol": "TCP"}]} for s, n in servers],
                },
            )
        )

    return emit


def seed_static_dir(image: str, static_dir: str, seed: str = "/seed") -> PodExtra:
    """Open WebUI's init container: copies the image's static folder into the emptyDir that replaces it."""

    def extra(chart: cdk8s.Chart, pod: Pod) -> None:
        container = pod.workload.add_init_container(
            name="seed-static",
            image=image,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["sh", "-c", f"cp -R {static_dir}/. {seed}/"],
            resources=_resources((50, 500), (64, 256)),
        )
        container.mount(seed, pod.scratch["static"])
        _harden_container(pod, "initContainers", 0, pod.security)

    return extra


def _ollama_model(name: str) -> str:
    """The full name Ollama stores a model under (the pull Job's name hashes it): ``llama3.2`` is
    ``registry.ollama.ai/library/llama3.2:latest``."""
    name = name.strip().lower()
    slash, colon = name.rfind("/"), name.rfind(":")
    base, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, "latest")
    parts = base.split("/")
    if len(parts) < 3:
        parts = ["registry.ollama.ai", *(["library"] if len(parts) == 1 else []), *parts]
    return f"{'/'.join(parts)}:{tag or 'latest'}"


def model_pull(name: str, server_url: str, models: tuple[str, ...], server: str, server_port: int) -> Emitter:
    """The Job that pulls the models through Ollama's API, its script's ConfigMap, its NetworkPolicy."""
    script_file = "ollama_pull.py"
    script_dir = "/opt/homelab-ai"
    digest = hashlib.sha256("\n".join(sorted({_ollama_model(m) for m in models})).encode()).hexdigest()[:8]
    labels = {NAME_LABEL: name, "app.kubernetes.io/component": "model-pull", **MANAGED}
    nobody = 65534

    def emit(chart: cdk8s.Chart) -> None:
        script = (REPO_ROOT / "homelab_ai/services/ollama" / script_file).read_text(encoding="utf-8")
        k8s.KubeConfigMap(
            chart, f"ConfigMap-{name}", metadata=k8s.ObjectMeta(name=name, labels=labels), data={script_file: script}
        )
        container = k8s.Container(
            name="pull",
            image=SCRIPT_IMAGE,
            image_pull_policy="IfNotPresent",
            command=["python", f"{script_dir}/{script_file}"],
            args=["--server", server_url, "--wait-seconds", "1200", *models],
            env=[k8s.EnvVar(name="PYTHONDONTWRITEBYTECODE", value="1")],
            resources=k8s.ResourceRequirements(
                requests={"cpu": k8s.Quantity.from_string("50m"), "memory": k8s.Quantity.from_string("64Mi")},
                limits={"cpu": k8s.Quantity.from_string("500m"), "memory": k8s.Quantity.from_string("256Mi")},
            ),
            security_context=k8s.SecurityContext(
                allow_privilege_escalation=False,
                privileged=False,
                read_only_root_filesystem=True,
                capabilities=k8s.Capabilities(drop=["ALL"]),
                run_as_non_root=True,
                seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
            ),
            volume_mounts=[k8s.VolumeMount(name="script", mount_path=script_dir, read_only=True)],
        )
        k8s.KubeJob(
            chart,
            f"Job-{name}",
            metadata=k8s.ObjectMeta(
                name=f"{name}-{digest}",
                labels=labels,
                annotations={"homelab-ai/models": ",".join(models), "kustomize.toolkit.fluxcd.io/force": "enabled"},
            ),
            spec=k8s.JobSpec(
                backoff_limit=3,
                active_deadline_seconds=6 * 3600,
                template=k8s.PodTemplateSpec(
                    metadata=k8s.ObjectMeta(labels=labels),
                    spec=k8s.PodSpec(
                        restart_policy="Never",
                        automount_service_account_token=False,
                        enable_service_links=False,
                        security_context=k8s.PodSecurityContext(
                            run_as_non_root=True,
                            run_as_user=nobody,
                            run_as_group=nobody,
                            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
                        ),
                        containers=[container],
                        volumes=[
                            k8s.Volume(
                                name="script", config_map=k8s.ConfigMapVolumeSource(name=name, default_mode=0o444)
                            )
                        ],
                    ),
                ),
            ),
        )
        _network_policy(chart, name, (), Policy(reaches=((server, server_port),)))

    return emit


LONGHORN_JOBS = "longhorn_jobs.py"
SCRIPT_DIR = "/opt/homelab-ai"
API_RULE = {
    "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
    "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
}


def _quantities(cpu_millis: tuple[int, int], memory_mib: tuple[int, int]) -> dict[str, dict[str, str]]:
    return {
        "requests": {"cpu": f"{cpu_millis[0]}m", "memory": f"{memory_mib[0]}Mi"},
        "limits": {"cpu": f"{cpu_millis[1]}m", "memory": f"{memory_mib[1]}Mi"},
    }


def _api_pod(config_map: str, args: list[str], account: str) -> k8s.PodSpec:
    """longhorn_jobs.py from its ConfigMap, as nobody, with the service account's token."""
    quantities = _quantities((50, 500), (64, 256))
    container = k8s.Container(
        name="run",
        image=SCRIPT_IMAGE,
        image_pull_policy="IfNotPresent",
        command=["python", f"{SCRIPT_DIR}/{LONGHORN_JOBS}"],
        args=args,
        env=[k8s.EnvVar(name="PYTHONDONTWRITEBYTECODE", value="1")],
        resources=k8s.ResourceRequirements(
            requests={k: k8s.Quantity.from_string(v) for k, v in quantities["requests"].items()},
            limits={k: k8s.Quantity.from_string(v) for k, v in quantities["limits"].items()},
        ),
        security_context=k8s.SecurityContext(
            allow_privilege_escalation=False,
            privileged=False,
            read_only_root_filesystem=True,
            capabilities=k8s.Capabilities(drop=["ALL"]),
            run_as_non_root=True,
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
        ),
        volume_mounts=[k8s.VolumeMount(name="script", mount_path=SCRIPT_DIR, read_only=True)],
    )
    return k8s.PodSpec(
        restart_policy="Never",
        service_account_name=account,
        automount_service_account_token=True,
        enable_service_links=False,
        security_context=k8s.PodSecurityContext(
            run_as_non_root=True,
            run_as_user=65534,
            run_as_group=65534,
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
        ),
        containers=[container],
        volumes=[k8s.Volume(name="script", config_map=k8s.ConfigMapVolumeSource(name=config_map, default_mode=0o444))],
    )


def _rule(group: str, resource: str, verbs: list[str], names: list[str] | None = None) -> k8s.PolicyRule:
    return k8s.PolicyRule(api_groups=[group], resources=[resource], verbs=verbs, resource_names=names)


def _role(chart: cdk8s.Chart, name: str, namespace: str, account: str, account_ns: str, rules: list) -> None:
    k8s.KubeRole(
        chart,
        f"Role-{namespace}-{name}",
        metadata=k8s.ObjectMeta(name=name, namespace=namespace, labels=dict(MANAGED)),
        rules=rules,
    )
    k8s.KubeRoleBinding(
        chart,
        f"RoleBinding-{namespace}-{name}",
        metadata=k8s.ObjectMeta(name=name, namespace=namespace, labels=dict(MANAGED)),
        role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
        subjects=[k8s.Subject(kind="ServiceAccount", name=account, namespace=account_ns)],
    )


def _script(file: str) -> str:
    return (REPO_ROOT / "homelab_ai/cluster/longhorn" / file).read_text(encoding="utf-8")


def pre_upgrade_snapshot(name: str, namespace: str, claim: str, claims_namespace: str, image: str) -> Emitter:
    """The Job (named for the image) that snapshots the claim's Longhorn volume, its ConfigMap and RBAC."""
    job = f"{name}-{hashlib.sha256(image.encode()).hexdigest()[:8]}"
    snapshot = (
        f"{claim[:40].rstrip('-')}-pre-{hashlib.sha256(f'{claims_namespace}/{claim}@{image}'.encode()).hexdigest()[:8]}"
    )
    labels = {NAME_LABEL: name, "app.kubernetes.io/component": "pre-upgrade", **MANAGED}

    def emit(chart: cdk8s.Chart) -> None:
        meta = k8s.ObjectMeta(name=name, namespace=namespace, labels=labels)
        k8s.KubeConfigMap(chart, f"ConfigMap-{name}", metadata=meta, data={LONGHORN_JOBS: _script(LONGHORN_JOBS)})
        k8s.KubeServiceAccount(chart, f"ServiceAccount-{name}", metadata=meta, automount_service_account_token=False)
        _role(
            chart,
            name,
            namespace,
            name,
            namespace,
            [
                _rule("longhorn.io", "volumes", ["list"]),
                _rule("longhorn.io", "snapshots", ["create"]),
                _rule("longhorn.io", "snapshots", ["get"], [snapshot]),
            ],
        )
        args = ["snapshot", "--namespace", claims_namespace, "--image", image, "--longhorn-namespace", namespace]
        args += ["--wait-seconds", "900", "--claim", claim, "--snapshot", snapshot]
        k8s.KubeJob(
            chart,
            f"Job-{name}",
            metadata=k8s.ObjectMeta(
                name=job,
                namespace=namespace,
                labels=labels,
                annotations={
                    "homelab-ai/image": image,
                    "homelab-ai/snapshots": snapshot,
                    "kustomize.toolkit.fluxcd.io/force": "enabled",
                },
            ),
            spec=k8s.JobSpec(
                backoff_limit=2,
                active_deadline_seconds=900 + 600,
                template=k8s.PodTemplateSpec(metadata=k8s.ObjectMeta(labels=labels), spec=_api_pod(name, args, name)),
            ),
        )

    return emit


def restore_drill(
    claim: str,
    namespace: str,
    size_gib: int,
    schedule: str,
    check: list[str],
    security: Security,
    timeout_s: int = 7200,
) -> Emitter:
    """The CronJob that restores the claim's newest backup and checks it, with its ConfigMap, RBAC and policy."""
    name = f"restore-drill-{claim}"
    scratch, job, result, storage_class = f"{name}-scratch", f"{name}-check", f"{name}-result", f"{name}.{namespace}"
    labels = {NAME_LABEL: name, "app.kubernetes.io/component": "restore-drill", **MANAGED}
    check_labels = {NAME_LABEL: job, "app.kubernetes.io/component": "restore-drill", **MANAGED}
    config = {
        "name": name,
        "namespace": namespace,
        "claim": claim,
        "longhornNamespace": "longhorn-system",
        "timeoutSeconds": timeout_s,
        "storageClass": {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": storage_class, "labels": dict(MANAGED)},
            "provisioner": "driver.longhorn.io",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": False,
            "parameters": {"numberOfReplicas": "1", "staleReplicaTimeout": "30", "fsType": "ext4"},
        },
        "scratchClaim": {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": scratch, "namespace": namespace, "labels": check_labels},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": storage_class,
                "resources": {"requests": {"storage": f"{size_gib}Gi"}},
            },
        },
        "checkJob": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": job, "namespace": namespace, "labels": check_labels},
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": timeout_s,
                "template": {
                    "metadata": {"labels": check_labels},
                    "spec": {
                        "restartPolicy": "Never",
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "securityContext": security.pod_context(),
                        "containers": [
                            {
                                "name": "check",
                                "image": SCRIPT_IMAGE,
                                "imagePullPolicy": "IfNotPresent",
                                "command": [
                                    "python",
                                    f"{SCRIPT_DIR}/{LONGHORN_JOBS}",
                                    "check",
                                    "--path",
                                    "/restored",
                                    *check,
                                ],
                                "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
                                "resources": _quantities((100, 1000), (128, 1024)),
                                "securityContext": {**security.container_context(), "readOnlyRootFilesystem": True},
                                "volumeMounts": [
                                    {"name": "restored", "mountPath": "/restored"},
                                    {"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True},
                                    {"name": "tmp", "mountPath": "/tmp"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "restored", "persistentVolumeClaim": {"claimName": scratch}},
                            {"name": "script", "configMap": {"name": name, "defaultMode": 0o444}},
                            {"name": "tmp", "emptyDir": {}},
                        ],
                    },
                },
            },
        },
        "resultConfigMap": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": result,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/component": "restore-drill", **MANAGED},
            },
        },
    }

    def emit(chart: cdk8s.Chart) -> None:
        meta = k8s.ObjectMeta(name=name, labels=labels)
        data = {
            LONGHORN_JOBS: _script(LONGHORN_JOBS),
            "drill.json": json.dumps(config, indent=2, sort_keys=True) + "\n",
        }
        k8s.KubeConfigMap(chart, f"ConfigMap-{name}", metadata=meta, data=data)
        k8s.KubeServiceAccount(chart, f"ServiceAccount-{name}", metadata=meta, automount_service_account_token=False)
        _role(
            chart,
            name,
            namespace,
            name,
            namespace,
            [
                _rule("", "persistentvolumeclaims", ["get"], [claim, scratch]),
                _rule("", "persistentvolumeclaims", ["create"]),
                _rule("", "persistentvolumeclaims", ["delete"], [scratch]),
                _rule("batch", "jobs", ["create"]),
                _rule("batch", "jobs", ["get", "delete"], [job]),
                _rule("", "pods", ["list"]),
                _rule("", "configmaps", ["create"]),
                _rule("", "configmaps", ["update"], [result]),
            ],
        )
        _role(chart, f"{name}-backups", "longhorn-system", name, namespace, [_rule("longhorn.io", "backups", ["list"])])
        cluster_objects = [
            k8s.KubeClusterRole(
                chart,
                f"ClusterRole-{storage_class}",
                metadata=k8s.ObjectMeta(name=storage_class, labels=dict(MANAGED)),
                rules=[
                    _rule("storage.k8s.io", "storageclasses", ["create"]),
                    _rule("storage.k8s.io", "storageclasses", ["delete"], [storage_class]),
                ],
            ),
            k8s.KubeClusterRoleBinding(
                chart,
                f"ClusterRoleBinding-{storage_class}",
                metadata=k8s.ObjectMeta(name=storage_class, labels=dict(MANAGED)),
                role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=storage_class),
                subjects=[k8s.Subject(kind="ServiceAccount", name=name, namespace=namespace)],
            ),
        ]
        for obj in cluster_objects:
            obj.add_json_patch(cdk8s.JsonPatch.remove("/metadata/namespace"))
        policy = cdk8s.ApiObject(
            chart,
            f"NetworkPolicy-{name}",
            api_version="networking.k8s.io/v1",
            kind="NetworkPolicy",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=dict(MANAGED)),
        )
        policy.add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {
                    "podSelector": {"matchLabels": {NAME_LABEL: name}},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [],
                    "egress": [DNS_RULE, API_RULE],
                },
            )
        )
        k8s.KubeCronJob(
            chart,
            f"CronJob-{name}",
            metadata=meta,
            spec=k8s.CronJobSpec(
                schedule=schedule,
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=1,
                failed_jobs_history_limit=1,
                job_template=k8s.JobTemplateSpec(
                    metadata=k8s.ObjectMeta(labels=labels),
                    spec=k8s.JobSpec(
                        backoff_limit=0,
                        active_deadline_seconds=timeout_s + 900,
                        template=k8s.PodTemplateSpec(
                            metadata=k8s.ObjectMeta(labels=labels),
                            spec=_api_pod(name, ["drill", "--config", f"{SCRIPT_DIR}/drill.json"], name),
                        ),
                    ),
                ),
            ),
        )

    return emit


# ---------------------------------------------------------------------------------------------
# The two trees the benchmark synthesizes.
# ---------------------------------------------------------------------------------------------


def ai_namespace(repo_root: Path = REPO_ROOT) -> Tree:
    """apps/homelab.py's charts, with homelab-ai's defaults written out."""
    sd_auth = "admin:$(SD_WEBUI_PASSWORD)"
    sd_root = "/app/stable-diffusion-webui"
    webui_static = "/app/backend/open_webui/static"
    webui_image = "ghcr.io/open-webui/open-webui:v0.12.4"
    user_data = "user-data"
    secret_files = {
        "open-webui-secret": repo_root / "apps/secrets/open-webui.sops.yaml",
        "stable-diffusion-secret": repo_root / "apps/secrets/stable-diffusion.sops.yaml",
    }
    checksum = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in secret_files.items()}
    ollama = Workload(
        name="ollama",
        image="ollama/ollama:0.32.15",
        port=11434,
        cpu_millis=(2000, 8000),
        memory_mib=(8192, 32768),
        health_path="/api/version",
        startup_failures=30,
        stateful=True,
        env=(
            ("OLLAMA_HOST", "0.0.0.0:11434"),
            ("OLLAMA_MODELS", "/models/models"),
            ("OLLAMA_KEEP_ALIVE", "5m"),
            ("OLLAMA_MAX_LOADED_MODELS", "1"),
            ("OLLAMA_NUM_PARALLEL", "1"),
            ("OLLAMA_CONTEXT_LENGTH", "4096"),
            ("HOME", "/tmp"),
        ),
        claims=(Claim("ollama-models", 100),),
        mounts=(Mount("ollama-models", "/models"),),
        gpu=True,
        policy=Policy(clients=("ollama-pull-models", "vram-arbiter"), internet=True),
    )
    stable_diffusion = Workload(
        name="stable-diffusion",
        image="universonic/stable-diffusion-webui:full",
        port=7860,
        cpu_millis=(2000, 8000),
        memory_mib=(8192, 24576),
        health_path="/internal/ping",
        startup_failures=120,
        args=("--listen", "--port", "7860", "--gradio-auth", sd_auth, "--api", "--api-auth", sd_auth),
        secret_env=(("SD_WEBUI_PASSWORD", "stable-diffusion-secret", "password"),),
        secret_checksums=(("stable-diffusion-secret", checksum["stable-diffusion-secret"]),),
        claims=(Claim("sd-data", 150, "longhorn-retain", (user_data,)),),
        mounts=(
            Mount("sd-data", f"{sd_root}/models", "models"),
            Mount("sd-data", f"{sd_root}/outputs", "outputs"),
        ),
        lb_ip="10.10.2.26",
        gpu=True,
        security=Security(user=1000, group=1000, fs_group=1000, read_only_root=False),
        policy=Policy(from_anywhere=True, internet=True),
        extras=(idle_unloader("stable-diffusion-idle-unloader", 7860, "stable-diffusion-secret"),),
        extra_ports=(("api-gate", 7861),),
    )
    envelope = {"idle_gib": 0, "active_min_gib": 8}
    arbiter_config = {
        "card": {"name": "NVIDIA RTX 4000 SFF", "vram_gib": 24},
        "status_port": 9400,
        "poll_interval_seconds": 2.0,
        "unload_timeout_seconds": 60.0,
        "apps": [
            {
                "name": "ollama",
                "kind": "ollama",
                "upstream": "http://ollama.ai.svc.cluster.local:11434",
                "listen_port": 11434,
                "envelope": {**envelope, "active_max_gib": 16},
                "max_wait_seconds": 120.0,
                "keep_alive_cap_seconds": 300.0,
                "max_loaded_models": 1,
            },
            {
                "name": "stable-diffusion",
                "kind": "automatic1111",
                "upstream": "http://stable-diffusion.ai.svc.cluster.local:80",
                "listen_port": 7860,
                "envelope": {**envelope, "active_max_gib": 12},
                "max_wait_seconds": 300.0,
                "auth": {"user_env": "SD_API_USER", "password_env": "SD_API_PASSWORD"},
            },
        ],
    }
    open_webui = Workload(
        name="open-webui",
        image=webui_image,
        port=8080,
        cpu_millis=(500, 2000),
        memory_mib=(1024, 4096),
        health_path="/health",
        ready_path="/ready",
        startup_failures=60,
        secret_env=(
            ("WEBUI_SECRET_KEY", "open-webui-secret", "WEBUI_SECRET_KEY"),
            ("AUTOMATIC1111_API_PASSWORD", "stable-diffusion-secret", "password"),
        ),
        secret_checksums=tuple(checksum.items()),
        env=(
            ("OLLAMA_BASE_URL", "http://vram-arbiter.ai.svc.cluster.local:11434"),
            ("DATA_DIR", "/app/backend/data"),
            ("HOME", "/tmp"),
            ("ENABLE_PERSISTENT_CONFIG", "False"),
            ("ENABLE_IMAGE_GENERATION", "true"),
            ("IMAGE_GENERATION_ENGINE", "automatic1111"),
            ("AUTOMATIC1111_BASE_URL", "http://vram-arbiter.ai.svc.cluster.local:7860"),
            ("AUTOMATIC1111_API_AUTH", "admin:$(AUTOMATIC1111_API_PASSWORD)"),
        ),
        claims=(Claim("open-webui-data", 10, "longhorn-retain", (user_data,)),),
        mounts=(Mount("open-webui-data", "/app/backend/data"),),
        lb_ip="10.10.2.25",
        scratch=(TMP, ("static", webui_static)),
        policy=Policy(from_anywhere=True, internet=True, reaches=(("vram-arbiter", 11434), ("vram-arbiter", 7860))),
        extras=(seed_static_dir(webui_image, webui_static),),
    )
    return Tree(
        charts=[
            ChartSpec(
                "infrastructure",
                "infrastructure",
                emitters=[
                    retain_storage_class("longhorn-retain"),
                    recurring_job(
                        "user-data-snapshot", longhorn.RecurringJobSpecTask.SNAPSHOT, "0 * * * *", user_data, 24
                    ),
                    recurring_job("user-data-backup", longhorn.RecurringJobSpecTask.BACKUP, "0 3 * * *", user_data, 14),
                    namespace("nvidia-device-plugin"),
                    time_slicing_config_map("nvidia-time-slicing", "nvidia-device-plugin", replicas=4),
                    runtime_class("nvidia"),
                    device_plugin("nvidia-device-plugin", "nvidia-time-slicing", 4, "nvidia"),
                    pre_upgrade_snapshot(
                        "open-webui-pre-upgrade", "longhorn-system", "open-webui-data", "ai", webui_image
                    ),
                ],
            ),
            ChartSpec("ai-namespace", "ai", emitters=[namespace("ai", pod_security_labels())]),
            ChartSpec(
                "ai",
                "ai",
                namespace="ai",
                emitters=[
                    namespace_isolation(),
                    workload(ollama),
                    model_pull(
                        "ollama-pull-models",
                        "http://ollama.ai.svc.cluster.local:11434",
                        ("llama3.2",),
                        "ollama",
                        11434,
                    ),
                    workload(stable_diffusion),
                    vram_arbiter(
                        "vram-arbiter",
                        arbiter_config,
                        clients=("open-webui",),
                        servers=(("ollama", 11434), ("stable-diffusion", 7860), ("stable-diffusion", 7861)),
                        sd_secret_checksum=checksum["stable-diffusion-secret"],
                    ),
                    workload(open_webui),
                    restore_drill(
                        "open-webui-data", "ai", 10, "30 4 * * 0", ["--sqlite", "webui.db"], DEFAULT_SECURITY
                    ),
                    restore_drill(
                        "sd-data",
                        "ai",
                        150,
                        "30 5 1 * *",
                        ["--min-files", "1"],
                        Security(user=1000, group=1000, fs_group=1000, read_only_root=False),
                        timeout_s=6 * 3600,
                    ),
                ],
            ),
            ChartSpec(
                "flux",
                "flux",
                emitters=[
                    flux_kustomization("homelab-ai-infrastructure", "infrastructure", wait=True),
                    flux_kustomization("homelab-ai-apps", "ai", depends_on="homelab-ai-infrastructure", decrypt=True),
                ],
            ),
        ],
        copied={
            "ai/secret-open-webui-secret.sops.yaml": repo_root / "apps/secrets/open-webui.sops.yaml",
            "ai/secret-stable-diffusion-secret.sops.yaml": repo_root / "apps/secrets/stable-diffusion.sops.yaml",
        },
    )


def scale(n: int) -> Tree:
    """bench/scale.py's generated chart of ``n`` GPU apps, in raw cdk8s-plus."""
    infra: list[Emitter] = [namespace("nvidia-device-plugin")]
    for card in range(scale_spec.cards_for(n)):
        infra.append(
            time_slicing_config_map(
                f"nvidia-time-slicing-{card}", "nvidia-device-plugin", replicas=scale_spec.APPS_PER_CARD
            )
        )
    clients: dict[int, list[str]] = {}
    for index in range(n):
        server = scale_spec.client_of(index)
        if server is not None:
            clients.setdefault(server, []).append(scale_spec.app_name(index))
    apps: list[Emitter] = [namespace_isolation()]
    for index in range(n):
        name = scale_spec.app_name(index)
        server = scale_spec.client_of(index)
        exposed = scale_spec.is_exposed(index)
        apps.append(
            workload(
                Workload(
                    name=name,
                    image="example/model-server:1.2.3",
                    port=8000,
                    cpu_millis=(1000, 4000),
                    memory_mib=(2048, 8192),
                    health_path="/healthz",
                    startup_failures=30,
                    stateful=scale_spec.is_stateful(index),
                    env=(
                        ("MODEL_DIR", "/data/models"),
                        ("APP_INDEX", str(index)),
                        (scale_spec.KEEP_ALIVE_VARIABLE, f"{scale_spec.KEEP_ALIVE_MINUTES}m"),
                    ),
                    claims=(Claim(f"{name}-data", 20),),
                    mounts=(Mount(f"{name}-data", "/data"),),
                    lb_ip=scale_spec.lb_ip(index) if exposed else None,
                    gpu=True,
                    policy=Policy(
                        from_anywhere=exposed,
                        clients=tuple(clients.get(index, ())),
                        reaches=((scale_spec.app_name(server), 8000),) if server is not None else (),
                    ),
                )
            )
        )
    return Tree(
        charts=[
            ChartSpec("infrastructure", "infrastructure", emitters=infra),
            ChartSpec("ai-namespace", "ai", emitters=[namespace(scale_spec.NAMESPACE, pod_security_labels())]),
            ChartSpec("ai", "ai", namespace=scale_spec.NAMESPACE, emitters=apps),
        ]
    )


# ---------------------------------------------------------------------------------------------
# Build, render, write: the same steps and YAML dump as homelab_ai.synth.dist, minus validation.
# ---------------------------------------------------------------------------------------------


def build(tree: Tree) -> cdk8s.App:
    app = cdk8s.App()
    for spec in tree.charts:
        chart = cdk8s.Chart(app, spec.id, namespace=spec.namespace, disable_resource_name_hashes=True)
        for emit in spec.emitters:
            emit(chart)
    return app


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """A copy of homelab_ai.synth.dist's dumper: block style, literal multi-line strings, no anchors; libyaml's
    emitter, as homelab-ai uses for every manifest here (bench.compare checks the bytes are the same)."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str_presenter)


def to_yaml(obj: object) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1_000_000)


def render(app: cdk8s.App, tree: Tree) -> list[File]:
    folders = folders_of(tree)
    files: dict[str, bytes] = {}
    for chart in app.charts:
        folder = folders[chart.node.id]
        for manifest in chart.to_json():
            kind = str(manifest["kind"]).lower()
            files[f"{folder}/{kind}-{manifest['metadata']['name']}.yaml"] = to_yaml(manifest).encode()
    for path, source in tree.copied.items():
        files[path] = source.read_bytes()
    for folder in sorted(set(folders.values())):
        resources = sorted(Path(p).name for p in files if Path(p).parent == Path(folder))
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        }
        files[f"{folder}/kustomization.yaml"] = to_yaml(kustomization).encode()
    return [File(path, content) for path, content in sorted(files.items())]


def write(files: Iterable[File], outdir: Path) -> None:
    for item in files:
        target = outdir / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.content)


def synth(tree: Tree, outdir: Path | None = None) -> list[File]:
    files = render(build(tree), tree)
    if outdir is not None:
        write(files, outdir)
    return files


def folders_of(tree: Tree) -> Mapping[str, str]:
    return {spec.id: spec.folder for spec in tree.charts}
