"""A generated homelab with N GPU apps, built with homelab-ai: the scale benchmark's chart.

Each card is a SharedGpu with 4 time-slices and 24 GiB; each app holds one slice with a VRAM
envelope that fits (4 apps x 6 GiB), mounts its own Longhorn volume, and every other app is
exposed on its own LoadBalancer IP, so the chart has the shape of the real ``ai`` namespace
repeated N times. The raw cdk8s-plus twin of this chart is ``bench.baseline.scale``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import cdk8s

APPS_PER_CARD = 4
CARD_VRAM_GIB = 24
NAMESPACE = "ai"
FOLDERS = {"infrastructure": "infrastructure", "ai": "ai"}


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


def build(n: int) -> tuple[cdk8s.App, dict[str, str]]:
    """The App (charts ``infrastructure`` and ``ai``) with ``n`` GPU apps, and its folder map."""
    # Imported here so that the helpers above (used by bench.baseline and bench.run) cost nothing.
    import cdk8s

    from homelab_ai import (
        AppWorkloadProps,
        ComputeResources,
        ContainerImage,
        GpuTimeSlicedApp,
        GpuTimeSlicedAppProps,
        HealthCheck,
        LoadBalancer,
        LonghornVolume,
        LonghornVolumeProps,
        SharedGpu,
        SharedGpuProps,
        VolumeMount,
        VramEnvelope,
        WorkloadKind,
    )

    app = cdk8s.App()
    infra = cdk8s.Chart(app, "infrastructure", disable_resource_name_hashes=True)
    ai = cdk8s.Chart(app, "ai", namespace=NAMESPACE, disable_resource_name_hashes=True)
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
    for index in range(n):
        name = app_name(index)
        volume = LonghornVolume(ai, f"Data{index}", LonghornVolumeProps(name=f"{name}-data", size_gib=20))
        GpuTimeSlicedApp(
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
                    env={"MODEL_DIR": "/data/models", "APP_INDEX": str(index)},
                    mounts=(VolumeMount(volume=volume, path="/data"),),
                    expose=LoadBalancer(ip=lb_ip(index)) if is_exposed(index) else None,
                ),
                gpu=gpus[index // APPS_PER_CARD],
                vram=vram,
            ),
        )
    return app, dict(FOLDERS)
