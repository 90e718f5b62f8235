"""Access: each app's addresses (LAN IP and host name), its route, the certificate, and how people sign in.

Shown only when the chart routes an app by name or signs people in through a provider; a chart of
LAN addresses only has no such section, so its page is unchanged.
"""

from __future__ import annotations

from constructs import Construct

from homelab_ai.base.network_values import PodSelector
from homelab_ai.base.values import go_duration
from homelab_ai.cluster.app_workload import AppWorkload
from homelab_ai.cluster.routing.app_route import AppRoute
from homelab_ai.cluster.routing.ingress_route import nginx_annotations
from homelab_ai.cluster.routing.route_tls import RouteTlsSecret
from homelab_ai.cluster.routing.values import GatewayListener, IngressClass, Routing
from homelab_ai.services.oauth2_proxy.oauth2_proxy import OAuth2Proxy
from homelab_ai.services.open_webui.oidc_login import CLIENT_SECRET_ENV as WEBUI_CLIENT_SECRET_ENV
from homelab_ai.services.open_webui.open_webui import OpenWebUI
from homelab_ai.services.stable_diffusion.stable_diffusion import StableDiffusion
from homelab_ai.synth.docs.page import Page, code, join_and, lan_url, namespace_of, table


def _in_page(page: Page, kind: type) -> list:
    return [c for c in page.model.app.node.find_all() if isinstance(c, kind) and namespace_of(c) == page.namespace]


def _owner(workload: AppWorkload, kind: type) -> Construct | None:
    scope = workload.node.scope
    while scope is not None and not isinstance(scope, kind):
        scope = scope.node.scope
    return scope


def served_app(route: AppRoute, proxies: list[OAuth2Proxy]) -> tuple[AppWorkload, OAuth2Proxy | None]:
    """The app a route leads to, and the sign-in proxy on the way (None when it goes straight there)."""
    proxy = next((p for p in proxies if p.app is route.backend), None)
    return (proxy.upstream if proxy else route.backend), proxy


def _via(routing: Routing) -> str:
    via = routing.via
    if isinstance(via, GatewayListener):
        return f"Gateway `{via.namespace}/{via.gateway}`"
    assert isinstance(via, IngressClass)
    return f"Ingress class `{via.name}` ({via.controller.value})"


def _route_text(route: AppRoute, proxy: OAuth2Proxy | None) -> str:
    via = route.props.routing.via
    to = f" to oauth2-proxy `{proxy.name}`" if proxy else ""
    if isinstance(via, GatewayListener):
        text = (
            f"HTTPRoute `{route.name}`{to} on listener `{via.section_name}` of Gateway `{via.namespace}/{via.gateway}`"
        )
        if via.http_section_name:
            text += f"; HTTP redirected to HTTPS by HTTPRoute `{route.name}-redirect` on `{via.http_section_name}`"
        return text
    assert isinstance(via, IngressClass)
    return f"Ingress `{route.name}`{to} (class `{via.name}`); HTTP redirected to HTTPS (`ssl-redirect`)"


def _sign_in_text(app: AppWorkload, proxy: OAuth2Proxy | None) -> str:
    webui = _owner(app, OpenWebUI)
    if isinstance(webui, OpenWebUI) and webui.props.oidc is not None:
        oidc = webui.props.oidc
        parts = [f"{oidc.provider.display_name} (OpenID Connect, Open WebUI's own login)"]
        parts.append("email/password login kept" if oidc.password_login else "no email/password login")
        parts.append(
            "an account is made at the first sign-in"
            + ("" if oidc.roles_claim else " (role: pending until an admin approves)")
            if oidc.signup
            else "accounts are made by an admin"
        )
        if oidc.roles_claim:
            parts.append(
                f"role from claim `{oidc.roles_claim}` (admin: {', '.join(oidc.admin_roles)}; "
                f"may sign in: {', '.join(oidc.allowed_roles)})"
            )
        if oidc.groups_claim:
            parts.append(f"groups from claim `{oidc.groups_claim}`")
        return "; ".join(parts)
    if isinstance(webui, OpenWebUI):
        return "Open WebUI's own accounts (the first account made is the admin)"
    sd = _owner(app, StableDiffusion)
    password = (
        f"the web UI's password (user `{sd.props.username}`, Secret `{sd.password_ref.secret_name}` "
        f"key `{sd.password_ref.key}`)"
        if isinstance(sd, StableDiffusion) and sd.props.gradio_auth
        else None
    )
    if proxy is not None:
        groups = proxy.props.allowed_groups
        who = f"members of {join_and([code(g) for g in groups])}" if groups else "everyone the provider signs in"
        then = f", then {password}" if password else "; no second password (the proxy is the one way in)"
        return f"{proxy.props.provider.display_name} via oauth2-proxy `{proxy.name}` ({who}){then}"
    return password or "-"


def _certificate_text(routing: Routing, tls: RouteTlsSecret | None) -> str:
    if tls is None:
        return "the Gateway listener's own certificate"
    if tls.certificate is not None:
        issuer = tls.certificate.props.issuer
        return (
            f"Certificate `{tls.certificate.name}` from cert-manager {issuer.kind.value} `{issuer.name}`, "
            f"in Secret `{tls.secret_name}`"
        )
    assert routing.tls is not None
    return f"Secret `{tls.secret_name}` (exists; holds {', '.join(code(n) for n in routing.tls.names)})"


def _controller(selector: PodSelector) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(selector.labels.items()))
    return f"`{selector.namespace}/{labels}`" if selector.namespace else f"`{labels}`"


