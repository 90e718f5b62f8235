"""Sign in once: Open WebUI's own OIDC login with the settings 0.12.4 reads, and oauth2-proxy before Stable Diffusion.

Env names and values are the ones open-webui 0.12.4 reads (backend/open_webui/config.py at
v0.12.4, lines cited in homelab_ai/services/open_webui/oidc_login.py); flags are oauth2-proxy
v7.15.3's (pkg/apis/options, cited in homelab_ai/services/oauth2_proxy/oauth2_proxy.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

import cdk8s
import pytest

from homelab_ai import (
    AppWorkload,
    Endpoint,
    HomelabConfigError,
    InternetEgress,
    LlmBackend,
    LlmBackendProps,
    LoadBalancer,
    OAuth2Proxy,
    OAuth2ProxyProps,
    OidcProvider,
    OpenWebUI,
    OpenWebUIOidc,
    OpenWebUIProps,
    PodSelector,
    SopsSecret,
    SopsSecretProps,
    StableDiffusion,
    StableDiffusionProps,
)
from tests.factories import app_props, charts, gpu, vram, write_encrypted_like_secret
from tests.helpers import container, env_of, synth
from tests.test_network_policy import egress_allowed, ingress_allowed

AUTHENTIK = OidcProvider(issuer_url="https://auth.example.com/application/o/homelab/", display_name="Authentik")
CHAT = "https://chat.example.com"


def _secret(ai, tmp_path, name: str, keys: list[str]) -> SopsSecret:
    path = write_encrypted_like_secret(tmp_path / f"{name}.sops.yaml", name, keys)
    return SopsSecret(ai, name, SopsSecretProps(name=name, file=path, keys=keys))


def _open_webui_props(tmp_path, oidc_overrides=None) -> tuple[cdk8s.App, cdk8s.Chart, dict]:
    """The app, its 'ai' chart and Open WebUI's props with an OIDC login, before Open WebUI is added."""
    app, infra, ai = charts()
    backend = LlmBackend(ai, "Ollama", LlmBackendProps(gpu=gpu(infra), vram=vram()))
    webui_secret = _secret(ai, tmp_path, "open-webui-secret", ["WEBUI_SECRET_KEY"])
    sign_in = _secret(ai, tmp_path, "sign-in", ["client-secret"])
    oidc_values = dict(provider=AUTHENTIK, client_id="homelab-ai", client_secret=sign_in.key_ref("client-secret"))
    oidc_values.update(oidc_overrides or {})
    oidc = OpenWebUIOidc(**oidc_values)
    return app, ai, dict(backend=backend, secret=webui_secret, public_url=CHAT, oidc=oidc)


def _open_webui(tmp_path, oidc_overrides=None, **props) -> tuple[dict, dict]:
    """Open WebUI with an OIDC login (unless props say oidc=None); returns (objects, env)."""
    app, ai, values = _open_webui_props(tmp_path, oidc_overrides)
    values.update(props)
    OpenWebUI(ai, "OpenWebUI", OpenWebUIProps(**values))
    objects = synth(app)
    return objects, env_of(objects[("Deployment", "open-webui")])


def _values(env: dict) -> dict[str, str]:
    return {name: entry["value"] for name, entry in env.items() if "value" in entry}


@pytest.fixture(scope="module")
def default_env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The env of Open WebUI with the default OIDC login, built once for the tests that only read it."""
    return _open_webui(tmp_path_factory.mktemp("open-webui"))[1]


@pytest.fixture(scope="module")
def webui_values(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, object]:
    """Open WebUI's default props (its backend and secrets built once) for props that are refused; read only."""
    return MappingProxyType(_open_webui_props(tmp_path_factory.mktemp("open-webui-props"))[2])


# --- Open WebUI ----------------------------------------------------------------------------------


def test_open_webui_oidc_without_a_client_secret_is_refused():
    with pytest.raises(HomelabConfigError) as caught:
        OpenWebUIOidc(provider=AUTHENTIK, client_id="homelab-ai", client_secret=None)
    assert caught.value.field == "OpenWebUIOidc.client_secret"
    assert "L2805" in caught.value.problem


