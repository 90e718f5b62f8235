"""Speech to text on the homelab's GPU, added from a chart of its own with `import homelab_ai`.

Run from the repo root (writes the whole homelab plus the new `speech` folder):
    .venv/bin/homelab-ai --app examples.speech_to_text:build synth /tmp/speech-dist
    .venv/bin/homelab-ai --app examples.speech_to_text:build docs /tmp/speech-docs
"""

from __future__ import annotations

from datetime import timedelta

import cdk8s

import homelab_ai
from apps.homelab import FOLDERS, Homelab

WHISPER_IMAGE = homelab_ai.ContainerImage(repository="onerahmet/openai-whisper-asr-webservice", tag="v1.8.2-gpu")


def build() -> tuple[cdk8s.App, dict[str, str]]:
    """The homelab's charts, plus a `speech` chart whose Whisper service takes a slice of the same card."""
    homelab = Homelab()  # the card, Ollama, Stable Diffusion, Open WebUI, the Flux wiring
    speech = cdk8s.Chart(homelab.app, "speech", namespace="ai", disable_resource_name_hashes=True)

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
            gpu=homelab.gpu,  # the same SharedGpu object: one more slice of the same card
            vram=homelab_ai.VramEnvelope(idle_gib=0, active_min_gib=1, active_max_gib=2),
            # On a shared card every app says how it gives VRAM back; the budget refuses one that doesn't.
            idle_unload=homelab_ai.IdleUnload(mechanism="MODEL_IDLE_TIMEOUT", timeout=timedelta(minutes=5)),
        ),
    )

    # Flux applies dist/speech after the homelab's apps (whose folder creates the namespace).
    homelab_ai.FluxKustomization(
        homelab.flux_chart,
        "Speech",
        homelab_ai.FluxKustomizationProps(
            name="homelab-ai-speech", folder="speech", charts=[speech], depends_on=[homelab.flux_ai]
        ),
    )
    return homelab.app, {**FOLDERS, "speech": "speech"}
