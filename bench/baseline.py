"""The same objects as homelab-ai renders, written with raw cdk8s-plus-27: the benchmark's floor.

No homelab-ai import on purpose (``homelab_ai.plus`` would load the whole library): this is what
a user who wrote the manifests by hand with cdk8s-plus would run. Same props, same JSON patches,
same YAML dump, same file layout (``<kind>-<name>.yaml`` per object, a kustomization.yaml per
folder, SOPS files copied byte for byte); what it leaves out is the homelab-ai layer itself:
attrs props and their validators, construct validations (load balancer conflicts, SOPS file
checks) and the atomic dist/ swap.

Structure: a chart is a list of *emitters*, plain functions ``emit(chart)`` that add objects;
``ai_namespace()`` and ``scale(n)`` list them. When homelab-ai gains an object (a NetworkPolicy,
a Job, a Flux Kustomization...), add an emitter that writes it with kplus/ApiObject and append it
to the chart's list; ``python -m bench.compare`` names every object that still differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cdk8s
import cdk8s_plus_27 as kplus
import yaml

from bench import scale as scale_spec

REPO_ROOT = Path(__file__).resolve().parent.parent
NAME_LABEL = "app.kubernetes.io/name"
MANAGED = {"app.kubernetes.io/managed-by": "homelab-ai"}

Emitter = Callable[[cdk8s.Chart], None]


class File(NamedTuple):
    """One file of the output tree (same shape as homelab_ai.dist.RenderedFile)."""

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
# Emitters: one function per kind of object, written the way a raw cdk8s-plus user writes them.
# ---------------------------------------------------------------------------------------------


def namespace(name: str) -> Emitter:
    def emit(chart: cdk8s.Chart) -> None:
        kplus.Namespace(chart, f"Namespace-{name}", metadata=cdk8s.ApiObjectMetadata(name=name))

    return emit


def time_slicing_config_map(name: str, namespace: str, replicas: int, resource: str = "nvidia.com/gpu") -> Emitter:
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

    def emit(chart: cdk8s.Chart) -> None:
        kplus.ConfigMap(
            chart,
            f"ConfigMap-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, namespace=namespace, labels=dict(MANAGED)),
            data={"any": yaml.safe_dump(config, sort_keys=False)},
        )

    return emit


def pvc(name: str, size_gib: int) -> Emitter:
    """A Longhorn claim; the pod's volume is made from it when a workload mounts it."""

    def emit(chart: cdk8s.Chart) -> None:
        kplus.PersistentVolumeClaim(
            chart,
            f"Claim-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name),
            storage=cdk8s.Size.gibibytes(size_gib),
            storage_class_name="longhorn",
            access_modes=[kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
            volume_mode=kplus.PersistentVolumeMode.FILE_SYSTEM,
        )

    return emit


@dataclass(frozen=True)
class Mount:
    claim: str
    path: str
    sub_path: str | None = None


@dataclass(frozen=True)
class Workload:
    """One app's pod and Service, as plain values (what homelab-ai's AppWorkloadProps carry)."""

    name: str
    image: str
    port: int
    cpu_millis: tuple[int, int]  # request, limit
    memory_mib: tuple[int, int]
    health_path: str
    startup_failures: int
    stateful: bool = False
    service_port: int | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[tuple[str, str, str], ...] = ()  # (variable, secret, key)
    mounts: tuple[Mount, ...] = ()
    lb_ip: str | None = None
    gpu: bool = False
    run_as_root: bool = False


def workload(spec: Workload) -> Emitter:
    def emit(chart: cdk8s.Chart) -> None:
        _workload(chart, spec)

    return emit


def _workload(chart: cdk8s.Chart, w: Workload) -> None:
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
        ports=[kplus.ServicePort(name="http", port=80 if w.lb_ip else (w.service_port or w.port), target_port=w.port)],
    )
    common = dict(
        metadata=cdk8s.ApiObjectMetadata(name=w.name, labels=labels),
        select=False,
        replicas=1,
        pod_metadata=cdk8s.ApiObjectMetadata(labels=labels),
        automount_service_account_token=False,
        security_context=kplus.PodSecurityContextProps(
            ensure_non_root=not w.run_as_root,
            fs_group_change_policy=kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
        ),
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
    patches = [cdk8s.JsonPatch.remove("/spec/template/metadata/labels/cdk8s.io~1metadata.addr")]
    service.select_label(NAME_LABEL, w.name)

    def probe(failures: int) -> kplus.Probe:
        return kplus.Probe.from_http_get(
            w.health_path,
            port=w.port,
            failure_threshold=failures,
            period_seconds=cdk8s.Duration.seconds(10),
            timeout_seconds=cdk8s.Duration.seconds(5),
        )

    container = pod.add_container(
        name=w.name,
        image=w.image,
        image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
        port_number=w.port,
        args=list(w.args) or None,
        resources=kplus.ContainerResources(
            cpu=kplus.CpuResources(request=kplus.Cpu.millis(w.cpu_millis[0]), limit=kplus.Cpu.millis(w.cpu_millis[1])),
            memory=kplus.MemoryResources(
                request=cdk8s.Size.mebibytes(w.memory_mib[0]), limit=cdk8s.Size.mebibytes(w.memory_mib[1])
            ),
        ),
        startup=probe(w.startup_failures),
        readiness=probe(3),
        liveness=probe(6),
        security_context=kplus.ContainerSecurityContextProps(
            ensure_non_root=not w.run_as_root,
            allow_privilege_escalation=False,
            privileged=False,
            read_only_root_filesystem=False,
        ),
    )
    secrets: dict[str, kplus.ISecret] = {}
    for variable, secret_name, key in w.secret_env:
        if secret_name not in secrets:
            secrets[secret_name] = kplus.Secret.from_secret_name(chart, f"Secret-{w.name}-{secret_name}", secret_name)
        container.env.add_variable(
            variable, kplus.EnvValue.from_secret_value(kplus.SecretValue(secret=secrets[secret_name], key=key))
        )
    for variable, value in w.env:
        container.env.add_variable(variable, kplus.EnvValue.from_value(value))
    volumes: dict[str, kplus.Volume] = {}
    for m in w.mounts:
        if m.claim not in volumes:
            claim = kplus.PersistentVolumeClaim.from_claim_name(chart, f"ClaimRef-{w.name}-{m.claim}", m.claim)
            volumes[m.claim] = kplus.Volume.from_persistent_volume_claim(
                chart, f"Volume-{w.name}-{m.claim}", claim, name=m.claim
            )
        container.mount(m.path, volumes[m.claim], sub_path=m.sub_path, read_only=False)
    if w.gpu:
        spec = "/spec/template/spec"
        one = kplus.k8s.Quantity.from_number(1)
        patches += [
            cdk8s.JsonPatch.add(f"{spec}/containers/0/resources/limits/nvidia.com~1gpu", one),
            cdk8s.JsonPatch.add(f"{spec}/containers/0/resources/requests/nvidia.com~1gpu", one),
            cdk8s.JsonPatch.add(f"{spec}/runtimeClassName", "nvidia"),
            cdk8s.JsonPatch.add(
                f"{spec}/tolerations", [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
            ),
        ]
    cdk8s.ApiObject.of(pod).add_json_patch(*patches)


# ---------------------------------------------------------------------------------------------
# The two charts the benchmark synthesizes.
# ---------------------------------------------------------------------------------------------


def ai_namespace(repo_root: Path = REPO_ROOT) -> Tree:
    """apps/homelab.py's `ai` namespace, with homelab-ai's defaults written out."""
    sd_auth = "admin:$(SD_WEBUI_PASSWORD)"
    sd_root = "/app/stable-diffusion-webui"
    ollama = Workload(
        name="ollama",
        image="ollama/ollama:0.6.8",
        port=11434,
        cpu_millis=(2000, 8000),
        memory_mib=(8192, 32768),
        health_path="/api/version",
        startup_failures=30,
        stateful=True,
        env=(
            ("OLLAMA_HOST", "0.0.0.0:11434"),
            ("OLLAMA_MODELS", "/root/.ollama/models"),
            ("OLLAMA_KEEP_ALIVE", "5m"),
            ("OLLAMA_MAX_LOADED_MODELS", "1"),
            ("OLLAMA_NUM_PARALLEL", "1"),
        ),
        mounts=(Mount("ollama-models", "/root/.ollama"),),
        gpu=True,
        run_as_root=True,
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
        mounts=(
            Mount("sd-data", f"{sd_root}/models", "models"),
            Mount("sd-data", f"{sd_root}/outputs", "outputs"),
        ),
        lb_ip="10.10.2.26",
        gpu=True,
        run_as_root=True,
    )
    open_webui = Workload(
        name="open-webui",
        image="ghcr.io/open-webui/open-webui:v0.6.5",
        port=8080,
        cpu_millis=(500, 2000),
        memory_mib=(1024, 4096),
        health_path="/health",
        startup_failures=60,
        secret_env=(
            ("WEBUI_SECRET_KEY", "open-webui-secret", "WEBUI_SECRET_KEY"),
            ("AUTOMATIC1111_API_PASSWORD", "stable-diffusion-secret", "password"),
        ),
        env=(
            ("OLLAMA_BASE_URL", "http://ollama.ai.svc.cluster.local:11434"),
            ("DATA_DIR", "/app/backend/data"),
            ("ENABLE_IMAGE_GENERATION", "true"),
            ("IMAGE_GENERATION_ENGINE", "automatic1111"),
            ("AUTOMATIC1111_BASE_URL", "http://stable-diffusion.ai.svc.cluster.local:80"),
            ("AUTOMATIC1111_API_AUTH", "admin:$(AUTOMATIC1111_API_PASSWORD)"),
        ),
        mounts=(Mount("open-webui-data", "/app/backend/data"),),
        lb_ip="10.10.2.25",
        run_as_root=True,
    )
    return Tree(
        charts=[
            ChartSpec(
                "infrastructure",
                "infrastructure",
                emitters=[
                    namespace("nvidia-device-plugin"),
                    time_slicing_config_map("nvidia-time-slicing", "nvidia-device-plugin", replicas=4),
                ],
            ),
            ChartSpec("ai-namespace", "ai", emitters=[namespace("ai")]),
            ChartSpec(
                "ai",
                "ai",
                namespace="ai",
                emitters=[
                    pvc("ollama-models", 100),
                    workload(ollama),
                    pvc("sd-data", 150),
                    workload(stable_diffusion),
                    pvc("open-webui-data", 10),
                    workload(open_webui),
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
    apps: list[Emitter] = []
    for index in range(n):
        name = scale_spec.app_name(index)
        apps.append(pvc(f"{name}-data", 20))
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
                    env=(("MODEL_DIR", "/data/models"), ("APP_INDEX", str(index))),
                    mounts=(Mount(f"{name}-data", "/data"),),
                    lb_ip=scale_spec.lb_ip(index) if scale_spec.is_exposed(index) else None,
                    gpu=True,
                )
            )
        )
    return Tree(
        charts=[
            ChartSpec("infrastructure", "infrastructure", emitters=infra),
            ChartSpec("ai", "ai", namespace=scale_spec.NAMESPACE, emitters=apps),
        ]
    )


# ---------------------------------------------------------------------------------------------
# Build, render, write: the same steps and YAML dump as homelab_ai.dist, minus validation.
# ---------------------------------------------------------------------------------------------


def build(tree: Tree) -> cdk8s.App:
    app = cdk8s.App()
    for spec in tree.charts:
        chart = cdk8s.Chart(app, spec.id, namespace=spec.namespace, disable_resource_name_hashes=True)
        for emit in spec.emitters:
            emit(chart)
    return app


class _Dumper(yaml.SafeDumper):
    """A copy of homelab_ai.dist's dumper: block style, literal multi-line strings, no anchors."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str_presenter)


def to_yaml(obj: object) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1_000_000)


def render(app: cdk8s.App, tree: Tree) -> list[File]:
    folders = {spec.id: spec.folder for spec in tree.charts}
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
