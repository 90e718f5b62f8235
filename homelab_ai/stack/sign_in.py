"""SignIn: one OpenID Connect login for the stack's apps (a site fact of AiStackProps).

Open WebUI signs people in itself (OpenWebUIOidc). Stable Diffusion's web UI has no OIDC, so the
stack puts an oauth2-proxy in front of its route, with the same provider and client. The client
secret (typed in once by ``homelab-ai secrets init``) and the proxy's cookie key (generated) live
in the SopsSecret ``sign-in`` (file ``sign-in.sops.yaml`` in the stack's secrets folder).
"""

from __future__ import annotations

import attrs

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.oidc import OidcProvider
from homelab_ai.base.validators import string_tuple, typed_fields, word, words


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class SignIn:
    """Who may sign in, through which provider, and what the provider's claims decide."""

    provider: OidcProvider = attrs.field(validator=attrs.validators.instance_of(OidcProvider))
    """The OpenID Connect provider (issuer URL, button name) and how pods reach it. Required."""
    client_id: str = attrs.field(validator=word)
    """The client registered at the provider, with both apps' redirect URIs (the docs list them). Required."""
    scopes: tuple[str, ...] = attrs.field(
        default=("openid", "email", "profile"), converter=string_tuple, validator=words(1)
    )
    """Scopes both apps ask for. Default openid, email, profile (add "groups" where the provider wants it)."""
    roles_claim: str | None = attrs.field(default=None, validator=attrs.validators.optional(word))
    """Claim with a user's roles: Open WebUI then takes admin/user from it. Default none (set in Open WebUI)."""
    admin_roles: tuple[str, ...] = attrs.field(default=("admin",), converter=string_tuple, validator=words(1))
    """With roles_claim: roles that make an Open WebUI admin. Default ("admin",)."""
    allowed_roles: tuple[str, ...] = attrs.field(default=("user", "admin"), converter=string_tuple, validator=words(1))
    """With roles_claim: roles that may use Open WebUI at all. Default ("user", "admin")."""
    groups_claim: str | None = attrs.field(default=None, validator=attrs.validators.optional(word))
    """Claim with a user's groups: Open WebUI syncs groups, the proxy checks stable_diffusion_groups. Default none."""
    stable_diffusion_groups: tuple[str, ...] = attrs.field(default=(), converter=string_tuple, validator=words())
    """Only these groups get Stable Diffusion (needs groups_claim). Default: everyone who can sign in."""
    password_login: bool = True
    """Keep Open WebUI's email/password login; off makes the provider the only way in. Default on."""
    signup: bool = True
    """A first sign-in makes the Open WebUI account ("pending" until approved, unless roles_claim). Default on."""

    def __attrs_post_init__(self) -> None:
        if self.stable_diffusion_groups and self.groups_claim is None:
            raise HomelabConfigError(
                "SignIn.stable_diffusion_groups",
                "groups are listed but groups_claim does not say which claim holds them",
                "set groups_claim (often 'groups'), or drop stable_diffusion_groups",
            )
