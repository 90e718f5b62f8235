"""homelab-ai: cdk8s constructs for a homelab's shared-GPU AI stack."""

import importlib
import os

# jsii starts its Node process on the first cdk8s import and, on Node 20, prints an end-of-life
# banner on every run; homelab-ai is tested on Node 20, so keep the output readable.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names as type checkers and IDEs see them; at run time they load on first use
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

# Public name -> module that defines it. Loaded on first use (PEP 562), so importing one module
# (the budget arithmetic, an in-pod program under test) does not start cdk8s's Node process.
_EXPORTS: dict[str, str] = {
    "AccessMode": "homelab_ai.base.values",
    "AiStack": "homelab_ai.stack.ai_stack",
    "AiStackProps": "homelab_ai.stack.ai_stack",
    "ApiServerEgress": "homelab_ai.base.network_values",
    "AppNetworkPolicy": "homelab_ai.cluster.app_network_policy",
    "AppNetworkPolicyProps": "homelab_ai.cluster.app_network_policy",
    "AppRoute": "homelab_ai.cluster.routing.app_route",
    "AppRouteProps": "homelab_ai.cluster.routing.app_route",
    "AppWorkload": "homelab_ai.cluster.app_workload",
    "AppWorkloadProps": "homelab_ai.cluster.app_workload",
    "BudgetApp": "homelab_ai.gpu.budget",
    "BudgetRow": "homelab_ai.gpu.budget",
    "Budgeted": "homelab_ai.gpu.budget",
    "CertIssuer": "homelab_ai.cluster.routing.values",
    "Certificate": "homelab_ai.cluster.routing.certificate",
    "CertificateProps": "homelab_ai.cluster.routing.certificate",
    "Checkpoint": "homelab_ai.services.stable_diffusion.checkpoint_fetch",
    "CheckpointFetch": "homelab_ai.services.stable_diffusion.checkpoint_fetch",
    "CheckpointFetchProps": "homelab_ai.services.stable_diffusion.checkpoint_fetch",
    "CheckpointKind": "homelab_ai.services.stable_diffusion.checkpoint_fetch",
    "ComputeResources": "homelab_ai.base.values",
    "ContainerImage": "homelab_ai.base.values",
    "DataLocality": "homelab_ai.cluster.longhorn.storage_class",
    "DnsServer": "homelab_ai.base.network_values",
    "Endpoint": "homelab_ai.base.network_values",
    "ExternalDns": "homelab_ai.cluster.routing.values",
    "FileCount": "homelab_ai.cluster.longhorn.restore_drill",
    "FluxKustomization": "homelab_ai.cluster.flux_kustomization",
    "FluxKustomizationProps": "homelab_ai.cluster.flux_kustomization",
    "FluxSource": "homelab_ai.cluster.flux_kustomization",
    "GatewayListener": "homelab_ai.cluster.routing.values",
    "GpuApp": "homelab_ai.gpu.shared_gpu",
    "GpuBudget": "homelab_ai.gpu.budget",
    "GpuTimeSlicedApp": "homelab_ai.gpu.time_sliced_app",
    "GpuTimeSlicedAppProps": "homelab_ai.gpu.time_sliced_app",
    "HealthCheck": "homelab_ai.base.values",
    "HomelabConfigError": "homelab_ai.base.errors",
    "HttpRoute": "homelab_ai.cluster.routing.http_route",
    "HttpRouteProps": "homelab_ai.cluster.routing.http_route",
    "IdleUnload": "homelab_ai.gpu.vram",
    "IngressClass": "homelab_ai.cluster.routing.values",
    "IngressController": "homelab_ai.cluster.routing.values",
    "IngressRoute": "homelab_ai.cluster.routing.ingress_route",
    "IngressRouteProps": "homelab_ai.cluster.routing.ingress_route",
    "InternetEgress": "homelab_ai.base.network_values",
    "IssuerKind": "homelab_ai.cluster.routing.values",
    "LbProvider": "homelab_ai.cluster.load_balancer",
    "LlmBackend": "homelab_ai.services.ollama.llm_backend",
    "LlmBackendProps": "homelab_ai.services.ollama.llm_backend",
    "LoadBalancer": "homelab_ai.cluster.load_balancer",
    "LonghornRecurringJob": "homelab_ai.cluster.longhorn.recurring_job",
    "LonghornRecurringJobProps": "homelab_ai.cluster.longhorn.recurring_job",
    "LonghornStorageClass": "homelab_ai.cluster.longhorn.storage_class",
    "LonghornStorageClassProps": "homelab_ai.cluster.longhorn.storage_class",
    "LonghornVolume": "homelab_ai.cluster.longhorn.volume",
    "LonghornVolumeProps": "homelab_ai.cluster.longhorn.volume",
    "NamespaceIsolation": "homelab_ai.cluster.namespace_isolation",
    "NamespaceIsolationProps": "homelab_ai.cluster.namespace_isolation",
    "NvidiaDevicePlugin": "homelab_ai.gpu.device_plugin",
    "NvidiaDevicePluginProps": "homelab_ai.gpu.device_plugin",
    "NvidiaRuntimeClass": "homelab_ai.gpu.runtime_class",
    "NvidiaRuntimeClassProps": "homelab_ai.gpu.runtime_class",
    "OAuth2Proxy": "homelab_ai.services.oauth2_proxy.oauth2_proxy",
    "OAuth2ProxyProps": "homelab_ai.services.oauth2_proxy.oauth2_proxy",
    "OidcProvider": "homelab_ai.base.oidc",
    "OllamaModelPull": "homelab_ai.services.ollama.model_pull",
    "OllamaModelPullProps": "homelab_ai.services.ollama.model_pull",
    "OpenWebUI": "homelab_ai.services.open_webui.open_webui",
    "OpenWebUIOidc": "homelab_ai.services.open_webui.oidc_login",
    "OpenWebUIProps": "homelab_ai.services.open_webui.open_webui",
    "PodHardening": "homelab_ai.cluster.hardening",
    "PodSecurityLevel": "homelab_ai.cluster.pod_security",
    "PodSelector": "homelab_ai.base.network_values",
    "PreUpgradeSnapshot": "homelab_ai.cluster.longhorn.pre_upgrade_snapshot",
    "PreUpgradeSnapshotProps": "homelab_ai.cluster.longhorn.pre_upgrade_snapshot",
    "ReclaimPolicy": "homelab_ai.cluster.longhorn.storage_class",
    "RecurringTask": "homelab_ai.cluster.longhorn.recurring_job",
    "ReferenceGrant": "homelab_ai.cluster.routing.reference_grant",
    "ReferenceGrantProps": "homelab_ai.cluster.routing.reference_grant",
    "RestoreDrill": "homelab_ai.cluster.longhorn.restore_drill",
    "RestoreDrillProps": "homelab_ai.cluster.longhorn.restore_drill",
    "RouteTls": "homelab_ai.cluster.routing.values",
    "RouteTlsSecret": "homelab_ai.cluster.routing.route_tls",
    "RouteTlsSecretProps": "homelab_ai.cluster.routing.route_tls",
    "Routing": "homelab_ai.cluster.routing.values",
    "ScratchDir": "homelab_ai.cluster.hardening",
    "SdIdleUnloader": "homelab_ai.services.stable_diffusion.idle_unloader",
    "SdIdleUnloaderProps": "homelab_ai.services.stable_diffusion.idle_unloader",
    "SecretKeyRef": "homelab_ai.secrets.sops_secret",
    "SecureNamespace": "homelab_ai.cluster.secure_namespace",
    "SecureNamespaceProps": "homelab_ai.cluster.secure_namespace",
    "SecurityProfile": "homelab_ai.cluster.hardening",
    "Severity": "homelab_ai.gpu.budget",
    "SharedGpu": "homelab_ai.gpu.shared_gpu",
    "SharedGpuProps": "homelab_ai.gpu.shared_gpu",
    "SignIn": "homelab_ai.stack.sign_in",
    "SopsSecret": "homelab_ai.secrets.sops_secret",
    "SopsSecretProps": "homelab_ai.secrets.sops_secret",
    "SourceKind": "homelab_ai.cluster.flux_kustomization",
    "SqliteIntegrity": "homelab_ai.cluster.longhorn.restore_drill",
    "StableDiffusion": "homelab_ai.services.stable_diffusion.stable_diffusion",
    "StableDiffusionProps": "homelab_ai.services.stable_diffusion.stable_diffusion",
    "SynthError": "homelab_ai.base.errors",
    "Verdict": "homelab_ai.gpu.budget",
    "VolumeMount": "homelab_ai.cluster.app_workload",
    "VramArbiter": "homelab_ai.services.vram_arbiter.arbiter",
    "VramArbiterMonitoring": "homelab_ai.services.vram_arbiter.monitoring",
    "VramArbiterMonitoringProps": "homelab_ai.services.vram_arbiter.monitoring",
    "VramArbiterProps": "homelab_ai.services.vram_arbiter.arbiter",
    "VramEnvelope": "homelab_ai.gpu.vram",
    "WorkloadKind": "homelab_ai.base.values",
    "budget_markdown": "homelab_ai.gpu.budget",
    "budget_rows": "homelab_ai.gpu.budget",
    "harden_container": "homelab_ai.cluster.hardening",
    "harden_pod": "homelab_ai.cluster.hardening",
}

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


def __getattr__(name: str) -> object:
    """``from homelab_ai import X``: import X's module the first time X is asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
