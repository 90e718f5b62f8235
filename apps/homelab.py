"""The `ai` namespace of this homelab: IPs, sizes, the GPU, the secrets.

Everything site-specific lives in this file; the library only has defaults.
"""

from __future__ import annotations

from pathlib import Path

import cdk8s

from homelab_ai import (
    FluxKustomization,
    FluxKustomizationProps,
    GpuTimeSlicedApp,
    LbProvider,
    LlmBackend,
    LlmBackendProps,
    LoadBalancer,
    LonghornVolumeProps,
    NvidiaDevicePlugin,
    NvidiaDevicePluginProps,
    NvidiaRuntimeClass,
    OpenWebUI,
    OpenWebUIProps,
    SharedGpu,
    SharedGpuProps,
    SopsSecret,
    SopsSecretProps,
    StableDiffusion,
    StableDiffusionProps,
    VramEnvelope,
)
from homelab_ai.plus import kplus

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "ai"

# Chart id -> folder under dist/. Cluster-scoped objects go in charts without a namespace.
FOLDERS = {"infrastructure": "infrastructure", "ai-namespace": "ai", "ai": "ai", "flux": "flux"}


class Homelab:
    """Handles to what the chart built, for tests and the CLI."""

    def __init__(self, repo_root: Path = REPO_ROOT) -> None:
        self.app = cdk8s.App()
        infra = cdk8s.Chart(self.app, "infrastructure", disable_resource_name_hashes=True)
        namespace_chart = cdk8s.Chart(self.app, "ai-namespace", disable_resource_name_hashes=True)
        kplus.Namespace(namespace_chart, "Namespace", metadata=cdk8s.ApiObjectMetadata(name=NAMESPACE))
        ai = cdk8s.Chart(self.app, "ai", namespace=NAMESPACE, disable_resource_name_hashes=True)
        self.ai_chart = ai

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
                models_volume=LonghornVolumeProps(name="ollama-models", size_gib=100, purpose="LLM models"),
                # Pulled by a Job once Ollama answers; replaces the spec's `kubectl exec ... ollama pull`.
                models=["llama3.2"],
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
                data_volume=LonghornVolumeProps(name="sd-data", size_gib=150, purpose="Checkpoints, LoRAs, outputs"),
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
                    name="open-webui-data", size_gib=10, purpose="User data, conversations"
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
    """The App and its folder map, as ``homelab_ai.dist.synthesize`` wants them."""
    return Homelab(repo_root).app, dict(FOLDERS)
