"""Upstream releases and owned settings: what is pinned, what the chart owns, and what a restart resets."""

from __future__ import annotations

from homelab_ai.base.contract import AppContract, KnobKind
from homelab_ai.cluster.app_workload import SECRET_CHECKSUM_PREFIX
from homelab_ai.gpu.device_plugin import NvidiaDevicePlugin
from homelab_ai.gpu.device_plugin_contract import DEVICE_PLUGIN_CONTRACT
from homelab_ai.services.contract import CONTRACTS, contract_for_image
from homelab_ai.services.ollama.llm_backend import LlmBackend
from homelab_ai.services.ollama.model_pull import OllamaModelPull
from homelab_ai.services.open_webui.open_webui import OpenWebUI
from homelab_ai.services.stable_diffusion.checkpoint_fetch import CheckpointFetch
from homelab_ai.services.stable_diffusion.idle_unloader import SdIdleUnloader
from homelab_ai.synth.docs.page import Page, code, namespace_of, table


def _in_page(page: Page, kind: type) -> list:
    return [c for c in page.model.app.node.find_all() if isinstance(c, kind) and namespace_of(c) == page.namespace]


def _used_contracts(page: Page) -> list[AppContract]:
    """The contracts of the page's apps, of the in-pod programs they run, and of its cards' device plugin."""
    images = {w.props.image.reference for w in page.workloads}
    for kind in (SdIdleUnloader, CheckpointFetch, OllamaModelPull):
        images |= {c.props.image.reference for c in _in_page(page, kind)}
    used = {id(c): c for c in (contract_for_image(i) for i in images) if c is not None}
    plugins = [p for p in page.model.app.node.find_all() if isinstance(p, NvidiaDevicePlugin)]
    if any(p.props.gpu in page.gpus and p.props.chart_version == DEVICE_PLUGIN_CONTRACT.version for p in plugins):
        used[id(DEVICE_PLUGIN_CONTRACT)] = DEVICE_PLUGIN_CONTRACT
    return [c for c in CONTRACTS if id(c) in used]


def upstream_section(page: Page) -> str | None:
    contracts = _used_contracts(page)
    if not contracts:
        return None
    rows = []
    for contract in contracts:
        unread = sum(1 for k in contract.knobs if k.source is not None and not k.source.read_at_ref)
        pin = contract.image.reference if contract.image else contract.version
        rows.append(
            (
                contract.app,
                code(pin),
                contract.previous_version,
                str(contract.image_source),
                f"{len(contract.knobs)} ({unread} not read at the tag)" if unread else str(len(contract.knobs)),
            )
        )
    parts = [
        "## Upstream releases and owned settings",
        "Each app's pinned release has a contract table in the library (`homelab_ai/services/<app>/contract.py`): "
        "every env var, flag, API path, port, user and writable path the chart relies on, with the upstream file, "
        "tag and lines that define it. The tests refuse a manifest that uses a knob the table lacks. Renovate "
        "(`renovate.json`) proposes new releases; GPU apps come as one labelled pull request with a VRAM review.",
        table(("App", "Pinned", "Pinned before", "Tag published by", "Knobs (unverified)"), rows),
    ]
    gaps = [f"- **{c.app}**: {c.pin_gap}." for c in contracts if c.pin_gap]
    if gaps:
        parts.append("Not yet an immutable pin:\n\n" + "\n".join(gaps))
    for webui in _in_page(page, OpenWebUI):
        parts.append(_open_webui_settings(webui))
    for backend in _in_page(page, LlmBackend):
        parts.append(
            f"**{backend.name}** (Ollama) runs with `OLLAMA_CONTEXT_LENGTH={backend.props.context_length}`: since "
            "0.32 Ollama otherwise sizes the default context from the card's total VRAM (32k tokens on a 24 GiB "
            "card, 8x the KV cache of 4k), which the VRAM envelope above does not allow for. Raise "
            "`LlmBackendProps.context_length` together with the envelope."
        )
    parts.append(
        f"**Rotating a secret restarts its readers.** Each pod template carries `{SECRET_CHECKSUM_PREFIX}<name>`, "
        "the sha256 of each encrypted Secret file it reads, so `homelab-ai secrets init --rotate <name>` and "
        "`make synth` change exactly those pods, and Flux rolls them when it applies the new Secret."
    )
    return "\n\n".join(parts)


def _open_webui_settings(webui: OpenWebUI) -> str:
    owned = ", ".join(code(name) for name in webui.owned_settings)
    contract = contract_for_image(webui.app.props.image.reference)
    # oauth.* settings are read from the environment on every start even with the switch on
    # (ENABLE_OAUTH_PERSISTENT_CONFIG, default False: config.py@v0.12.4 L3353; models/config.py L135-140).
    seeded = sorted(
        knob.name
        for knob in (contract.knobs if contract else ())
        if knob.kind is KnobKind.ENV
        and any(not key.startswith("oauth.") for key in knob.database_keys)
        and knob.name in webui.owned_settings
    )
    return (
        f"**{webui.app.name}** (Open WebUI) owns these settings through its environment: {owned}. It runs "
        "with `ENABLE_PERSISTENT_CONFIG=False`, so it reads every setting from the environment (or its default) "
        "on every start and writes none of them to its database: a rotated password or a changed URL arrives "
        "with the next restart, and no secret lands on its volume or in its backups. Changes made in the admin "
        "page (to these settings and to every other one) last only until the pod restarts; to keep a setting, "
        "set it in `OpenWebUIProps.extra_env`. Without this switch "
        f"{', '.join(code(n) for n in seeded)} would seed database rows once and the rows would win on every "
        f"later start.{_old_rows(webui)}"
    )


def _old_rows(webui: OpenWebUI) -> str:
    sd = webui.props.image_generation
    if sd is None:
        return ""
    return (
        " A database from an earlier deployment that kept its settings may still hold the old rows, the Stable "
        "Diffusion `user:password` among them. They are no longer read; rotate that password once so the stored "
        f"copy is useless: `homelab-ai secrets init --rotate {sd.props.secret.name}`, `make synth`, push."
    )