def test_open_webui_reads_the_provider_client_and_callback_it_registers_with(default_env):
    values = _values(default_env)
    assert values["OPENID_PROVIDER_URL"] == (
        "https://auth.example.com/application/o/homelab/.well-known/openid-configuration"
    )
    assert values["OAUTH_CLIENT_ID"] == "homelab-ai"
    # main.py@v0.12.4 L2945: /oauth/{provider}/login/callback, provider 'oidc'.
    assert values["OPENID_REDIRECT_URI"] == "https://chat.example.com/oauth/oidc/login/callback"
    assert values["OAUTH_PROVIDER_NAME"] == "Authentik"
    assert values["OAUTH_SCOPES"] == "openid email profile"
    assert values["WEBUI_URL"] == CHAT


def test_open_webui_client_secret_comes_from_the_sops_secret_never_a_value(default_env):
    assert default_env["OAUTH_CLIENT_SECRET"] == {
        "name": "OAUTH_CLIENT_SECRET",
        "valueFrom": {"secretKeyRef": {"key": "client-secret", "name": "sign-in"}},
    }


def test_open_webui_takes_every_setting_from_the_env_on_every_start_once_it_has_a_public_url(default_env):
    """WEBUI_URL and ENABLE_LOGIN_FORM are database-backed (config.py@v0.12.4 L3192, L3194)."""
    assert _values(default_env)["ENABLE_PERSISTENT_CONFIG"] == "False"


def test_open_webui_new_people_get_an_account_at_first_sign_in_by_default(tmp_path, default_env):
    """Open WebUI's own default for ENABLE_OAUTH_SIGNUP is False (config.py@v0.12.4 L2576)."""
    assert _values(default_env)["ENABLE_OAUTH_SIGNUP"] == "true"
    _, env = _open_webui(tmp_path, {"signup": False})
    assert _values(env)["ENABLE_OAUTH_SIGNUP"] == "false"


def test_open_webui_password_login_stays_unless_turned_off(tmp_path, default_env):
    assert {"ENABLE_LOGIN_FORM", "ENABLE_PASSWORD_AUTH"} & set(default_env) == set()
    _, off = _open_webui(tmp_path, {"password_login": False})
    assert (_values(off)["ENABLE_LOGIN_FORM"], _values(off)["ENABLE_PASSWORD_AUTH"]) == ("false", "false")


def test_open_webui_roles_and_groups_come_from_the_claims_named(tmp_path):
    _, env = _open_webui(tmp_path, {"roles_claim": "roles", "admin_roles": ("ai-admins",), "groups_claim": "groups"})
    values = _values(env)
    assert values["ENABLE_OAUTH_ROLE_MANAGEMENT"] == "true"
    assert values["OAUTH_ROLES_CLAIM"] == "roles"
    assert values["OAUTH_ADMIN_ROLES"] == "ai-admins"
    assert values["OAUTH_ALLOWED_ROLES"] == "user,admin"
    assert values["ENABLE_OAUTH_GROUP_MANAGEMENT"] == "true"
    assert values["OAUTH_GROUPS_CLAIM"] == "groups"


def test_open_webui_without_claims_leaves_role_and_group_mapping_off(default_env):
    assert {"ENABLE_OAUTH_ROLE_MANAGEMENT", "ENABLE_OAUTH_GROUP_MANAGEMENT"} & set(default_env) == set()


def test_open_webui_oidc_without_a_public_url_is_refused(webui_values):
    with pytest.raises(HomelabConfigError) as caught:
        OpenWebUIProps(**{**webui_values, "public_url": None})
    assert caught.value.field == "OpenWebUIProps.oidc"


def test_open_webui_may_reach_the_provider_on_the_lan_when_told_where(tmp_path):
    provider = OidcProvider(
        issuer_url="https://auth.lan/", egress=InternetEgress(cidr="10.10.2.40/32", except_cidrs=())
    )
    objects, _ = _open_webui(tmp_path, {"provider": provider})
    policies = [obj for (kind, _), obj in objects.items() if kind == "NetworkPolicy"]
    webui = {"app.kubernetes.io/name": "open-webui"}
    assert egress_allowed(policies, webui, 443, ip="10.10.2.40")
    assert not egress_allowed(policies, webui, 443, ip="10.10.2.41")


