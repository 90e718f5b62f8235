"""A homelab repo of your own: the AI stack from your facts, plus Whisper speech-to-text on the same card.

This is the `homelab.py` of a repo started with `homelab-ai init` (see docs/library-guide.md), with
one GPU app added from a chart of its own. It needs only the installed library: `import homelab_ai`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cdk8s

import homelab_ai

ROOT = Path(__file__).resolve().parent
WHISPER_IMAGE = homelab_ai.ContainerImage(repository="onerahmet/openai-whisper-asr-webservice", tag="v1.8.2-gpu")


def site() -> homelab_ai.AiStackProps:
    """This homelab's facts: a 24 GiB card, two LAN addresses, the spec's sizes."""
    return homelab_ai.AiStackProps(
        gpu=homelab_ai.SharedGpuProps(card="NVIDIA GeForce RTX 3090", vram_gib=24, replicas=4),
        ollama_vram=homelab_ai.VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=16),
        stable_diffusion_vram=homelab_ai.VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=12),
        open_webui_address=homelab_ai.LoadBalancer(ip="192.168.1.240", port=80),
        stable_diffusion_address=homelab_ai.LoadBalancer(ip="192.168.1.241", port=80),
        secrets_dir=ROOT / "secrets",
        models=["llama3.2"],
        storage_replicas=1,  # a single-node cluster
    )


def build() -> tuple[cdk8s.App, dict[str, str]]:
    """The stack, plus a `speech` chart whose Whisper service takes a slice of the stack's card."""
    stack = homelab_ai.AiStack(cdk8s.App(), "Homelab", site())
    speech = cdk8s.Chart(stack.app, "speech", namespace="ai", disable_resource_name_hashes=True)

    models = homelab_ai.LonghornVolume(
        speech,
        "Models",
        homelab_ai.LonghornVolumeProps(name="whisper-models", size_gib=10, purpose="Whisper models"),
    )
    homelab_ai.GpuTimeSlicedApp(
        speech,
        "Whisper",
        homelab_ai.GpuTimeSlicedAppProps(
            app=homelab_ai.AppWorkloadProps(
                name="whisper",
                image=WHISPER_IMAGE,
                container_port=9000,
                resources=homelab_ai.ComputeResources(
                    cpu_request=1, cpu_limit=4, memory_request_gib=2, memory_limit_gib=8
                ),
                # The API serves its Swagger page at /docs once the model is loaded.
                health=homelab_ai.HealthCheck(path="/docs", startup_budget=timedelta(minutes=10)),
                # MODEL_IDLE_TIMEOUT (seconds) makes the service unload its model when idle.
                # Models are cached on the volume (XDG_CACHE_HOME), so the service runs as a non-root user.
                env={
                    "ASR_ENGINE": "faster_whisper",
                    "ASR_MODEL": "small",
                    "MODEL_IDLE_TIMEOUT": "300",
                    "XDG_CACHE_HOME": "/cache",
                },
                mounts=[homelab_ai.VolumeMount(volume=models, path="/cache")],
                # The `ai` namespace enforces Pod Security "restricted": non-root, no capabilities.
                security=homelab_ai.SecurityProfile(read_only_root_filesystem=False),
                purpose="Speech to text (Whisper ASR API)",
            ),
            gpu=stack.gpu,  # the stack's SharedGpu object: one more slice of the same card
            vram=homelab_ai.VramEnvelope(idle_gib=0, active_min_gib=1, active_max_gib=2),
            # On a shared card every app says how it gives VRAM back; the budget refuses one that doesn't.
            idle_unload=homelab_ai.IdleUnload(mechanism="MODEL_IDLE_TIMEOUT", timeout=timedelta(minutes=5)),
        ),
    )

    # Flux applies dist/speech after the stack's apps (whose folder creates the namespace).
    homelab_ai.FluxKustomization(
        stack.flux_chart,
        "Speech",
        homelab_ai.FluxKustomizationProps(
            name="homelab-ai-speech", folder="speech", charts=[speech], depends_on=[stack.flux_apps]
        ),
    )
    return stack.app, {**stack.folders, "speech": "speech"}
