"""homelab-ai: cdk8s constructs for a homelab's shared-GPU AI stack."""

from homelab_ai.app_workload import AppWorkload, AppWorkloadProps, VolumeMount
from homelab_ai.checkpoint_fetch import Checkpoint, CheckpointFetch, CheckpointFetchProps, CheckpointKind
from homelab_ai.errors import HomelabConfigError, SynthError
from homelab_ai.flux_kustomization import FluxKustomization, FluxKustomizationProps, FluxSource, SourceKind
from homelab_ai.gpu_budget import GpuBudget, budget_markdown, budget_rows
from homelab_ai.gpu_time_sliced_app import GpuTimeSlicedApp, GpuTimeSlicedAppProps, IdleUnload, VramEnvelope
from homelab_ai.llm_backend import LlmBackend, LlmBackendProps
from homelab_ai.load_balancer import LbProvider, LoadBalancer
from homelab_ai.longhorn_volume import LonghornVolume, LonghornVolumeProps
from homelab_ai.nvidia_device_plugin import NvidiaDevicePlugin, NvidiaDevicePluginProps
from homelab_ai.ollama_model_pull import OllamaModelPull, OllamaModelPullProps
from homelab_ai.open_webui import OpenWebUI, OpenWebUIProps
from homelab_ai.runtime_class import NvidiaRuntimeClass, NvidiaRuntimeClassProps
from homelab_ai.sd_idle_unloader import SdIdleUnloader, SdIdleUnloaderProps
from homelab_ai.shared_gpu import SharedGpu, SharedGpuProps
from homelab_ai.sops_secret import SecretKeyRef, SopsSecret, SopsSecretProps
from homelab_ai.stable_diffusion import StableDiffusion, StableDiffusionProps
from homelab_ai.values import AccessMode, ComputeResources, ContainerImage, HealthCheck, WorkloadKind

__all__ = [
    "AccessMode",
    "AppWorkload",
    "AppWorkloadProps",
    "Checkpoint",
    "CheckpointFetch",
    "CheckpointFetchProps",
    "CheckpointKind",
    "ComputeResources",
    "ContainerImage",
    "FluxKustomization",
    "FluxKustomizationProps",
    "FluxSource",
    "GpuBudget",
    "GpuTimeSlicedApp",
    "GpuTimeSlicedAppProps",
    "HealthCheck",
    "HomelabConfigError",
    "IdleUnload",
    "LbProvider",
    "LlmBackend",
    "LlmBackendProps",
    "LoadBalancer",
    "LonghornVolume",
    "LonghornVolumeProps",
    "NvidiaDevicePlugin",
    "NvidiaDevicePluginProps",
    "NvidiaRuntimeClass",
    "NvidiaRuntimeClassProps",
    "OllamaModelPull",
    "OllamaModelPullProps",
    "OpenWebUI",
    "OpenWebUIProps",
    "SdIdleUnloader",
    "SdIdleUnloaderProps",
    "SecretKeyRef",
    "SharedGpu",
    "SharedGpuProps",
    "SopsSecret",
    "SopsSecretProps",
    "SourceKind",
    "StableDiffusion",
    "StableDiffusionProps",
    "SynthError",
    "VolumeMount",
    "VramEnvelope",
    "WorkloadKind",
    "budget_markdown",
    "budget_rows",
]
