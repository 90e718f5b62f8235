"""Overview, Services and API endpoints: what runs in the namespace and where to reach it."""

from __future__ import annotations

from homelab_ai.cluster.routing.app_route import AppRoute
from homelab_ai.cluster.routing.values import GatewayListener
from homelab_ai.services.vram_arbiter.arbiter import VramArbiter
from homelab_ai.synth.docs.page import (
    Page,
    _node_id,
    gib,
    lan_url,
    namespace_of,
    owner_attribute,
    service_type,
    table,
)

ARBITER_PURPOSE = "VRAM arbiter: admits chats and images only when they fit the GPU (see VRAM arbiter)"


def overview_section(page: Page) -> str:
    """What runs here, and a Mermaid diagram of services, volumes and the shared GPU."""
    lines = ["flowchart LR", '  lan(["LAN clients"])', f'  subgraph ns["namespace {page.namespace}"]']
    for workload in page.workloads:
        expose = workload.props.expose
        where = f"{expose.ip}:{expose.port}" if expose else f"ClusterIP :{workload.port}"
        lines.append(
            f'    {_node_id("svc", workload.name)}["{workload.name}<br/>{workload.props.kind.value} · {where}"]'
        )
    arbiters = page.of_kind(VramArbiter)
    for arbiter in arbiters:
        lines.append(f'    {_node_id("arb", arbiter.name)}[/"{arbiter.name}<br/>admits GPU work"/]')
    for volume in page.volumes:
        lines.append(f'    {_node_id("pvc", volume.claim_name)}[("{volume.claim_name}<br/>{volume.props.size_gib}Gi")]')
    lines.append("  end")
    for index, gpu in enumerate(page.gpus):
        card = f"{gpu.props.card}<br/>{gib(gpu.props.vram_gib)} · {gpu.replicas} slices"
        lines.append(f'  gpu{index}{{{{"{card}"}}}}')
    for workload in page.workloads:
        node = _node_id("svc", workload.name)
        if workload.props.expose:
            lines.append(f"  lan --> {node}")
        arbiter = page.model.arbiter_of(workload)
        for consumer in page.model.consumers_of(workload):
            lines.append(f"  {_node_id('svc', consumer.name)} --> {node}")
            if arbiter is not None and arbiter in arbiters:
                # The client's calls pass through the arbiter, which admits them onto the GPU.
                edge = f"  {_node_id('svc', consumer.name)} -.- {_node_id('arb', arbiter.name)}"
                if edge not in lines:
                    lines.append(edge)
        if arbiter is not None and arbiter in arbiters:
            lines.append(f'  {_node_id("arb", arbiter.name)} -.->|"admits"| {node}')
        for mount in workload.props.mounts:
            edge = f"  {node} --- {_node_id('pvc', mount.volume.claim_name)}"
            if edge not in lines:
                lines.append(edge)
        gpu_app = page.model.gpu_app_of(workload)
        if gpu_app is not None and gpu_app.props.gpu in page.gpus:
            vram = gpu_app.vram
            label = f"{vram.active_min_gib:g}-{vram.active_max_gib:g} GiB"
            lines.append(f'  {node} -.->|"{label}"| gpu{page.gpus.index(gpu_app.props.gpu)}')
    lines += _route_lines(page)
    names = ", ".join([w.name for w in page.workloads] + [a.name for a in arbiters])
    return f"## Overview\n\nServices in `{page.namespace}`: {names}.\n\n```mermaid\n" + "\n".join(lines) + "\n```"


def page_routes(page: Page) -> list[AppRoute]:
    """The namespace's routes by host name, by host name."""
    found = page.model.app.node.find_all()
    return sorted(
        (c for c in found if isinstance(c, AppRoute) and namespace_of(c) == page.namespace), key=lambda r: r.hostname
    )


def _route_lines(page: Page) -> list[str]:
    """One node per gateway or ingress class, the LAN's edge to it, and one edge per host name to its app."""
    lines: list[str] = []
    nodes: dict[str, str] = {}
    for route in page_routes(page):
        via = route.props.routing.via
        if isinstance(via, GatewayListener):
            label = f"Gateway {via.namespace}/{via.gateway}"
        else:
            label = f"Ingress class {via.name}"
        if label not in nodes:
            nodes[label] = f"route{len(nodes)}"
            lines += [f'  {nodes[label]}(["{label}"])', f"  lan -->|HTTPS| {nodes[label]}"]
        lines.append(f'  {nodes[label]} -->|"{route.hostname}"| {_node_id("svc", route.backend.name)}')
    return lines


def services_section(page: Page) -> str:
    rows = [
        (
            w.name,
            w.props.kind.value,
            service_type(w),
            w.props.expose.ip if w.props.expose else "cluster-internal",
            ", ".join(str(number) for number in (w.port, *w.props.extra_ports.values())),
            w.props.purpose or "-",
        )
        for w in page.workloads
    ]
    for arbiter in page.of_kind(VramArbiter):
        ports = ", ".join(str(number) for number in arbiter.ports.values())
        rows.append((arbiter.name, "Deployment", "ClusterIP", "cluster-internal", ports, ARBITER_PURPOSE))
    return "## Services\n\n" + table(("Service", "Workload", "Type", "IP", "Port", "Purpose"), rows)


def api_endpoints_section(page: Page) -> str:
    rows = []
    routes = page_routes(page)
    for workload in page.workloads:
        url = lan_url(workload)
        named = [r.url for r in routes if r.backend is workload]
        if url is None:
            via = [f"{lan_url(c)} (via {c.name})" for c in page.model.consumers_of(workload) if lan_url(c)]
            via += [
                f"{r.url} (via {r.backend.name})"
                for c in page.model.consumers_of(workload)
                for r in routes
                if r.backend is c
            ]
            url = ", ".join(named + via) or "cluster-internal only"
        elif named:
            url = ", ".join([url, *named])
        docs_path = owner_attribute(workload, "api_docs_path")
        api_docs = f"{lan_url(workload) or workload.url}{docs_path}" if docs_path else "-"
        rows.append((workload.name, url, workload.url, api_docs))
    return "## API endpoints\n\n" + table(("Service", "From the LAN", "In the cluster", "API docs"), rows)
