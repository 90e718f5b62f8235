"""oauth2-proxy's contract at the pinned release: every flag, env var, path, port and user the chart relies on.

Read in oauth2-proxy/oauth2-proxy at tag v7.15.3 (commit 66b3a17). The image is
quay.io/oauth2-proxy/oauth2-proxy:v7.15.3: the Makefile pushes ``$(REGISTRY)/$(REPOSITORY):${VERSION}``
(L33-34, L105) with VERSION from ``git describe --tags`` (L31), on the distroless ``static:nonroot``
runtime image (L61). It is new with the chart's sign-in (no previous pin).
"""

from __future__ import annotations

from homelab_ai.base.contract import AppContract, Knob, KnobKind, Source
from homelab_ai.base.values import ContainerImage

OAUTH2_PROXY_IMAGE = ContainerImage(repository="quay.io/oauth2-proxy/oauth2-proxy", tag="v7.15.3")
VERSION = OAUTH2_PROXY_IMAGE.tag

_REPO = "oauth2-proxy/oauth2-proxy"
_LEGACY = "pkg/apis/options/legacy_options.go"
_OPTIONS = "pkg/apis/options/options.go"
_COOKIE = "pkg/apis/options/cookie.go"


def _src(path: str, lines: str) -> Source:
    return Source(repo=_REPO, path=path, ref=VERSION, lines=lines)


def _flag(name: str, meaning: str, path: str, lines: str) -> Knob:
    return Knob(kind=KnobKind.FLAG, name=name, meaning=meaning, source=_src(path, lines))


OAUTH2_PROXY_CONTRACT = AppContract(
    app="oauth2-proxy",
    version=VERSION,
    image=OAUTH2_PROXY_IMAGE,
    previous_version="none (new with the sign-in)",
    image_source=_src("Makefile", "L31-34, L61, L105"),
    knobs=(
        _flag("--http-address", "listen on 0.0.0.0:<port>; the default 127.0.0.1:4180 is unreachable", _LEGACY, "L494"),
        _flag("--provider", "'oidc': any OpenID Connect provider (default 'google')", _LEGACY, "L596"),
        _flag("--provider-display-name", "the provider's name on its pages", _LEGACY, "L597"),
        _flag("--oidc-issuer-url", "the issuer; discovery is read below it", _LEGACY, "L600"),
        _flag("--client-id", "the client registered at the provider", _LEGACY, "L592"),
        _flag("--redirect-url", "<public URL>/oauth2/callback, registered at the provider", _OPTIONS, "L126"),
        _flag("--scope", "the scopes asked for (space-separated)", _LEGACY, "L619"),
        _flag("--upstream", "the app behind the proxy (its in-cluster URL)", _LEGACY, "L122"),
        _flag(
            "--upstream-timeout",
            "how long the app may take to send its response headers (default 30s: a render takes longer)",
            _LEGACY,
            "L123",
        ),
        _flag("--email-domain", "'*': the provider decides who may sign in", _OPTIONS, "L141"),
        _flag("--reverse-proxy", "trust X-Forwarded-* from the gateway in front", _OPTIONS, "L121"),
        _flag("--skip-provider-button", "go straight to the provider, no sign-in page of its own", _OPTIONS, "L131"),
        _flag("--cookie-secure", "the session cookie only over HTTPS (its default, stated)", _COOKIE, "L40"),
        _flag("--oidc-groups-claim", "the claim that lists a user's groups (with allowed groups)", _LEGACY, "L606"),
        _flag("--allowed-group", "only members of these groups get in", _LEGACY, "L631"),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH2_PROXY_CLIENT_SECRET",
            meaning="the client secret (flag --client-secret, cfg client_secret), from a SopsSecret",
            source=_src("pkg/apis/options/load.go", "L25-26, L31-32"),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH2_PROXY_COOKIE_SECRET",
            meaning="the session cookie's key, 16, 24 or 32 bytes or their base64 (pkg/validation/cookie.go "
            "L76-87), from a SopsSecret",
            source=_src("pkg/apis/options/load.go", "L25-26, L31-32"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /ping",
            meaning="200 without a session (liveness); answered before any sign-in (oauthproxy.go L372-393)",
            source=_src(_OPTIONS, "L147"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /ready",
            meaning="200 once the session store answers (startup and readiness; the cookie store always does)",
            source=_src(_OPTIONS, "L149"),
        ),
        Knob(
            kind=KnobKind.PORT,
            name="4180",
            meaning="the HTTP port, oauth2-proxy's own (the chart binds it on 0.0.0.0)",
            source=_src(_LEGACY, "L494"),
        ),
        Knob(
            kind=KnobKind.USER,
            name="10001:10001",
            meaning="the chart's non-root user; the binary is static (distroless static:nonroot runs 65532) "
            "and reads no file of its own",
            source=_src("Makefile", "L61"),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/tmp",
            meaning="the chart's scratch dir (emptyDir); oauth2-proxy writes nothing with the cookie session store",
            source=_src(_OPTIONS, "L150"),
        ),
    ),
)
