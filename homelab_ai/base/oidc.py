"""OidcProvider: the OpenID Connect identity provider people sign in with, and how pods reach it.

Both sign-in paths (Open WebUI's own OIDC login, and the oauth2-proxy in front of an app without
one) talk to the provider from inside the cluster: they fetch its discovery document and keys and
exchange the login code for tokens. So the provider is an address plus a NetworkPolicy door.
"""

from __future__ import annotations

import attrs

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import Endpoint, InternetEgress
from homelab_ai.base.validators import field_name, http_url, matches, typed_fields

# OpenID Connect Discovery 1.0, section 4: the configuration lives at this path below the issuer.
DISCOVERY_PATH = "/.well-known/openid-configuration"


def _issuer(instance: OidcProvider, attribute: attrs.Attribute[str], value: str) -> None:
    http_url(instance, attribute, value)
    if DISCOVERY_PATH in value or "?" in value or "#" in value:
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not an issuer URL (it has the discovery path, a query or a fragment)",
            f"give the issuer itself, e.g. 'https://auth.example.com/application/o/homelab/': "
            f"{DISCOVERY_PATH} is added where an app needs it",
        )


def _egress(instance: OidcProvider, attribute: attrs.Attribute[object], value: object) -> None:
    if not isinstance(value, Endpoint | InternetEgress):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is neither an Endpoint nor an InternetEgress",
            "give InternetEgress() for a provider on the internet, InternetEgress(cidr='10.10.2.40/32', "
            "except_cidrs=()) for one on the LAN, or Endpoint(pods=PodSelector(...), port=...) for one in the cluster",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class OidcProvider:
    """An OpenID Connect provider (Authelia, Authentik, Keycloak, Pocket ID, Google, ...)."""

    issuer_url: str = attrs.field(validator=_issuer)
    """The issuer, exactly as the provider's discovery document states it (``issuer``). Required."""
    egress: Endpoint | InternetEgress = attrs.field(factory=InternetEgress, validator=_egress)
    """Where pods reach the provider: default the internet on 443 (never the LAN); else an Endpoint or a LAN range."""
    display_name: str = attrs.field(
        default="SSO", validator=matches(r"[^\n\r]{1,64}", "give a short one-line name, e.g. 'Authentik'")
    )
    """The name on the sign-in button. Default "SSO"."""

    @property
    def discovery_url(self) -> str:
        """The discovery document's URL (what Open WebUI's OPENID_PROVIDER_URL wants)."""
        return self.issuer_url.rstrip("/") + DISCOVERY_PATH
