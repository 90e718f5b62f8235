"""What a healthy cluster running this chart shows, derived from the construct tree like dist/ and the docs.

``homelab-ai doctor`` (homelab_ai.ops) compares the live cluster with these, and the docs'
"When something is wrong" section lists them, so the two never disagree. Each kind of check is a
:class:`CheckKind` below; each subject of it (a node resource, a Service, a claim, a Job) is an
:class:`Expectation` with the numbers and names its probe compares against.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence

import cdk8s
from constructs import Construct

from homelab_ai.base.expectations import CheckKind, Expectation
from homelab_ai.cluster.app_workload import AppWorkload
from homelab_ai.cluster.flux_kustomization import FluxKustomization
from homelab_ai.cluster.load_balancer import LbProvider
from homelab_ai.cluster.longhorn.pre_upgrade_snapshot import PreUpgradeSnapshot
from homelab_ai.cluster.longhorn.recurring_job import LonghornRecurringJob, RecurringTask
from homelab_ai.cluster.longhorn.restore_drill import RestoreDrill
from homelab_ai.cluster.longhorn.storage_class import PROVISIONER, LonghornStorageClass
from homelab_ai.cluster.longhorn.volume import LonghornVolume
from homelab_ai.gpu.device_plugin import NvidiaDevicePlugin
from homelab_ai.gpu.runtime_class import NvidiaRuntimeClass
from homelab_ai.gpu.shared_gpu import SharedGpu
from homelab_ai.services.ollama.model_pull import OllamaModelPull
from homelab_ai.services.vram_arbiter.arbiter import VramArbiter

GPU_SLICES = CheckKind(
    id="gpu-slices",
    title="GPU slices",
    symptom="GPU pods stay Pending with `Insufficient nvidia.com/gpu`, or only one of them runs at a time.",
    looks_at="each node's `status.allocatable` (`kubectl get nodes`).",
)
DEVICE_PLUGIN = CheckKind(
    id="device-plugin",
    title="Device plugin config",
    symptom="the node still offers the old number of slices after a change of `replicas`.",
    looks_at="the device plugin's pods and their `checksum/config` annotation (`kubectl get pods`).",
)
RUNTIME_CLASS = CheckKind(
    id="runtime-class",
    title="NVIDIA RuntimeClass",
    symptom='GPU pods fail to start with `RuntimeClass "nvidia" not found`, or start without the GPU.',
    looks_at="the RuntimeClass (`kubectl get runtimeclass`).",
)
STORAGE_CLASS = CheckKind(
    id="storage-class",
    title="Longhorn storage classes",
    symptom='claims stay Pending: `storageclass.storage.k8s.io "longhorn-retain" not found`.',
    looks_at="the StorageClasses the claims use (`kubectl get storageclass`).",
)
CLAIM_BOUND = CheckKind(
    id="claim-bound",
    title="Claims bound",
    symptom="an app's pod stays Pending (`unbound immediate PersistentVolumeClaims`).",
    looks_at="each claim's `status.phase` (`kubectl get pvc`).",
)
BACKUP_TARGET = CheckKind(
    id="backup-target",
    title="Longhorn backup target",
    symptom="the backup RecurringJob runs, but no backup ever appears: there is nowhere to put it.",
    looks_at="Longhorn's BackupTarget `default` (`kubectl get backuptargets.longhorn.io`; the `backup-target` "
    "Setting on Longhorn before 1.8).",
)
BACKUPS_RECENT = CheckKind(
    id="backups-recent",
    title="Recent backups",
    symptom="a restore finds no backup, or only an old one.",
    looks_at="the claim's volume and its Longhorn Backups (`kubectl get pvc`, `kubectl get backups.longhorn.io`).",
)
LOAD_BALANCER = CheckKind(
    id="load-balancer",
    title="LoadBalancer IPs",
    symptom="`kubectl get svc` shows `EXTERNAL-IP <pending>`, or another address than the chart's.",
    looks_at="the Service's `status.loadBalancer` and the pools of the LB controller (MetalLB `IPAddressPool`, "
    "Cilium `CiliumLoadBalancerIPPool`, kube-vip's `kubevip` ConfigMap).",
)
FLUX_READY = CheckKind(
    id="flux-ready",
    title="Flux Kustomizations",
    symptom="a change is committed but the cluster does not show it.",
    looks_at="each Flux Kustomization's `Ready` condition and `status.lastAppliedRevision`, against the commit "
    "that last changed its `dist/` folder (`kubectl get kustomizations`, `git`).",
)
SOPS_KEY = CheckKind(
    id="sops-age",
    title="SOPS key for Flux",
    symptom="the apps' Flux Kustomization fails with `decryption failed` / `sops-age not found`.",
    looks_at="the Secret's key names, never its values (`kubectl get secret`).",
)
PRE_UPGRADE = CheckKind(
    id="pre-upgrade-snapshot",
    title="Snapshot before an upgrade",
    symptom="a new image is committed but the app keeps the old one: Flux waits for this Job.",
    looks_at="the pre-upgrade Job of the current image (`kubectl get job`).",
)
MODEL_PULL = CheckKind(
    id="model-pull",
    title="Model pull",
    symptom="Open WebUI offers no model, or not the declared ones.",
    looks_at="the pull Job (`kubectl get job`).",
)
MODELS_LISTED = CheckKind(
    id="ollama-models",
    title="Ollama's models",
    symptom="a declared model is missing from Open WebUI's model list.",
    looks_at="Ollama's `GET /api/tags` through its Service "
    "(`kubectl get --raw /api/v1/namespaces/NS/services/ollama:11434/proxy/api/tags`).",
)
APP_HEALTH = CheckKind(
    id="app-health",
    title="Health endpoints",
    symptom="the app does not answer, or answers with an error.",
    looks_at="each app's health path through its Service (`kubectl get --raw .../services/NAME:PORT/proxy/PATH`).",
)
VRAM_ARBITER = CheckKind(
    id="vram-arbiter",
    title="VRAM arbiter",
    symptom="chats or pictures wait, or fail with 503, while the card has room; or the card runs out of memory.",
    looks_at="the arbiter's `GET /status` through its Service "
    "(`kubectl get --raw /api/v1/namespaces/NS/services/vram-arbiter:9400/proxy/status`): the card and "
    "envelopes it runs with, and whether it reaches each app.",
)
RESTORE_DRILL = CheckKind(
    id="restore-drill",
    title="Restore drill",
    symptom="nobody knows whether the backups can be restored.",
    looks_at="the drill's last result, in its ConfigMap `<drill>-result` (`kubectl get configmap`).",
)

# Where each LB provider keeps its pools, for the evidence and the fix.
POOLS = {
    LbProvider.METALLB: "a MetalLB IPAddressPool (`kubectl get ipaddresspools.metallb.io -A`)",
    LbProvider.CILIUM: "a CiliumLoadBalancerIPPool (`kubectl get ciliumloadbalancerippools`)",
    LbProvider.KUBE_VIP: "kube-vip's ConfigMap `kubevip` in kube-system (`cidr-*` / `range-*` keys)",
}


def _namespace(construct: Construct) -> str:
    return cdk8s.Chart.of(construct).namespace or "default"


def _flux_of(construct: Construct, flux: Sequence[FluxKustomization]) -> FluxKustomization | None:
    chart = cdk8s.Chart.of(construct)
    return next((f for f in flux if any(c is chart for c in f.props.charts)), None)


def _reconcile(construct: Construct, flux: Sequence[FluxKustomization]) -> str:
    owner = _flux_of(construct, flux)
    if owner is None:
        return "apply the chart's dist/ folder (`kubectl apply -k dist/<folder>`)"
    return f"`flux reconcile kustomization {owner.name} -n {owner.namespace} --with-source`"


def cron_interval_hours(cron: str) -> float:
    """Roughly how often a five-field cron schedule fires, in hours (for "is the last run recent?")."""
    _minute, hour, day, _month, weekday = cron.split()
    if hour == "*" or "/" in hour:
        return 1.0 if hour == "*" else float(hour.split("/")[1] or 1)
    if day == "*" and weekday == "*":
        return 24.0
    if day == "*":
        return 24.0 * 7
    return 24.0 * 31


def expectations(app: cdk8s.App) -> tuple[Expectation, ...]:
    """Every expectation of the chart, in the order the doctor checks them (cluster first, apps last)."""
    found = app.node.find_all()

    def every(kind: type) -> list:
        return [c for c in found if isinstance(c, kind)]

    flux: list[FluxKustomization] = every(FluxKustomization)
    result: list[Expectation] = []
    for gpu in every(SharedGpu):
        resource = gpu.props.scheduled_resource
        result.append(
            Expectation(
                kind=GPU_SLICES,
                subject=resource,
                expect=f"each GPU node offers {gpu.replicas} {resource} per card ({gpu.props.card}, time-slicing)",
                fix="see the device plugin's check; its pods: "
                f"`kubectl -n {gpu.props.device_plugin_namespace} get pods -o wide`",
                data={"resource": resource, "replicas": gpu.replicas},
            )
        )
    for plugin in every(NvidiaDevicePlugin):
        gpu = plugin.props.gpu
        namespace = gpu.props.device_plugin_namespace
        result.append(
            Expectation(
                kind=DEVICE_PLUGIN,
                subject=f"HelmRelease {namespace}/{plugin.props.release_name}",
                expect=f"every plugin pod runs, with config checksum {gpu.config_checksum[:12]}…",
                fix=f"`flux reconcile helmrelease {plugin.props.release_name} -n {namespace} --with-source`",
                data={
                    "namespace": namespace,
                    "selector": f"app.kubernetes.io/name={plugin.props.chart},"
                    f"app.kubernetes.io/instance={plugin.props.release_name}",
                    "checksum": gpu.config_checksum,
                },
            )
        )
    for runtime_class in every(NvidiaRuntimeClass):
        result.append(
            Expectation(
                kind=RUNTIME_CLASS,
                subject=f"RuntimeClass {runtime_class.name}",
                expect=f"exists, with handler `{runtime_class.props.handler}`",
                fix=_reconcile(runtime_class, flux),
                data={"name": runtime_class.name, "handler": runtime_class.props.handler},
            )
        )
    volumes: list[LonghornVolume] = sorted(every(LonghornVolume), key=lambda v: (_namespace(v), v.claim_name))
    ours = {c.name: c for c in every(LonghornStorageClass)}
    for name in sorted({v.props.storage_class for v in volumes}):
        made_here = ours.get(name)
        result.append(
            Expectation(
                kind=STORAGE_CLASS,
                subject=f"StorageClass {name}",
                expect=f"exists, provisioner `{PROVISIONER}`",
                fix=_reconcile(made_here, flux)
                if made_here
                else "install Longhorn (it creates the `longhorn` class): https://longhorn.io/docs/1.12.1/deploy/install/",
                data={"name": name, "provisioner": PROVISIONER},
            )
        )
    for volume in volumes:
        namespace = _namespace(volume)
        result.append(
            Expectation(
                kind=CLAIM_BOUND,
                subject=f"PVC {namespace}/{volume.claim_name}",
                expect="Bound",
                fix=f"`kubectl -n {namespace} describe pvc {volume.claim_name}` (its events say why)",
                data={"namespace": namespace, "claim": volume.claim_name},
            )
        )
    backed_up = [v for v in volumes if v.props.backup_groups]
    backup_jobs = [j for j in every(LonghornRecurringJob) if j.props.task is RecurringTask.BACKUP]
    if backed_up:
        longhorn_namespace = backup_jobs[0].props.namespace if backup_jobs else "longhorn-system"
        result.append(
            Expectation(
                kind=BACKUP_TARGET,
                subject="Longhorn backup target",
                expect=f"set and available (claims {', '.join(v.claim_name for v in backed_up)} are backed up)",
                fix="set one: Longhorn UI > Settings > Backup Target, or the `longhorn-default-resource` ConfigMap "
                "(https://longhorn.io/docs/1.12.1/snapshots-and-backups/backup-and-restore/set-backup-target/)",
                data={"namespace": longhorn_namespace},
            )
        )
    for volume in backed_up:
        namespace = _namespace(volume)
        jobs = [j for j in backup_jobs if set(j.groups) & set(volume.props.backup_groups)]
        interval = min((cron_interval_hours(j.props.cron) for j in jobs), default=24.0)
        longhorn_namespace = jobs[0].props.namespace if jobs else "longhorn-system"
        result.append(
            Expectation(
                kind=BACKUPS_RECENT,
                subject=f"backups of {namespace}/{volume.claim_name}",
                expect=f"a Completed backup from the last {2 * interval:g} hours",
                fix=f"`kubectl -n {longhorn_namespace} get recurringjobs.longhorn.io,backups.longhorn.io` "
                "and Longhorn's Backup page",
                data={
                    "namespace": namespace,
                    "claim": volume.claim_name,
                    "longhorn_namespace": longhorn_namespace,
                    "max_age_hours": 2 * interval,
                },
            )
        )
    workloads: list[AppWorkload] = sorted(every(AppWorkload), key=lambda w: (_namespace(w), w.name))
    for workload in workloads:
        expose = workload.props.expose
        if expose is None:
            continue
        namespace = _namespace(workload)
        result.append(
            Expectation(
                kind=LOAD_BALANCER,
                subject=f"Service {namespace}/{workload.name}",
                expect=f"gets {expose.ip} from {POOLS[expose.provider].split(' (')[0]}",
                fix=f"put {expose.ip} inside {POOLS[expose.provider]}, or change the IP in the chart",
                data={
                    "namespace": namespace,
                    "service": workload.name,
                    "ip": expose.ip,
                    "provider": expose.provider.value,
                },
            )
        )
    for kustomization in sorted(flux, key=lambda f: f.name):
        result.append(
            Expectation(
                kind=FLUX_READY,
                subject=f"Kustomization {kustomization.namespace}/{kustomization.name}",
                expect=f"Ready, having applied the commit that holds the current `{kustomization.path}`",
                fix="`git push`, then "
                f"`flux reconcile kustomization {kustomization.name} -n {kustomization.namespace} --with-source`",
                data={
                    "namespace": kustomization.namespace,
                    "name": kustomization.name,
                    "path": kustomization.path.removeprefix("./"),
                },
            )
        )
    secrets = sorted({(f.namespace, f.props.sops_secret_name) for f in flux if f.decrypts_sops})
    for namespace, name in secrets:
        result.append(
            Expectation(
                kind=SOPS_KEY,
                subject=f"Secret {namespace}/{name}",
                expect="exists, with an `*.agekey` entry",
                fix=f"`kubectl create secret generic {name} --namespace={namespace} "
                '--from-file=age.agekey="$HOME/.config/sops/age/keys.txt"`',
                data={"namespace": namespace, "name": name},
            )
        )
    for snapshot in every(PreUpgradeSnapshot):
        result.append(
            Expectation(
                kind=PRE_UPGRADE,
                subject=f"Job {snapshot.namespace}/{snapshot.job_name}",
                expect=f"succeeded: snapshot {', '.join(snapshot.snapshots)} taken before {snapshot.image.reference}",
                fix=f"`kubectl -n {snapshot.namespace} logs job/{snapshot.job_name}`; to retry, "
                f"`kubectl -n {snapshot.namespace} delete job {snapshot.job_name}` (Flux creates it again)",
                data={"namespace": snapshot.namespace, "job": snapshot.job_name},
            )
        )
    for pull in every(OllamaModelPull):
        namespace = _namespace(pull)
        server = urllib.parse.urlsplit(pull.props.server_url)
        host = (server.hostname or "").split(".")
        service, service_namespace = host[0], host[1] if len(host) > 1 else namespace
        result.append(
            Expectation(
                kind=MODEL_PULL,
                subject=f"Job {namespace}/{pull.job_name}",
                expect=f"succeeded (pulls {', '.join(pull.models)})",
                fix=f"`kubectl -n {namespace} logs job/{pull.job_name}`; to run it again, "
                f"`kubectl -n {namespace} delete job {pull.job_name}` (Flux creates it again)",
                data={"namespace": namespace, "job": pull.job_name},
            )
        )
        result.append(
            Expectation(
                kind=MODELS_LISTED,
                subject=f"Service {service_namespace}/{service}",
                expect=f"lists {', '.join(pull.models)}",
                fix=f"`kubectl -n {namespace} logs job/{pull.job_name}`",
                data={
                    "namespace": service_namespace,
                    "service": service,
                    "port": server.port or 80,
                    "models": list(pull.models),
                },
            )
        )
    for workload in workloads:
        namespace = _namespace(workload)
        path = workload.props.health.path
        result.append(
            Expectation(
                kind=APP_HEALTH,
                subject=f"Service {namespace}/{workload.name}",
                expect=f"answers `GET {path}` on port {workload.port}",
                fix=f"`kubectl -n {namespace} describe pods -l app.kubernetes.io/name={workload.name}` and "
                f"`kubectl -n {namespace} logs -l app.kubernetes.io/name={workload.name}`",
                data={"namespace": namespace, "service": workload.name, "port": workload.port, "path": path},
            )
        )
    for arbiter in every(VramArbiter):
        namespace = _namespace(arbiter)
        config = arbiter.config()
        envelopes = {
            app["name"]: {
                "idle": app["envelope"]["idle_gib"],
                "active_min": app["envelope"]["active_min_gib"],
                "active_max": app["envelope"]["active_max_gib"],
            }
            for app in config["apps"]
        }
        declared = ", ".join(
            f"{name} {e['idle']:g}/{e['active_min']:g}-{e['active_max']:g} GiB" for name, e in envelopes.items()
        )
        result.append(
            Expectation(
                kind=VRAM_ARBITER,
                subject=f"Deployment {namespace}/{arbiter.name}",
                expect=f"runs with the card's {config['card']['vram_gib']:g} GiB and the declared envelopes "
                f"({declared}), and reaches every app",
                fix=f"`kubectl -n {namespace} logs deployment/{arbiter.name}`; after a chart change, "
                f"`kubectl -n {namespace} rollout status deployment/{arbiter.name}`",
                data={
                    "namespace": namespace,
                    "service": arbiter.name,
                    "port": arbiter.props.status_port,
                    "card_gib": config["card"]["vram_gib"],
                    "envelopes": envelopes,
                },
            )
        )
    for drill in every(RestoreDrill):
        interval = cron_interval_hours(drill.schedule)
        result.append(
            Expectation(
                kind=RESTORE_DRILL,
                subject=f"CronJob {drill.namespace}/{drill.name}",
                expect=f"the last drill of claim {drill.claim_name} passed, within {2 * interval:g} hours",
                fix=f"`kubectl -n {drill.namespace} create job --from=cronjob/{drill.name} {drill.name}-now`, then "
                f"`kubectl -n {drill.namespace} logs job/{drill.name}-now`",
                data={
                    "namespace": drill.namespace,
                    "config_map": drill.result_config_map,
                    "max_age_hours": 2 * interval,
                },
            )
        )
    # Constructs of any layer can add theirs (e.g. a VRAM arbiter and its /status).
    for construct in found:
        extra = getattr(construct, "doctor_expectations", None)
        if callable(extra):
            result.extend(extra())
    return tuple(result)


def check_kinds(items: Sequence[Expectation]) -> list[CheckKind]:
    """The kinds of ``items``, each once, in order of first appearance."""
    kinds: dict[str, CheckKind] = {}
    for item in items:
        kinds.setdefault(item.kind.id, item.kind)
    return list(kinds.values())