def test_secure_cookies_are_for_an_https_only_ui(tmp_path, webui_values):
    _, env = _open_webui(tmp_path, secure_cookies=True)
    assert _values(env)["WEBUI_SESSION_COOKIE_SECURE"] == "true"
    with pytest.raises(HomelabConfigError) as caught:
        OpenWebUIProps(**{**webui_values, "secure_cookies": True, "expose": LoadBalancer(ip="10.10.2.25")})
    assert caught.value.field == "OpenWebUIProps.secure_cookies"


def test_an_issuer_url_with_the_discovery_path_is_refused():
    with pytest.raises(HomelabConfigError) as caught:
        OidcProvider(issuer_url="https://auth.example.com/.well-known/openid-configuration")
    assert caught.value.field == "OidcProvider.issuer_url"


# --- oauth2-proxy --------------------------------------------------------------------------------


def _proxy_props(tmp_path) -> tuple[cdk8s.App, cdk8s.Chart, dict]:
    """The app, its 'ai' chart and the sign-in proxy's props, before the proxy is added."""
    app, _, ai = charts()
    upstream = AppWorkload(ai, "Upstream", app_props("stable-diffusion", container_port=7860))
    secret = _secret(ai, tmp_path, "sign-in", ["client-secret", "cookie-secret"])
    values = dict(
        upstream=upstream,
        public_url="https://images.example.com",
        provider=AUTHENTIK,
        client_id="homelab-ai",
        client_secret=secret.key_ref("client-secret"),
        cookie_secret=secret.key_ref("cookie-secret"),
    )
    return app, ai, values


def _proxy(tmp_path, **overrides) -> dict:
    app, ai, values = _proxy_props(tmp_path)
    values.update(overrides)
    OAuth2Proxy(ai, "SignIn", OAuth2ProxyProps(**values))
    return synth(app)


@pytest.fixture(scope="module")
def proxy_values(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, object]:
    """The proxy's default props (its upstream and secret built once) for props that are refused; read only."""
    return MappingProxyType(_proxy_props(tmp_path_factory.mktemp("sign-in-proxy-props"))[2])


