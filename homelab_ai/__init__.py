"""homelab-ai: cdk8s constructs for a homelab's shared-GPU AI stack."""

import os

# jsii starts its Node process on the first cdk8s import and, on Node 20, prints an end-of-life
# banner on every run; homelab-ai is tested on Node 20, so keep the output readable.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from homelab_ai.base.errors import HomelabConfigError, SynthError
from homelab_ai.base.network_values import ApiServerEgress, DnsServer, Endpoint, InternetEgress, PodSelector
from homelab_ai.base.oidc import OidcProvider
from homelab_ai.base.values import AccessMode, ComputeResources, ContainerImage, HealthCheck, WorkloadKind
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy, AppNetworkPolicyProps
from homelab_ai.cluster.app_workload import AppWorkload, AppWorkloadProps, VolumeMount
from homelab_ai.cluster.flux_kustomization import FluxKustomization, FluxKustomizationProps, FluxSource, SourceKind
from homelab_ai.cluster.hardening import PodHardening, ScratchDir, SecurityProfile, harden_container, harden_pod
from homelab_ai.cluster.load_balancer import LbProvider, LoadBalancer
from homelab_ai.cluster.longhorn.pre_upgrade_snapshot import PreUpgradeSnapshot, PreUpgradeSnapshotProps
from homelab_ai.cluster.longhorn.recurring_job import LonghornRecurringJob, LonghornRecurringJobProps, RecurringTask
from homelab_ai.cluster.longhorn.restore_drill import FileCount, RestoreDrill, RestoreDrillProps, SqliteIntegrity
from homelab_ai.cluster.longhorn.storage_class import (
    DataLocality,
    LonghornStorageClass,
    LonghornStorageClassProps,
    ReclaimPolicy,
)
from homelab_ai.cluster.longhorn.volume import LonghornVolume, LonghornVolumeProps
from homelab_ai.cluster.namespace_isolation import NamespaceIsolation, NamespaceIsolationProps
from homelab_ai.cluster.pod_security import PodSecurityLevel
from homelab_ai.cluster.routing.app_route import AppRoute, AppRouteProps
from homelab_ai.cluster.routing.certificate import Certificate, CertificateProps
from homelab_ai.cluster.routing.http_route import HttpRoute, HttpRouteProps
from homelab_ai.cluster.routing.ingress_route import IngressRoute, IngressRouteProps
from homelab_ai.cluster.routing.reference_grant import ReferenceGrant, ReferenceGrantProps
from homelab_ai.cluster.routing.route_tls import RouteTlsSecret, RouteTlsSecretProps
from homelab_ai.cluster.routing.values import (
    CertIssuer,
    ExternalDns,
    GatewayListener,
    IngressClass,
    IngressController,
    IssuerKind,
    RouteTls,
    Routing,
)
from homelab_ai.cluster.secure_namespace import SecureNamespace, SecureNamespaceProps
from homelab_ai.gpu.budget import (
    BudgetApp,
    Budgeted,
    BudgetRow,
    GpuBudget,
    Severity,
    Verdict,
    budget_markdown,
    budget_rows,
)
from homelab_ai.gpu.device_plugin import NvidiaDevicePlugin, NvidiaDevicePluginProps
from homelab_ai.gpu.runtime_class import NvidiaRuntimeClass, NvidiaRuntimeClassProps
from homelab_ai.gpu.shared_gpu import GpuApp, SharedGpu, SharedGpuProps
from homelab_ai.gpu.time_sliced_app import GpuTimeSlicedApp, GpuTimeSlicedAppProps
from homelab_ai.gpu.vram import IdleUnload, VramEnvelope
from homelab_ai.secrets.sops_secret import SecretKeyRef, SopsSecret, SopsSecretProps
from homelab_ai.services.oauth2_proxy.oauth2_proxy import OAuth2Proxy, OAuth2ProxyProps
from homelab_ai.services.ollama.llm_backend import LlmBackend, LlmBackendProps
from homelab_ai.services.ollama.model_pull import OllamaModelPull, OllamaModelPullProps
from homelab_ai.services.open_webui.oidc_login import OpenWebUIOidc
from homelab_ai.services.open_webui.open_webui import OpenWebUI, OpenWebUIProps
from homelab_ai.services.stable_diffusion.checkpoint_fetch import (
    Checkpoint,
    CheckpointFetch,
    CheckpointFetchProps,
    CheckpointKind,
)
from homelab_ai.services.stable_diffusion.idle_unloader import SdIdleUnloader, SdIdleUnloaderProps
from homelab_ai.services.stable_diffusion.stable_diffusion import StableDiffusion, StableDiffusionProps
from homelab_ai.services.vram_arbiter.arbiter import VramArbiter, VramArbiterProps
from homelab_ai.services.vram_arbiter.monitoring import VramArbiterMonitoring, VramArbiterMonitoringProps
from homelab_ai.stack.ai_stack import AiStack, AiStackProps
from homelab_ai.stack.sign_in import SignIn

