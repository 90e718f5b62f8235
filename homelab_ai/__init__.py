"""homelab-ai: cdk8s constructs for a homelab's shared-GPU AI stack."""

from homelab_ai.app_workload import AppWorkload, AppWorkloadProps, VolumeMount
from homelab_ai.errors import HomelabConfigError, SynthError
from homelab_ai.flux_kustomization import FluxKustomization, FluxKustomizationProps, FluxSource, SourceKind
from homelab_ai.gpu_time_sliced_app import GpuTimeSlicedApp, GpuTimeSlicedAppProps, VramEnvelope
from homelab_ai.llm_backend import LlmBackend, LlmBackendProps
from homelab_ai.load_balancer import LbProvider, LoadBalancer
from homelab_ai.longhorn_volume import LonghornVolume, LonghornVolumeProps
from homelab_ai.open_webui import OpenWebUI, OpenWebUIProps
from homelab_ai.shared_gpu import SharedGpu, SharedGpuProps
from homelab_ai.sops_secret import SecretKeyRef, SopsSecret, SopsSecretProps
from homelab_ai.stable_diffusion import StableDiffusion, StableDiffusionProps
from homelab_ai.values import AccessMode, ComputeResources, ContainerImage, HealthCheck, WorkloadKind

__all__ = [
    "AccessMode",
    "AppWorkload",
    "AppWorkloadProps",
    "ComputeResources",
    "ContainerImage",
    "FluxKustomization",
    "FluxKustomizationProps",
    "FluxSource",
    "GpuTimeSlicedApp",
    "GpuTimeSlicedAppProps",
    "HealthCheck",
    "HomelabConfigError",
    "LbProvider",
    "LlmBackend",
    "LlmBackendProps",
    "LoadBalancer",
    "LonghornVolume",
    "LonghornVolumeProps",
    "OpenWebUI",
    "OpenWebUIProps",
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
]
