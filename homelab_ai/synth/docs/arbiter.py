"""VRAM arbiter: what it admits, what it unloads, what it refuses, and what it cannot see, with a diagram."""

from __future__ import annotations

from homelab_ai.base.values import go_duration
from homelab_ai.services.vram_arbiter.arbiter import VramArbiter
from homelab_ai.synth.docs.page import Page, gib, join_and, table


def arbiter_section(page: Page) -> str | None:
    arbiters: list[VramArbiter] = page.of_kind(VramArbiter)
    if not arbiters:
        return None
    parts = ["## VRAM arbiter"]
    for arbiter in arbiters:
        parts.extend(_one(arbiter, page.namespace))
    return "\n\n".join(parts)


def _one(arbiter: VramArbiter, namespace: str) -> list[str]:
    props = arbiter.props
    card = props.gpu.props
    ollama = props.ollama
    sd = props.stable_diffusion
    keep_alive = go_duration(ollama.props.keep_alive)
    waits = f"chats up to {go_duration(props.chat_max_wait)}"
    if sd is not None:
        waits += f", images up to {go_duration(props.image_max_wait)}"
    apps = join_and([ollama.gpu_app.name] + ([sd.gpu_app.name] if sd is not None else []))
    paragraph = (
        f"Clients reach {apps} through `{props.name}` (Deployment and ClusterIP Service in `{namespace}`, no GPU), "
        f"a streaming proxy that admits GPU work only when it fits the {gib(card.vram_gib)} card. Before it forwards "
        "a chat or an image it adds what the request needs (a model's VRAM as Ollama's `/api/ps` reported it "
        "once loaded, else the app's `active_max`) to what the other apps hold (Ollama: its loaded models; "
        "Stable Diffusion: its `active_max` while its checkpoint is on the GPU, since a job from its web page may "
        "start at any moment). If that fits, the request goes on. If it fits once idle apps let go, the arbiter "
        "unloads them first (Ollama: `keep_alive: 0` per loaded model; Stable Diffusion: "
        "`POST /sdapi/v1/unload-checkpoint`, and `reload-checkpoint` before its next job, because AUTOMATIC1111 "
        "does not move unloaded weights back by itself). If a busy app is in the way, the request waits "
        f"({waits}) and is then refused with a 503 that names the app holding the card and for how long. It never "
        f"interrupts a running job, and caps a client's `keep_alive` at Ollama's {keep_alive}. Jobs started on "
        "the Stable Diffusion web page bypass it: it sees them in `/sdapi/v1/progress`, unloads Ollama's idle "
        "models at once (or when the chat in progress ends) and counts an overlap; one that needs the memory "
        "before that can still run the card out of memory. If the arbiter is down, Open WebUI cannot chat or "
        "draw until Kubernetes restarts it (probes on `/healthz`); Ollama and the web UI keep working for "
        f"direct clients. State: `kubectl -n {namespace} port-forward svc/{props.name} {props.status_port}`, then "
        f"`/status` (per app: envelope, observed VRAM, state, last unload) and `/metrics`."
    )
    rows = [(ollama.gpu_app.name, arbiter.ollama_url, ollama.url, go_duration(props.chat_max_wait))]
    if sd is not None and arbiter.stable_diffusion_url is not None:
        rows.append((sd.gpu_app.name, arbiter.stable_diffusion_url, sd.url, go_duration(props.image_max_wait)))
    monitoring = props.monitoring
    extras = []
    if monitoring is not None:
        made = [
            name
            for name, on in (
                ("a ServiceMonitor", monitoring.service_monitor),
                ("a PrometheusRule", monitoring.rules),
                ('a Grafana dashboard ConfigMap (label `grafana_dashboard: "1"`)', monitoring.dashboard),
            )
            if on
        ]
        extras.append(
            f"Monitoring: {join_and(made)}, selected by "
            + ", ".join(f"`{k}: {v}`" for k, v in monitoring.labels.items())
            + "."
        )
    diagram = "\n".join(
        [
            "```mermaid",
            "flowchart TD",
            '    req["request for an app: chat or image"] --> fits{"its need + what the others hold<br/>'
            f'fits {gib(card.vram_gib)}?"}}',
            '    fits -- yes --> fwd["forward it; stream the answer back"]',
            '    fits -- no --> idle{"fits once idle apps unload?"}',
            '    idle -- yes --> unload["unload them: Ollama keep_alive 0,<br/>SD unload-checkpoint"] --> fwd',
            '    idle -- no --> busy{"the busy app finishes<br/>within the max wait?"}',
            "    busy -- yes --> fits",
            '    busy -- no --> refuse["503: which app holds the card, since when"]',
            '    lan["job from the SD web page,<br/>not through the arbiter"] -.-> seen["seen in '
            '/sdapi/v1/progress:<br/>unload idle Ollama models, count an overlap"]',
            "```",
        ]
    )
    return [
        paragraph,
        table(("App", "Through the arbiter", "Forwards to", "Longest wait for the card"), rows),
        *extras,
        diagram,
    ]
