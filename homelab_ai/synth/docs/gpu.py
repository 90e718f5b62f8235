"""GPU: the shared card, its time-slicing and the VRAM budget table."""

from __future__ import annotations

from homelab_ai.base.values import go_duration
from homelab_ai.gpu.budget import budget_markdown
from homelab_ai.gpu.shared_gpu import SharedGpu
from homelab_ai.synth.docs.page import (
    Page,
    gib,
    namespace_of,
    table,
)


def gpu_section(page: Page) -> str | None:
    if not page.gpus:
        return None
    parts = ["## GPU configuration"]
    for gpu in page.gpus:
        props = gpu.props
        used = len(gpu.apps)
        parts.append(
            f"**{props.card}**, {gib(props.vram_gib)} of VRAM, shared by time-slicing into "
            f"**{gpu.replicas}** slices of `{props.scheduled_resource}` (device plugin config: ConfigMap "
            f"`{props.config_map_name}` in `{props.device_plugin_namespace}`). {used} of {gpu.replicas} slices "
            "are taken, one per app:"
        )
        rows = []
        for app in gpu.apps:
            unload = app.props.idle_unload
            timeout = go_duration(unload.timeout) if unload else "-"
            rows.append(
                (app.name, namespace_of(app), timeout, unload.mechanism if unload else "never (holds its VRAM)")
            )
        parts.append(table(("Service", "Namespace", "Idle timeout", "How it frees VRAM"), rows))
        parts.append(
            "\n".join(
                [
                    f"- **Device plugin**: the NVIDIA device plugin reads this config (its Helm values "
                    f"`config.name={props.config_map_name}`, `config.default={props.config_key}`); a change "
                    "of the config rolls the plugin, which does not reread an edited ConfigMap.",
                    "- **No memory isolation**: time-slicing shares the card's compute in turns, not its memory; "
                    "an app that allocates past what is free gets a CUDA out-of-memory error.",
                ]
            )
        )
        parts.append(vram_budget(gpu))
    return "\n\n".join(parts)


def vram_budget(gpu: SharedGpu) -> str:
    """The card's VRAM budget and its verdicts, from the same code as `homelab-ai budget` and the synth checks."""
    return f"### VRAM budget: {gpu.props.card} ({gib(gpu.props.vram_gib)})\n\n" + budget_markdown(gpu).rstrip()