__all__ = [
    "AccessMode",
    "AiStack",
    "AiStackProps",
    "ApiServerEgress",
    "AppNetworkPolicy",
    "AppNetworkPolicyProps",
    "AppRoute",
    "AppRouteProps",
    "AppWorkload",
    "AppWorkloadProps",
    "BudgetApp",
    "BudgetRow",
    "Budgeted",
    "CertIssuer",
    "Certificate",
    "CertificateProps",
    "Checkpoint",
    "CheckpointFetch",
    "CheckpointFetchProps",
    "CheckpointKind",
    "ComputeResources",
    "ContainerImage",
    "DataLocality",
    "DnsServer",
    "Endpoint",
    "ExternalDns",
    "FileCount",
    "FluxKustomization",
    "FluxKustomizationProps",
    "FluxSource",
    "GatewayListener",
    "GpuApp",
    "GpuBudget",
    "GpuTimeSlicedApp",
    "GpuTimeSlicedAppProps",
    "HealthCheck",
    "HomelabConfigError",
    "HttpRoute",
    "HttpRouteProps",
    "IdleUnload",
    "IngressClass",
    "IngressController",
    "IngressRoute",
    "IngressRouteProps",
    "InternetEgress",
    "IssuerKind",
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
    "OAuth2Proxy",
    "OAuth2ProxyProps",
    "OidcProvider",
    "OllamaModelPull",
    "OllamaModelPullProps",
    "OpenWebUI",
    "OpenWebUIOidc",
    "OpenWebUIProps",
    "PodHardening",
    "PodSecurityLevel",
    "PodSelector",
    "PreUpgradeSnapshot",
    "PreUpgradeSnapshotProps",
    "ReclaimPolicy",
    "RecurringTask",
    "ReferenceGrant",
    "ReferenceGrantProps",
    "RestoreDrill",
    "RestoreDrillProps",
    "RouteTls",
    "RouteTlsSecret",
    "RouteTlsSecretProps",
    "Routing",
    "ScratchDir",
    "SdIdleUnloader",
    "SdIdleUnloaderProps",
    "SecretKeyRef",
    "SecureNamespace",
    "SecureNamespaceProps",
    "SecurityProfile",
    "Severity",
    "SharedGpu",
    "SharedGpuProps",
    "SignIn",
    "SopsSecret",
    "SopsSecretProps",
    "SourceKind",
    "SqliteIntegrity",
    "StableDiffusion",
    "StableDiffusionProps",
    "SynthError",
    "Verdict",
    "VolumeMount",
    "VramArbiter",
    "VramArbiterMonitoring",
    "VramArbiterMonitoringProps",
    "VramArbiterProps",
    "VramEnvelope",
    "WorkloadKind",
    "budget_markdown",
    "budget_rows",
    "harden_container",
    "harden_pod",
]
