"""The `ai` namespace of this homelab: the facts of ../shared/spec/ai-namespace.md, and nothing else.

Everything else (how each app is deployed, hardened, wired and budgeted) is homelab_ai's AiStack.
"""

from __future__ import annotations

from pathlib import Path

import cdk8s

from homelab_ai import AiStack, AiStackProps, LbProvider, LoadBalancer, SharedGpuProps, VramEnvelope

REPO_ROOT = Path(__file__).resolve().parent.parent


def site(repo_root: Path = REPO_ROOT) -> AiStackProps:
    """This homelab's stack, as the spec writes it."""
    return AiStackProps(
        namespace="ai",
        # The spec's card and VRAM, as written there. NVIDIA's "RTX 4000 SFF Ada Generation" has 20 GB on
        # its data sheet (the budget would warn under that exact name): check the card and fix vram_gib.
        gpu=SharedGpuProps(card="NVIDIA RTX 4000 SFF", vram_gib=24, replicas=4),
        ollama_vram=VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=16),
        stable_diffusion_vram=VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=12),
        open_webui_address=LoadBalancer(ip="10.10.2.25", port=80, provider=LbProvider.METALLB),
        stable_diffusion_address=LoadBalancer(ip="10.10.2.26", port=80, provider=LbProvider.METALLB),
        ollama_models_gib=100,
        open_webui_data_gib=10,
        stable_diffusion_data_gib=150,
        secrets_dir=repo_root / "apps/secrets",
        # Replaces the spec's `kubectl exec ... ollama pull llama3.2`: a Job pulls it once Ollama answers.
        models=["llama3.2"],
        # No checkpoint declared: license and size are this homelab's choice. To add one:
        # checkpoints=[Checkpoint(url="https://...", file_name="x.safetensors", sha256="<64 hex>")]
        # Longhorn's default of 3 replicas; a single-node cluster would set storage_replicas=1.
        storage_replicas=3,
        # Backups are only as good as the last restore: after the nightly backups (03:00), the newest
        # backup of each user-data claim is restored into a scratch claim and checked.
        open_webui_drill_schedule="30 4 * * 0",
        # sd-data is 150 GiB: once a month.
        stable_diffusion_drill_schedule="30 5 1 * *",
        # The envelopes above over-book the card (16 + 12 GiB on 24): the arbiter admits each chat and
        # image only when it fits, unloading idle models first and making the rest wait.
        vram_arbiter=True,
    )


def stack(repo_root: Path = REPO_ROOT) -> AiStack:
    """The stack in a new cdk8s App (tests and the examples reach the constructs through it)."""
    return AiStack(cdk8s.App(), "Homelab", site(repo_root))


def build(repo_root: Path = REPO_ROOT) -> tuple[cdk8s.App, dict[str, str]]:
    """The App and its folder map, as ``homelab-ai synth`` wants them."""
    built = stack(repo_root)
    return built.app, built.folders
