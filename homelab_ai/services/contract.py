"""Every upstream contract of the stack in one place: which table governs a rendered image or chart.

The tables themselves sit beside their constructs; this module only gathers them, so the contract
test, the docs and Renovate's checks ask one question: "whose knobs are these?".
"""

from __future__ import annotations

from homelab_ai.base.contract import AppContract
from homelab_ai.gpu.device_plugin_contract import DEVICE_PLUGIN_CONTRACT
from homelab_ai.services.in_pod_contract import IN_POD_CONTRACT
from homelab_ai.services.oauth2_proxy.contract import OAUTH2_PROXY_CONTRACT
from homelab_ai.services.ollama.contract import OLLAMA_CONTRACT
from homelab_ai.services.open_webui.contract import OPEN_WEBUI_CONTRACT
from homelab_ai.services.stable_diffusion.contract import SD_CONTRACT

CONTRACTS: tuple[AppContract, ...] = (
    OLLAMA_CONTRACT,
    OPEN_WEBUI_CONTRACT,
    SD_CONTRACT,
    IN_POD_CONTRACT,
    DEVICE_PLUGIN_CONTRACT,
    OAUTH2_PROXY_CONTRACT,
)


def contract_for_image(reference: str) -> AppContract | None:
    """The contract whose image repository ``reference`` ('repo:tag' or 'repo:tag@sha256:...') names."""
    repository = reference.split("@", 1)[0].rsplit(":", 1)[0]
    return next((c for c in CONTRACTS if c.image is not None and c.image.repository == repository), None)
