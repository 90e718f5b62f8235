"""The `ai` namespace of this homelab: IPs, sizes, the GPU, the secrets.

Everything site-specific lives in this file; the library only has defaults.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cdk8s

from homelab_ai import (
    FileCount,
    FluxKustomization,
    FluxKustomizationProps,
    GpuTimeSlicedApp,
    InternetEgress,
    LbProvider,
    LlmBackend,
    LlmBackendProps,
    LoadBalancer,
    LonghornRecurringJob,
    LonghornRecurringJobProps,
    LonghornStorageClass,
    LonghornStorageClassProps,
    LonghornVolumeProps,
    NamespaceIsolation,
    NvidiaDevicePlugin,
    NvidiaDevicePluginProps,
    NvidiaRuntimeClass,
    OpenWebUI,
    OpenWebUIProps,
    PodSecurityLevel,
    PreUpgradeSnapshot,
    PreUpgradeSnapshotProps,
    RecurringTask,
    RestoreDrill,
    RestoreDrillProps,
    SecureNamespace,
    SecureNamespaceProps,
    SharedGpu,
    SharedGpuProps,
    SopsSecret,
    SopsSecretProps,
    SqliteIntegrity,
    StableDiffusion,
    StableDiffusionProps,
    VramEnvelope,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "ai"
# Longhorn group of the volumes that hold what people made: chats, generated images.
USER_DATA = "user-data"

# Chart id -> folder under dist/. Cluster-scoped objects go in charts without a namespace.
FOLDERS = {"infrastructure": "infrastructure", "ai-namespace": "ai", "ai": "ai", "flux": "flux"}


class Homelab:
    """Handles to what the chart built, for tests and the CLI."""

    def __init__(self, repo_root: Path = REPO_ROOT) -> None:
        self.app = cdk8s.App()
        infra = cdk8s.Chart(self.app, "infrastructure", disable_resource_name_hashes=True)
        namespace_chart = cdk8s.Chart(self.app, "ai-namespace", disable_resource_name_hashes=True)
        # Every pod of the stack runs non-root with no capabilities, so the API server can enforce
        # "restricted"; the synth refuses any pod in the namespace that would break it.
        self.namespace = SecureNamespace(
            namespace_chart, "Namespace", SecureNamespaceProps(name=NAMESPACE, enforce=PodSecurityLevel.RESTRICTED)
        )
        ai = cdk8s.Chart(self.app, "ai", namespace=NAMESPACE, disable_resource_name_hashes=True)
        self.ai_chart = ai
        # Closed by default: each app's own NetworkPolicy opens only the doors it needs.
        NamespaceIsolation(ai, "Isolation")

        # Chats and generated images survive a deleted claim (Retain) and a lost node (backups).
        # Longhorn's default of 3 replicas; a single-node cluster would set number_of_replicas=1.
        self.user_data_class = LonghornStorageClass(
            infra, "UserDataStorageClass", LonghornStorageClassProps(name="longhorn-retain", number_of_replicas=3)
        )
        # Snapshots are quick to restore but live on the same disks; backups go to Longhorn's
        # backup target (NFS or S3, configured in Longhorn) and survive the loss of the node.
        self.snapshots = LonghornRecurringJob(
            infra,
            "UserDataSnapshots",
            LonghornRecurringJobProps(
                name="user-data-snapshot", task=RecurringTask.SNAPSHOT, cron="0 * * * *", groups=[USER_DATA], retain=24
            ),
        )
        self.backups = LonghornRecurringJob(
            infra,
            "UserDataBackups",
            LonghornRecurringJobProps(
                name="user-data-backup", task=RecurringTask.BACKUP, cron="0 3 * * *", groups=[USER_DATA], retain=14
            ),
        )

        # The spec's card and VRAM, as written there. NVIDIA's "RTX 4000 SFF Ada Generation" has 20 GB on
        # its data sheet (the budget would warn under that exact name): check the card and fix vram_gib.
        self.gpu = SharedGpu(
            infra,
            "Gpu",
            SharedGpuProps(card="NVIDIA RTX 4000 SFF", vram_gib=24, replicas=4),
        )
        self.runtime_class = NvidiaRuntimeClass(infra, "NvidiaRuntimeClass")
        self.device_plugin = NvidiaDevicePlugin(
            infra,
            "DevicePlugin",
            NvidiaDevicePluginProps(gpu=self.gpu, runtime_class_name=self.runtime_class.name),
        )
        self.webui_secret = SopsSecret(
            ai,
            "OpenWebUISecret",
            SopsSecretProps(
                name="open-webui-secret",
                file=repo_root / "apps/secrets/open-webui.sops.yaml",
                keys=["WEBUI_SECRET_KEY"],
                generators={"WEBUI_SECRET_KEY": "hex32"},
            ),
        )
        self.sd_secret = SopsSecret(
            ai,
            "StableDiffusionSecret",
            SopsSecretProps(
                name="stable-diffusion-secret",
                file=repo_root / "apps/secrets/stable-diffusion.sops.yaml",
                keys=["password"],
                generators={"password": "password"},
            ),
        )
        self.ollama = LlmBackend(
            ai,
            "Ollama",
            LlmBackendProps(
                gpu=self.gpu,
                vram=VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=16),
                # Models can be pulled again: no backups, the default (Delete) class.
                models_volume=LonghornVolumeProps(name="ollama-models", size_gib=100, purpose="LLM models"),
                # Pulled by a Job once Ollama answers; replaces the spec's `kubectl exec ... ollama pull`.
                models=["llama3.2"],
                # `ollama pull` fetches models from the Ollama registry over HTTPS.
                model_downloads=InternetEgress(),
            ),
        )
        self.stable_diffusion = StableDiffusion(
            ai,
            "StableDiffusion",
            StableDiffusionProps(
                gpu=self.gpu,
                vram=VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=12),
                secret=self.sd_secret,
                expose=LoadBalancer(ip="10.10.2.26", port=80, provider=LbProvider.METALLB),
                data_volume=LonghornVolumeProps(
                    name="sd-data",
                    size_gib=150,
                    purpose="Checkpoints, LoRAs, outputs",
                    storage_class=self.user_data_class.name,
                    backup_groups=[USER_DATA],
                ),
                # Checkpoints are downloaded from the internet (Hugging Face, Civitai) over HTTPS.
                model_downloads=InternetEgress(),
                # No checkpoint declared: license and size are this homelab's choice. To add one:
                # checkpoints=[Checkpoint(url="https://...", file_name="x.safetensors", sha256="<64 hex>")]
            ),
        )
        self.open_webui = OpenWebUI(
            ai,
            "OpenWebUI",
            OpenWebUIProps(
                backend=self.ollama,
                secret=self.webui_secret,
                image_generation=self.stable_diffusion,
                expose=LoadBalancer(ip="10.10.2.25", port=80, provider=LbProvider.METALLB),
                data_volume=LonghornVolumeProps(
                    name="open-webui-data",
                    size_gib=10,
                    purpose="User data, conversations",
                    storage_class=self.user_data_class.name,
                    backup_groups=[USER_DATA],
                ),
                # On first start it downloads its RAG embedding model from Hugging Face over HTTPS.
                internet=InternetEgress(),
            ),
        )

        # Open WebUI migrates its database one way on start: before a new image is deployed, a Job in
        # the infrastructure folder snapshots its claim, and Flux applies the apps only after it is done.
        self.open_webui_snapshots = PreUpgradeSnapshot(
            infra,
            "OpenWebUIPreUpgrade",
            PreUpgradeSnapshotProps(
                name="open-webui-pre-upgrade", volumes=[self.open_webui.data], image=self.open_webui.props.image
            ),
        )
        # Backups are only as good as the last restore: the newest backup of each user-data claim is
        # restored into a scratch claim and checked, after the nightly backups (03:00).
        self.restore_drills = (
            RestoreDrill(
                ai,
                "OpenWebUIRestoreDrill",
                RestoreDrillProps(
                    volume=self.open_webui.data,
                    # Open WebUI keeps chats in DATA_DIR/webui.db (open_webui/env.py@0.6.5 L218, L265).
                    check=SqliteIntegrity(file="webui.db"),
                    schedule="30 4 * * 0",
                    security=self.open_webui.props.security,
                ),
            ),
            RestoreDrill(
                ai,
                "StableDiffusionRestoreDrill",
                RestoreDrillProps(
                    volume=self.stable_diffusion.data,
                    check=FileCount(min_files=1),
                    # 150 GiB takes a while to restore: once a month.
                    schedule="30 5 1 * *",
                    timeout=timedelta(hours=6),
                    security=self.stable_diffusion.props.security,
                ),
            ),
        )

        # Flux applies each dist/ folder from the repo it was bootstrapped with (GitRepository
        # flux-system): the device-plugin config first, then the apps, with their SOPS secrets decrypted.
        self.flux_chart = cdk8s.Chart(self.app, "flux", disable_resource_name_hashes=True)
        self.flux_infrastructure = FluxKustomization(
            self.flux_chart,
            "Infrastructure",
            FluxKustomizationProps(
                name="homelab-ai-infrastructure", folder="infrastructure", charts=[infra], wait=True
            ),
        )
        self.flux_ai = FluxKustomization(
            self.flux_chart,
            "Ai",
            FluxKustomizationProps(
                name="homelab-ai-apps",
                folder="ai",
                charts=[namespace_chart, ai],
                depends_on=[self.flux_infrastructure],
            ),
        )

    @property
    def gpu_apps(self) -> tuple[GpuTimeSlicedApp, ...]:
        return self.gpu.apps


def build(repo_root: Path = REPO_ROOT) -> tuple[cdk8s.App, dict[str, str]]:
    """The App and its folder map, as ``homelab_ai.synth.dist.synthesize`` wants them."""
    return Homelab(repo_root).app, dict(FOLDERS)
