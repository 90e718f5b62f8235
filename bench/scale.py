"""A generated homelab with N GPU apps, built with homelab-ai: the scale benchmark's chart.

Each card is a SharedGpu with 4 time-slices and 24 GiB; each app holds one slice with a VRAM
envelope that fits (4 apps x 6 GiB) and gives it back after KEEP_ALIVE idle (its IdleUnload),
mounts its own Longhorn volume, runs hardened (the default SecurityProfile, /tmp as an emptyDir)
behind its own NetworkPolicy; every 4th app is a StatefulSet, and every other one is exposed on
its own LoadBalancer IP and is the client of the app before it (as Open WebUI is Ollama's). The
namespace is a SecureNamespace (Pod Security ``restricted``, checked at synth) with
NamespaceIsolation: the shape of the real ``ai`` namespace, repeated N times. The raw
cdk8s-plus twin of this chart is ``bench.baseline.scale``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import cdk8s

APPS_PER_CARD = 4
CARD_VRAM_GIB = 24
NAMESPACE = "ai"
FOLDERS = {"infrastructure": "infrastructure", "ai-namespace": "ai", "ai": "ai"}
# How long an idle app keeps its model in VRAM; the app reads it from KEEP_ALIVE_VARIABLE.
KEEP_ALIVE_MINUTES = 5
KEEP_ALIVE_VARIABLE = "MODEL_KEEP_ALIVE"


def cards_for(n: int) -> int:
    """Cards the budget needs: one per APPS_PER_CARD apps."""
    return max(1, -(-n // APPS_PER_CARD))


def app_name(index: int) -> str:
    return f"app-{index:03d}"


def lb_ip(index: int) -> str:
    """A distinct IP per exposed app: 10.20.<index // 200>.<index % 200 + 1>."""
    return f"10.20.{index // 200}.{index % 200 + 1}"


def is_exposed(index: int) -> bool:
    return index % 2 == 1


def is_stateful(index: int) -> bool:
    return index % 4 == 0


def client_of(index: int) -> int | None:
    """The app whose client app ``index`` is: each exposed app talks to the unexposed one before it."""
    return index - 1 if is_exposed(index) else None


def build(n: int) -> tuple[cdk8s.App, dict[str, str]]:
    """The App (charts ``infrastructure``, ``ai-namespace`` and ``ai``) with ``n`` GPU apps, and its folder map."""
    # Imported here so that the helpers above (used by bench.baseline and bench.run) cost nothing.
    import cdk8s

    from homelab_ai import (
        AppWorkloadProps,
        ComputeResources,
        ContainerImage,
        GpuTimeSlicedApp,
        GpuTimeSlicedAppProps,
        HealthCheck,
        IdleUnload,
        LoadBalancer,
        LonghornVolume,
        LonghornVolumeProps,
        NamespaceIsolation,
        SecureNamespace,
        SecureNamespaceProps,
        SharedGpu,
        SharedGpuProps,
        VolumeMount,
        VramEnvelope,
        WorkloadKind,
    )

    app = cdk8s.App()
    infra = cdk8s.Chart(app, "infrastructure", disable_resource_name_hashes=True)
    namespace_chart = cdk8s.Chart(app, "ai-namespace", disable_resource_name_hashes=True)
    SecureNamespace(namespace_chart, "Namespace", SecureNamespaceProps(name=NAMESPACE))
    ai = cdk8s.Chart(app, "ai", namespace=NAMESPACE, disable_resource_name_hashes=True)
    NamespaceIsolation(ai, "Isolation")
    gpus = [
        SharedGpu(
            infra,
            f"Gpu{card}",
            SharedGpuProps(
                card=f"Virtual GPU {card}",
                vram_gib=CARD_VRAM_GIB,
                replicas=APPS_PER_CARD,
                config_map_name=f"nvidia-time-slicing-{card}",
                create_namespace=card == 0,
            ),
        )
        for card in range(cards_for(n))
    ]
    image = ContainerImage(repository="example/model-server", tag="1.2.3")
    resources = ComputeResources(cpu_request=1, cpu_limit=4, memory_request_gib=2, memory_limit_gib=8)
    health = HealthCheck(path="/healthz", startup_budget=timedelta(minutes=5))
    vram = VramEnvelope(idle_gib=0, active_min_gib=4, active_max_gib=CARD_VRAM_GIB / APPS_PER_CARD)
    keep_alive = timedelta(minutes=KEEP_ALIVE_MINUTES)
    idle_unload = IdleUnload(mechanism=f"{KEEP_ALIVE_VARIABLE} (the server unloads its model)", timeout=keep_alive)
    apps: list[GpuTimeSlicedApp] = []
    for index in range(n):
        name = app_name(index)
        volume = LonghornVolume(ai, f"Data{index}", LonghornVolumeProps(name=f"{name}-data", size_gib=20))
        gpu_app = GpuTimeSlicedApp(
            ai,
            f"App{index}",
            GpuTimeSlicedAppProps(
                app=AppWorkloadProps(
                    name=name,
                    kind=WorkloadKind.STATEFUL_SET if is_stateful(index) else WorkloadKind.DEPLOYMENT,
                    image=image,
                    container_port=8000,
                    resources=resources,
                    health=health,
                    env={
                        "MODEL_DIR": "/data/models",
                        "APP_INDEX": str(index),
                        KEEP_ALIVE_VARIABLE: f"{KEEP_ALIVE_MINUTES}m",
                    },
                    mounts=(VolumeMount(volume=volume, path="/data"),),
                    expose=LoadBalancer(ip=lb_ip(index)) if is_exposed(index) else None,
                ),
                gpu=gpus[index // APPS_PER_CARD],
                vram=vram,
                idle_unload=idle_unload,
            ),
        )
        server = client_of(index)
        if server is not None:
            apps[server].app.allow_client(gpu_app.app)
        apps.append(gpu_app)
    return app, dict(FOLDERS)
