"""Open WebUI's own OpenID Connect login: the settings it reads for it at the pinned release, from props.

Checked against open-webui 0.12.4 (the PyPI wheel's ``open_webui/...`` is ``backend/open_webui/...``
at tag v0.12.4; line numbers below are config.py's unless named). Open WebUI registers the
provider only with a client id, a client secret (or PKCE) and the discovery URL (L2805). Its
``oauth.*`` settings are taken from the environment on every start (ENABLE_OAUTH_PERSISTENT_CONFIG,
default False, L3353); the others set here (WEBUI_URL, ENABLE_LOGIN_FORM) are database-backed
settings that only the first start would seed, unless ENABLE_PERSISTENT_CONFIG is False (L3352),
which OpenWebUI then sets. ENABLE_PASSWORD_AUTH is read once at import, never stored (L1698).
"""

from __future__ import annotations

import attrs

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.oidc import OidcProvider
from homelab_ai.base.validators import string_tuple, typed_fields, word, words
from homelab_ai.secrets.sops_secret import SecretKeyRef

# main.py L2945: @app.get('/oauth/{provider}/login/callback'); the provider is registered as 'oidc' (L2825).
CALLBACK_PATH = "/oauth/oidc/login/callback"
CLIENT_SECRET_ENV = "OAUTH_CLIENT_SECRET"
# Every variable OpenWebUI may set from public_url, oidc and secure_cookies (extra_env may not).
SIGN_IN_ENV = (
    "WEBUI_URL",
    "WEBUI_SESSION_COOKIE_SECURE",
    CLIENT_SECRET_ENV,
    "OPENID_PROVIDER_URL",
    "OAUTH_CLIENT_ID",
    "OPENID_REDIRECT_URI",
    "OAUTH_SCOPES",
    "OAUTH_PROVIDER_NAME",
    "ENABLE_OAUTH_SIGNUP",
    "ENABLE_OAUTH_ROLE_MANAGEMENT",
    "OAUTH_ROLES_CLAIM",
    "OAUTH_ALLOWED_ROLES",
    "OAUTH_ADMIN_ROLES",
    "ENABLE_OAUTH_GROUP_MANAGEMENT",
    "OAUTH_GROUPS_CLAIM",
    "ENABLE_LOGIN_FORM",
    "ENABLE_PASSWORD_AUTH",
)


def _flag(value: bool) -> str:
    return "true" if value else "false"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class OpenWebUIOidc:
    """Sign in to Open WebUI with an OpenID Connect provider; roles and groups may come from its claims."""

    provider: OidcProvider = attrs.field(validator=attrs.validators.instance_of(OidcProvider))
    """The provider and how the pod reaches it. Required."""
    client_id: str = attrs.field(validator=word)
    """The client registered at the provider for Open WebUI. Required."""
    client_secret: SecretKeyRef | None
    """That client's secret, a SopsSecret key (None is refused). Required."""
    scopes: tuple[str, ...] = attrs.field(
        default=("openid", "email", "profile"), converter=string_tuple, validator=words(1)
    )
    """OAUTH_SCOPES. Default openid, email, profile (Open WebUI's own; add "groups" where the provider wants it)."""
    roles_claim: str | None = attrs.field(default=None, validator=attrs.validators.optional(word))
    """The claim that lists a user's roles: turns on role mapping. Default none (roles are set in Open WebUI)."""
    admin_roles: tuple[str, ...] = attrs.field(default=("admin",), converter=string_tuple, validator=words(1))
    """With roles_claim: roles that make an Open WebUI admin. Default ("admin",)."""
    allowed_roles: tuple[str, ...] = attrs.field(default=("user", "admin"), converter=string_tuple, validator=words(1))
    """With roles_claim: roles that may sign in at all. Default ("user", "admin")."""
    groups_claim: str | None = attrs.field(default=None, validator=attrs.validators.optional(word))
    """The claim that lists a user's groups: turns on group sync. Default none."""
    signup: bool = True
    """A first sign-in creates the account (ENABLE_OAUTH_SIGNUP; Open WebUI's default is off). Default on."""
    password_login: bool = True
    """Keep the email/password form and endpoint; off leaves OIDC as the only way in. Default on."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.client_secret, SecretKeyRef):
            raise HomelabConfigError(
                "OpenWebUIOidc.client_secret",
                "no client secret is given, so Open WebUI would not register the provider (config.py@v0.12.4 L2805) "
                "and the sign-in button would not appear",
                "pass a SopsSecret key, e.g. secret.key_ref('client-secret'); a secret never goes in the manifest",
            )

    def redirect_uri(self, public_url: str) -> str:
        """What to register at the provider as the client's redirect URI."""
        return public_url.rstrip("/") + CALLBACK_PATH

    def env(self, public_url: str) -> dict[str, str]:
        """The env vars (plain values) Open WebUI 0.12.4 reads for this login; the secret is separate."""
        env = {
            "OPENID_PROVIDER_URL": self.provider.discovery_url,  # L2638: server_metadata_url (L2812)
            "OAUTH_CLIENT_ID": self.client_id,  # L2634
            "OPENID_REDIRECT_URI": self.redirect_uri(public_url),  # L2642, used as redirect_uri (L2821)
            "OAUTH_SCOPES": " ".join(self.scopes),  # L2644
            "OAUTH_PROVIDER_NAME": self.provider.display_name,  # L2652: the button's label
            "ENABLE_OAUTH_SIGNUP": _flag(self.signup),  # L2576, default False
        }
        if self.roles_claim is not None:
            env["ENABLE_OAUTH_ROLE_MANAGEMENT"] = "true"  # L2673
            env["OAUTH_ROLES_CLAIM"] = self.roles_claim  # L2688
            env["OAUTH_ALLOWED_ROLES"] = ",".join(self.allowed_roles)  # L2692-2696, separator ',' (L2690)
            env["OAUTH_ADMIN_ROLES"] = ",".join(self.admin_roles)  # L2698-2700
        if self.groups_claim is not None:
            env["ENABLE_OAUTH_GROUP_MANAGEMENT"] = "true"  # L2675
            env["OAUTH_GROUPS_CLAIM"] = self.groups_claim  # L2663
        if not self.password_login:
            env["ENABLE_LOGIN_FORM"] = "false"  # L1694: hides the form (key ui.enable_login_form, L3194)
            env["ENABLE_PASSWORD_AUTH"] = "false"  # L1698: routers/auths.py L670-674 refuses /signin
        return env
