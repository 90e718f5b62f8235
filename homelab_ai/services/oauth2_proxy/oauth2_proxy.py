"""OAuth2Proxy: the same OpenID Connect sign-in in front of an app that has none (Stable Diffusion's web UI).

oauth2-proxy v7.15.3 (quay.io/oauth2-proxy/oauth2-proxy:v7.15.3; its contract, with every knob's
source, is homelab_ai/services/oauth2_proxy/contract.py) sits between the route and the app: a
visitor without its cookie is sent to the provider, and back on ``/oauth2/callback``. Every
setting is a flag (``pkg/apis/options``, cited per flag below); the two secrets come from a
SopsSecret as env vars, which oauth2-proxy reads as ``OAUTH2_PROXY_<FLAG>`` (pkg/apis/options/load.go
L25, L31). It writes nothing to disk, so it runs with the default hardening (UID 10001, read-only
root filesystem), one replica (sessions live in the cookie: ``session-store-type`` cookie, options.go L150).
"""

from __future__ import annotations

from datetime import timedelta

import attrs
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.oidc import OidcProvider
from homelab_ai.base.validators import (
    dns1123_label,
    https_site,
    port,
    positive_duration,
    string_tuple,
    typed_fields,
    word,
    words,
)
from homelab_ai.base.values import ComputeResources, ContainerImage, HealthCheck, go_duration
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy
from homelab_ai.cluster.app_workload import AppWorkload, AppWorkloadProps
from homelab_ai.cluster.hardening import SecurityProfile
from homelab_ai.secrets.sops_secret import SecretKeyRef
from homelab_ai.services.oauth2_proxy.contract import OAUTH2_PROXY_IMAGE

# pkg/apis/options/load.go L31 (SetEnvPrefix) + cfg tags: legacy_options.go L506, cookie.go L15.
CLIENT_SECRET_ENV = "OAUTH2_PROXY_CLIENT_SECRET"
COOKIE_SECRET_ENV = "OAUTH2_PROXY_COOKIE_SECRET"
# The proxy's own paths (options.go L103 proxy-prefix "/oauth2"; the callback below it, L126).
CALLBACK_PATH = "/oauth2/callback"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class OAuth2ProxyProps:
    """Who signs in (the provider and its client), where they land (``public_url``), which app is behind."""

    upstream: AppWorkload = attrs.field(validator=attrs.validators.instance_of(AppWorkload))
    """The app behind the proxy; it admits the proxy, the proxy may reach it. Required."""
    public_url: str = attrs.field(validator=https_site)
    """Where people open the app, e.g. "https://sd.home.example.com" (+ /oauth2/callback). Required."""
    provider: OidcProvider = attrs.field(validator=attrs.validators.instance_of(OidcProvider))
    """The OpenID Connect provider and how pods reach it. Required."""
    client_id: str = attrs.field(validator=word)
    """The client registered at the provider. Required."""
    client_secret: SecretKeyRef | None
    """That client's secret, a SopsSecret key (None is refused). Required."""
    cookie_secret: SecretKeyRef | None
    """The session cookie's key: 16, 24 or 32 bytes, or their base64; a SopsSecret key (None is refused). Required."""
    name: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_label))
    """Name of the Deployment, Service and NetworkPolicy. Default "<upstream>-sign-in"."""
    allowed_groups: tuple[str, ...] = attrs.field(default=(), converter=string_tuple, validator=words())
    """Only members of these groups get in (``groups_claim``). Default: everyone the provider signs in."""
    groups_claim: str = attrs.field(default="groups", validator=word)
    """The ID-token claim that lists a user's groups. Default "groups"."""
    scopes: tuple[str, ...] = attrs.field(
        default=("openid", "email", "profile"), converter=string_tuple, validator=words(1)
    )
    """Scopes asked for. Default openid, email, profile (add "groups" where the provider wants it)."""
    upstream_timeout: timedelta = attrs.field(default=timedelta(hours=1), validator=positive_duration)
    """How long the app may take to answer (a long render); oauth2-proxy's own default is 30 s. Default 1 hour."""
    port: int = attrs.field(default=4180, validator=port)
    """The proxy's port. Default 4180 (oauth2-proxy's own)."""
    image: ContainerImage = OAUTH2_PROXY_IMAGE
    """The oauth2-proxy image. Default quay.io/oauth2-proxy/oauth2-proxy:v7.15.3."""
    resources: ComputeResources = ComputeResources(
        cpu_request=0.05, cpu_limit=0.5, memory_request_gib=0.0625, memory_limit_gib=0.25
    )
    """CPU (cores) and memory (GiB). Default 0.05-0.5 cores, 64-256 MiB."""
    security: SecurityProfile = SecurityProfile()
    """Who it runs as. Default non-root 10001, read-only root filesystem."""

    def __attrs_post_init__(self) -> None:
        for field, value in (("client_secret", self.client_secret), ("cookie_secret", self.cookie_secret)):
            if not isinstance(value, SecretKeyRef):
                raise HomelabConfigError(
                    f"OAuth2ProxyProps.{field}",
                    f"no {field.replace('_', ' ')} is given",
                    "pass a SopsSecret key, e.g. secret.key_ref('cookie-secret'): oauth2-proxy refuses to start "
                    "without it (pkg/validation/cookie.go), and a secret never goes in the manifest",
                )