def access_section(page: Page) -> str | None:
    """Addresses, routes, certificate and sign-in per app, and what the cluster and the provider need."""
    routes: list[AppRoute] = sorted(_in_page(page, AppRoute), key=lambda r: r.hostname)
    proxies: list[OAuth2Proxy] = _in_page(page, OAuth2Proxy)
    webuis = [w for w in _in_page(page, OpenWebUI) if w.props.oidc is not None]
    if not routes and not webuis:
        return None
    rows = []
    for route in routes:
        app, proxy = served_app(route, proxies)
        tls = route.tls
        rows.append(
            (
                app.name,
                lan_url(app) or "-",
                route.url,
                _route_text(route, proxy),
                _certificate_text(route.props.routing, tls),
                _sign_in_text(app, proxy),
            )
        )
    parts = [
        "## Access",
        "Each app's addresses: the LAN address (plain HTTP) and its name (HTTPS), how the name reaches it, "
        "the certificate, and how people sign in.",
        table(("Service", "On the LAN", "By name", "Route", "Certificate", "Sign-in"), rows),
    ]
    parts += _setup(routes, proxies, webuis)
    return "\n\n".join(parts)


def _setup(routes: list[AppRoute], proxies: list[OAuth2Proxy], webuis: list[OpenWebUI]) -> list[str]:
    notes: list[str] = []
    groups: list[tuple[Routing, list[AppRoute]]] = []
    for route in routes:
        same = next((g for r, g in groups if r == route.props.routing), None)
        if same is None:
            groups.append((route.props.routing, [route]))
        else:
            same.append(route)
    for routing, group in groups:
        hosts = join_and([code(r.hostname) for r in group])
        timeout = go_duration(routing.stream_timeout)
        via = routing.via
        if routing.external_dns is not None:
            notes.append(
                f"- **DNS**: external-dns makes the records for {hosts} from the routes' "
                f"`{routing.external_dns.annotation_prefix}hostname` annotation."
            )
        else:
            notes.append(f"- **DNS**: point {hosts} at the address of {_via(routing)}.")
        notes.append(
            f"- **Who may connect**: the apps' NetworkPolicies admit the pods of {_via(routing)}, "
            f"{_controller(routing.controller)}, and no one else new (see Network)."
        )
        if isinstance(via, GatewayListener):
            notes.append(
                f"- **Long requests**: a request may take up to {timeout} (`timeouts.request` of each HTTPRoute: "
                "a long render, a streamed chat); the Gateway carries websocket upgrades without a setting."
            )
            listeners = join_and([code(n) for n in (via.section_name, via.http_section_name) if n])
            notes.append(
                f"- **Gateway**: `{via.namespace}/{via.gateway}` must admit routes from namespace "
                f"`{group[0].namespace}` on its listeners {listeners} (`allowedRoutes.namespaces`)."
            )
            tls = group[0].tls
            if tls is not None:
                grant = (
                    f" (ReferenceGrant `{tls.reference_grant.props.name}` lets it read the Secret)"
                    if tls.reference_grant
                    else ""
                )
                notes.append(
                    f"- **Certificate on the listener**: listener `{via.section_name}` presents the certificate "
                    f"of {hosts} only if it names its Secret{grant}:\n\n"
                    "```yaml\n"
                    f"- name: {via.section_name}\n  protocol: HTTPS\n  port: 443\n  tls:\n    mode: Terminate\n"
                    f"    certificateRefs:\n      - kind: Secret\n        name: {tls.secret_name}\n"
                    f"        namespace: {tls.namespace}\n"
                    "```"
                )
        else:
            annotations = nginx_annotations(routing.stream_timeout, routing.max_upload_mib)
            notes.append(
                f"- **Long requests**: a request or websocket may stay open {timeout} without traffic, uploads "
                f"up to {routing.max_upload_mib} MiB ({', '.join(code(a) for a in sorted(annotations))})."
            )
            notes.append(
                "- **ingress-nginx is retired upstream** (its README at controller-v1.15.1: best-effort maintenance "
                "ended in March 2026); routing through a Gateway (`GatewayListener`) serves the same apps."
            )
    for route in routes:
        app, proxy = served_app(route, proxies)
        if proxy is None and isinstance(_owner(app, StableDiffusion), StableDiffusion):
            notes.append(
                f"- **One sign-in for {app.name}**: its web UI has no OpenID Connect login of its own. Put an "
                f"oauth2-proxy in front of its route (`AiStackProps.sign_in` does: `OAuth2Proxy`, with the "
                "provider's client); until then its own password guards it."
            )
    for webui in webuis:
        oidc = webui.props.oidc
        assert oidc is not None and oidc.client_secret is not None and webui.props.public_url is not None
        notes.append(
            f"- **Provider**: register client `{oidc.client_id}` at {oidc.provider.display_name} "
            f"(issuer `{oidc.provider.issuer_url}`) with the redirect URI "
            f"`{oidc.redirect_uri(webui.props.public_url)}` (Open WebUI)"
            + "".join(
                f" and `{p.props.public_url}/oauth2/callback` ({p.upstream.name}, via `{p.name}`)"
                for p in proxies
                if p.props.client_id == oidc.client_id
            )
            + f"; its secret goes in Secret `{oidc.client_secret.secret_name}` key `{oidc.client_secret.key}` "
            f"(Open WebUI reads it as `{WEBUI_CLIENT_SECRET_ENV}`)."
        )
    for proxy in proxies:
        if any(w.props.oidc and w.props.oidc.client_id == proxy.props.client_id for w in webuis):
            continue
        notes.append(
            f"- **Provider**: register client `{proxy.props.client_id}` at {proxy.props.provider.display_name} "
            f"with the redirect URI `{proxy.props.public_url}/oauth2/callback`."
        )
    return ["\n".join(notes)] if notes else []
