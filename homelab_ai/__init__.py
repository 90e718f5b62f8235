"""homelab-ai: cdk8s constructs for a homelab's shared-GPU AI stack."""

import os

# jsii starts its Node process on the first cdk8s import and, on Node 20, prints an end-of-life
# banner on every run; homelab-ai is tested on Node 20, so keep the output readable.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from homelab_ai.app_network_policy import AppNetworkPolicy, AppNetworkPolicyProps
from homelab_ai.app_workload import AppWorkload, AppWorkloadProps, VolumeMount
from homelab_ai.checkpoint_fetch import Checkpoint, CheckpointFetch, CheckpointFetchProps, CheckpointKind
from homelab_ai.errors import HomelabConfigError, SynthError
from homelab_ai.flux_kustomization import FluxKustomization, FluxKustomizationProps, FluxSource, SourceKind
from homelab_ai.gpu_budget import GpuBudget, budget_markdown, budget_rows
from homelab_ai.gpu_time_sliced_app import GpuTimeSlicedApp, GpuTimeSlicedAppProps, IdleUnload, VramEnvelope
from homelab_ai.hardening import ScratchDir, SecurityProfile, harden_container, harden_pod
from homelab_ai.llm_backend import LlmBackend, LlmBackendProps
from homelab_ai.load_balancer import LbProvider, LoadBalancer
from homelab_ai.longhorn_recurring_job import LonghornRecurringJob, LonghornRecurringJobProps, RecurringTask
from homelab_ai.longhorn_storage_class import (
    DataLocality,
    LonghornStorageClass,
    LonghornStorageClassProps,
    ReclaimPolicy,
)
from homelab_ai.longhorn_volume import LonghornVolume, LonghornVolumeProps
from homelab_ai.namespace_isolation import NamespaceIsolation, NamespaceIsolationProps
from homelab_ai.network_values import DnsServer, Endpoint, InternetEgress, PodSelector
from homelab_ai.nvidia_device_plugin import NvidiaDevicePlugin, NvidiaDevicePluginProps
from homelab_ai.ollama_model_pull import OllamaModelPull, OllamaModelPullProps
from homelab_ai.open_webui import OpenWebUI, OpenWebUIProps
from homelab_ai.pod_security import PodSecurityLevel
from homelab_ai.runtime_class import NvidiaRuntimeClass, NvidiaRuntimeClassProps
from homelab_ai.sd_idle_unloader import SdIdleUnloader, SdIdleUnloaderProps
from homelab_ai.secure_namespace import SecureNamespace, SecureNamespaceProps
from homelab_ai.shared_gpu import SharedGpu, SharedGpuProps
from homelab_ai.sops_secret import SecretKeyRef, SopsSecret, SopsSecretProps
from homelab_ai.stable_diffusion import StableDiffusion, StableDiffusionProps
from homelab_ai.values import AccessMode, ComputeResources, ContainerImage, HealthCheck, WorkloadKind

__all__ = [
    "AccessMode",
    "AppNetworkPolicy",
    "AppNetworkPolicyProps",
    "AppWorkload",
    "AppWorkloadProps",
    "Checkpoint",
    "CheckpointFetch",
    "CheckpointFetchProps",
    "CheckpointKind",
    "ComputeResources",
    "ContainerImage",
    "DataLocality",
    "DnsServer",
    "Endpoint",
    "FluxKustomization",
    "FluxKustomizationProps",
    "FluxSource",
    "GpuBudget",
    "GpuTimeSlicedApp",
    "GpuTimeSlicedAppProps",
    "HealthCheck",
    "HomelabConfigError",
    "IdleUnload",
    "InternetEgress",
    "LbProvider",
    "LlmBackend",
    "LlmBackendProps",
    "LoadBalancer",
    "LonghornRecurringJob",
    "LonghornRecurringJobProps",
    "LonghornStorageClass",
    "LonghornStorageClassProps",
    "LonghornVolume",
    "LonghornVolumeProps",
    "NamespaceIsolation",
    "NamespaceIsolationProps",
    "NvidiaDevicePlugin",
    "NvidiaDevicePluginProps",
    "NvidiaRuntimeClass",
    "NvidiaRuntimeClassProps",
    "OllamaModelPull",
    "OllamaModelPullProps",
    "OpenWebUI",
    "OpenWebUIProps",
    "PodSecurityLevel",
    "PodSelector",
    "ReclaimPolicy",
    "RecurringTask",
    "ScratchDir",
    "SdIdleUnloader",
    "SdIdleUnloaderProps",
    "SecretKeyRef",
    "SecureNamespace",
    "SecureNamespaceProps",
    "SecurityProfile",
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
    "harden_container",
    "harden_pod",
]