class OAuth2Proxy(Construct):
    """oauth2-proxy in front of ``upstream``; routes point at :attr:`app` instead of the upstream."""

    def __init__(self, scope: Construct, id: str, props: OAuth2ProxyProps) -> None:
        super().__init__(scope, id)
        self.props = props
        assert props.client_secret is not None and props.cookie_secret is not None  # the props refuse None
        upstream = props.upstream
        provider = props.provider
        args = [
            f"--http-address=0.0.0.0:{props.port}",  # legacy_options.go L494 (default 127.0.0.1:4180)
            "--provider=oidc",  # legacy_options.go L596
            f"--provider-display-name={provider.display_name}",  # L597
            f"--oidc-issuer-url={provider.issuer_url}",  # L600: discovery is fetched below it
            f"--client-id={props.client_id}",  # L592
            f"--redirect-url={props.public_url.rstrip('/')}{CALLBACK_PATH}",  # options.go L126
            f"--scope={' '.join(props.scopes)}",  # legacy_options.go L619
            f"--upstream={upstream.url}/",  # L122
            f"--upstream-timeout={go_duration(props.upstream_timeout)}",  # L123; response-header timeout
            "--email-domain=*",  # options.go L141: the provider decides who may sign in
            "--reverse-proxy=true",  # options.go L121: trust X-Forwarded-* from the gateway
            "--skip-provider-button=true",  # options.go L131: straight to the provider
            "--cookie-secure=true",  # cookie.go L40 (its default, stated)
        ]
        if props.allowed_groups:
            args.append(f"--oidc-groups-claim={props.groups_claim}")  # legacy_options.go L606
            args += [f"--allowed-group={group}" for group in props.allowed_groups]  # L631
        self.app = AppWorkload(
            self,
            "App",
            AppWorkloadProps(
                name=self.name,
                image=props.image,
                container_port=props.port,
                resources=props.resources,
                # /ping and /ready answer without a session (options.go L147, L149); it starts in seconds.
                health=HealthCheck(path="/ping", ready_path="/ready", startup_budget=timedelta(minutes=1)),
                args=tuple(args),
                secret_env={CLIENT_SECRET_ENV: props.client_secret, COOKIE_SECRET_ENV: props.cookie_secret},
                security=props.security,
                purpose=f"Sign-in ({provider.display_name}) in front of {upstream.name}",
            ),
        )
        upstream.allow_client(self.app)
        assert self.app.network_policy is not None
        self.app.network_policy.allow_egress(provider.egress)

    @property
    def name(self) -> str:
        return self.props.name or f"{self.props.upstream.name}-sign-in"

    @property
    def url(self) -> str:
        return self.app.url

    @property
    def upstream(self) -> AppWorkload:
        return self.props.upstream

    @property
    def network_policy(self) -> AppNetworkPolicy | None:
        return self.app.network_policy
