"""A homelab repo of your own whose apps have names: HTTPS through the cluster's Gateway, and one sign-in.

This is the `homelab.py` of a repo started with `homelab-ai init` (see docs/library-guide.md). The
cluster already runs Envoy Gateway with a Gateway `homelab` in namespace `gateway` (listeners
`https` and `http`), cert-manager with a ClusterIssuer `letsencrypt`, and external-dns; Authentik
on the NAS (192.168.1.10) signs people in. It needs only the installed library: `import homelab_ai`.
"""

from __future__ import annotations

from pathlib import Path

import cdk8s

import homelab_ai

ROOT = Path(__file__).resolve().parent


def site(root: Path = ROOT) -> homelab_ai.AiStackProps:
    """This homelab's facts: the card, Open WebUI also on a LAN address, Stable Diffusion by name only."""
    return homelab_ai.AiStackProps(
        gpu=homelab_ai.SharedGpuProps(card="NVIDIA GeForce RTX 3090", vram_gib=24, replicas=4),
        ollama_vram=homelab_ai.VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=16),
        stable_diffusion_vram=homelab_ai.VramEnvelope(idle_gib=0, active_min_gib=8, active_max_gib=12),
        open_webui_address=homelab_ai.LoadBalancer(ip="192.168.1.240", port=80),
        stable_diffusion_address=None,  # only by name, behind the sign-in
        secrets_dir=root / "secrets",
        models=["llama3.2"],
        storage_replicas=1,  # a single-node cluster
        routing=homelab_ai.Routing(
            via=homelab_ai.GatewayListener(gateway="homelab", namespace="gateway"),
            # Envoy Gateway's proxies for that Gateway: the only new client the apps accept.
            controller=homelab_ai.PodSelector(
                labels={"app.kubernetes.io/name": "envoy", "gateway.envoyproxy.io/owning-gateway-name": "homelab"},
                namespace="envoy-gateway-system",
            ),
            tls=homelab_ai.RouteTls(issuer=homelab_ai.CertIssuer(name="letsencrypt")),
            external_dns=homelab_ai.ExternalDns(),
        ),
        open_webui_hostname="chat.home.example.com",
        stable_diffusion_hostname="images.home.example.com",
        sign_in=homelab_ai.SignIn(
            provider=homelab_ai.OidcProvider(
                issuer_url="https://auth.home.example.com/application/o/homelab-ai/",
                display_name="Authentik",
                # The pods reach Authentik on the NAS, a LAN address: open exactly that, on HTTPS.
                egress=homelab_ai.InternetEgress(cidr="192.168.1.10/32", except_cidrs=()),
            ),
            client_id="homelab-ai",
            scopes=("openid", "email", "profile"),
            roles_claim="roles",  # Authentik property mapping: ["admin"] or ["user"]
            groups_claim="groups",
            stable_diffusion_groups=("image-makers",),
            password_login=False,  # Authentik is the only way in
        ),
    )


def build(root: Path = ROOT) -> tuple[cdk8s.App, dict[str, str]]:
    """The stack in a new App, and its folder map, as `homelab-ai synth` wants them."""
    stack = homelab_ai.AiStack(cdk8s.App(), "Homelab", site(root))
    return stack.app, stack.folders