@pytest.fixture(scope="module")
def default_proxy(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sign-in proxy's Deployment with the default props, built once for the tests that only read it."""
    return _proxy(tmp_path_factory.mktemp("sign-in-proxy"))[("Deployment", "stable-diffusion-sign-in")]


@pytest.mark.parametrize("field", ["client_secret", "cookie_secret"])
def test_the_sign_in_proxy_without_its_secrets_is_refused(proxy_values, field):
    with pytest.raises(HomelabConfigError) as caught:
        OAuth2ProxyProps(**{**proxy_values, field: None})
    assert caught.value.field == f"OAuth2ProxyProps.{field}"


def test_the_sign_in_proxy_runs_the_pinned_image_with_its_config_as_flags(default_proxy):
    proxy = container(default_proxy)
    assert proxy["image"] == "quay.io/oauth2-proxy/oauth2-proxy:v7.15.3"
    assert proxy["args"] == [
        "--http-address=0.0.0.0:4180",
        "--provider=oidc",
        "--provider-display-name=Authentik",
        "--oidc-issuer-url=https://auth.example.com/application/o/homelab/",
        "--client-id=homelab-ai",
        "--redirect-url=https://images.example.com/oauth2/callback",
        "--scope=openid email profile",
        "--upstream=http://stable-diffusion.ai.svc.cluster.local:7860/",
        "--upstream-timeout=1h",
        "--email-domain=*",
        "--reverse-proxy=true",
        "--skip-provider-button=true",
        "--cookie-secure=true",
    ]


def test_the_sign_in_proxy_reads_both_secrets_from_the_sops_secret(default_proxy):
    env = env_of(default_proxy)
    assert env["OAUTH2_PROXY_CLIENT_SECRET"]["valueFrom"] == {
        "secretKeyRef": {"key": "client-secret", "name": "sign-in"}
    }
    assert env["OAUTH2_PROXY_COOKIE_SECRET"]["valueFrom"] == {
        "secretKeyRef": {"key": "cookie-secret", "name": "sign-in"}
    }


def test_the_sign_in_proxy_admits_only_the_listed_groups(tmp_path):
    args = container(
        _proxy(tmp_path, allowed_groups=("image-makers", "admins"))[("Deployment", "stable-diffusion-sign-in")]
    )["args"]
    assert args[-3:] == ["--oidc-groups-claim=groups", "--allowed-group=image-makers", "--allowed-group=admins"]


def test_the_sign_in_proxy_is_hardened_and_probed_on_its_ping_and_ready_paths(default_proxy):
    proxy = container(default_proxy)
    assert proxy["securityContext"]["runAsNonRoot"] is True
    assert proxy["securityContext"]["readOnlyRootFilesystem"] is True
    assert proxy["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert proxy["livenessProbe"]["httpGet"]["path"] == "/ping"
    assert proxy["readinessProbe"]["httpGet"]["path"] == proxy["startupProbe"]["httpGet"]["path"] == "/ready"


def test_the_sign_in_proxy_may_reach_its_app_and_the_provider_and_nothing_else(tmp_path):
    provider = OidcProvider(
        issuer_url="http://authentik.auth.svc.cluster.local/application/o/homelab/",
        egress=Endpoint(pods=PodSelector(labels={"app.kubernetes.io/name": "authentik"}, namespace="auth"), port=9000),
    )
    objects = _proxy(tmp_path, provider=provider)
    policies = [obj for (kind, _), obj in objects.items() if kind == "NetworkPolicy"]
    proxy = {"app.kubernetes.io/name": "stable-diffusion-sign-in"}
    upstream = {"app.kubernetes.io/name": "stable-diffusion"}
    assert egress_allowed(policies, proxy, 7860, dst=upstream)
    assert egress_allowed(policies, proxy, 9000, dst={"app.kubernetes.io/name": "authentik"}, dst_ns="auth")
    assert not egress_allowed(policies, proxy, 443, ip="1.1.1.1")
    assert ingress_allowed(policies, upstream, proxy, 7860)


# --- Stable Diffusion behind the proxy -----------------------------------------------------------


def _stable_diffusion(tmp_path, **overrides):
    app, infra, ai = charts()
    secret = _secret(ai, tmp_path, "stable-diffusion-secret", ["password"])
    StableDiffusion(ai, "SD", StableDiffusionProps(gpu=gpu(infra), vram=vram(), secret=secret, **overrides))
    return container(synth(app)[("Deployment", "stable-diffusion")])["args"]


def test_stable_diffusion_asks_for_its_password_unless_told_the_proxy_is_its_one_way_in(tmp_path):
    assert "--gradio-auth" in _stable_diffusion(tmp_path)
    args = _stable_diffusion(tmp_path, gradio_auth=False)
    assert "--gradio-auth" not in args
    assert "--api-auth" in args  # Open WebUI still authenticates to the API


def test_stable_diffusion_without_its_password_on_a_lan_address_is_refused(tmp_path):
    with pytest.raises(HomelabConfigError) as caught:
        _stable_diffusion(tmp_path, gradio_auth=False, expose=LoadBalancer(ip="10.10.2.26"))
    assert caught.value.field == "StableDiffusionProps.gradio_auth"


def test_the_proxy_waits_an_hour_for_a_render_not_oauth2_proxys_30_seconds(tmp_path):
    args = container(
        _proxy(tmp_path, upstream_timeout=timedelta(minutes=20))[("Deployment", "stable-diffusion-sign-in")]
    )["args"]
    assert "--upstream-timeout=20m" in args


def test_extra_env_may_not_set_what_the_address_and_sign_in_props_own(webui_values):
    with pytest.raises(HomelabConfigError) as caught:
        OpenWebUIProps(**{**webui_values, "extra_env": {"WEBUI_URL": "https://elsewhere.example.com"}})
    assert caught.value.field == "OpenWebUIProps.extra_env"
    assert "WEBUI_URL" in caught.value.problem
