"""What a GPU app holds in VRAM (its envelope) and what frees it when idle: the budget's inputs."""

from __future__ import annotations

from datetime import timedelta

import attrs

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import matches, non_negative, positive_duration, typed_fields
from homelab_ai.base.values import go_duration


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class VramEnvelope:
    """VRAM in GiB the app holds when idle and, when busy, somewhere between active_min and active_max."""

    idle_gib: float = attrs.field(validator=non_negative)
    """VRAM the app holds when idle, GiB (what its idle unload leaves). Required."""
    active_min_gib: float = attrs.field(validator=non_negative)
    """Least VRAM the app holds while busy, GiB (its smallest model loaded). Required."""
    active_max_gib: float = attrs.field(validator=non_negative)
    """Most VRAM the app holds while busy, GiB: what the budget adds up. Required."""

    def __attrs_post_init__(self) -> None:
        if self.idle_gib > self.active_min_gib:
            raise HomelabConfigError(
                "VramEnvelope.idle_gib",
                f"idle {self.idle_gib} GiB is more than active_min {self.active_min_gib} GiB",
                "idle VRAM must not exceed active VRAM; lower idle_gib or raise active_min_gib",
            )
        if self.active_min_gib > self.active_max_gib:
            raise HomelabConfigError(
                "VramEnvelope.active_min_gib",
                f"active_min {self.active_min_gib} GiB is more than active_max {self.active_max_gib} GiB",
                "swap them: active_min_gib <= active_max_gib",
            )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class IdleUnload:
    """What gives an idle app's VRAM back, and after how long: the promise behind ``VramEnvelope.idle_gib``."""

    mechanism: str = attrs.field(validator=matches(r"\S.*", "say what unloads the model, e.g. 'OLLAMA_KEEP_ALIVE'"))
    """What unloads the model, e.g. "OLLAMA_KEEP_ALIVE"; shown in the budget table. Required."""
    timeout: timedelta = attrs.field(validator=positive_duration)
    """How long after its last job the app gives its VRAM back, e.g. 5 minutes. Required."""

    def describe(self) -> str:
        """One line for the budget table, e.g. 'OLLAMA_KEEP_ALIVE, after 5m idle'."""
        return f"{self.mechanism}, after {go_duration(self.timeout)} idle"
