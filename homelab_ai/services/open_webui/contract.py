"""Open WebUI's contract at the pinned release: every env var, path, port and user the chart relies on.

Read from the open-webui 0.12.4 wheel on PyPI (``open_webui/...`` in the wheel is
``backend/open_webui/...`` in the repository at tag v0.12.4); ``changed`` compares with 0.6.5, the
previous pin. tests/test_open_webui_upstream.py downloads that wheel and checks every
``backend/open_webui`` row against it: the env var is read there, at the cited lines, and the
``database_keys`` are the database-backed setting it seeds.

Open WebUI keeps most settings in its database (table ``config``, one row per key): an env var
only seeds a key, and the admin page's changes win over the env on later starts, unless
ENABLE_PERSISTENT_CONFIG is False. Then every key is read from the environment (or its default)
on every start and admin-page changes last until the next restart
(backend/open_webui/models/config.py ``Config.persistent_enabled_for``/``get``/``seed_defaults``).
"""

from __future__ import annotations

from homelab_ai.base.contract import AppContract, Knob, KnobKind, Source
from homelab_ai.base.values import ContainerImage

# The image's tags: the release tag itself (v0.12.4) and the semver forms (0.12.4, 0.12), pushed
# by .github/workflows/docker-build.yaml (docker/metadata-action: type=ref,event=tag;
# type=semver,pattern={{version}}), the same scheme as the v0.6.5 pinned before.
OPEN_WEBUI_IMAGE = ContainerImage(repository="ghcr.io/open-webui/open-webui", tag="v0.12.4")
# The PyPI release with the same source (tests/test_open_webui_upstream.py reads it).
VERSION = OPEN_WEBUI_IMAGE.tag.removeprefix("v")

_REPO = "open-webui/open-webui"
_TAG = f"v{VERSION}"
CONFIG = "backend/open_webui/config.py"
ENV = "backend/open_webui/env.py"


def _src(path: str, lines: str, **kwargs: object) -> Source:
    return Source(repo=_REPO, path=path, ref=_TAG, lines=lines, **kwargs)  # type: ignore[arg-type]


_DOCKERFILE = _src(
    "Dockerfile",
    "",
    read_at_ref=False,
    note="the v0.12.4 Dockerfile is not in the wheel and the repository snapshot is too large to fetch; "
    "what is known: ENV PORT=8080, HOME=/root, USER $UID:$GID with ARG UID=0 (stored copy, commit 00a89829), "
    "and CHANGELOG.md 0.11.x: non-root starts work again (#27651)",
)

OPEN_WEBUI_CONTRACT = AppContract(
    app="Open WebUI",
    version=VERSION,
    image=OPEN_WEBUI_IMAGE,
    previous_version="0.6.5",
    image_source=_src(
        ".github/workflows/docker-build.yaml",
        "",
        read_at_ref=False,
        note="tag scheme read in a stored copy of the workflow (type=ref,event=tag; type=semver); the 0.12.4 "
        "release itself: PyPI open-webui 0.12.4 and CHANGELOG.md L8 '## [0.12.4] - 2026-10-25'",
    ),
    knobs=(
        Knob(
            kind=KnobKind.ENV,
            name="ENABLE_PERSISTENT_CONFIG",
            meaning="False: every setting comes from the environment (or its default) on every start; "
            "the database is neither read nor seeded for settings",
            source=_src(CONFIG, "L3352, L3355-3359"),
            changed="at 0.6.5 the settings were one JSON row and PersistentConfig values; now one row per key "
            "(models/config.py), same switch, default True",
        ),
        Knob(
            kind=KnobKind.ENV,
            name="WEBUI_SECRET_KEY",
            meaning="session signing key; no default: the app refuses to start without it when auth is on",
            source=_src(ENV, "L770-773, L788-795"),
            changed="default 't0p-s3cr3t' at 0.6.5, now '' and SystemExit",
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OLLAMA_BASE_URL",
            meaning="the Ollama server; seeds OLLAMA_BASE_URLS ('ollama.base_urls') and RAG_OLLAMA_BASE_URL",
            source=_src(CONFIG, "L247, L298-306, L1112, L2924, L3035"),
            database_keys=("ollama.base_urls", "rag.ollama.base_url"),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="DATA_DIR",
            meaning="database, uploads and caches; default <backend>/data = /app/backend/data",
            source=_src(ENV, "L228"),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="ENABLE_IMAGE_GENERATION",
            meaning="turn image generation on",
            source=_src(CONFIG, "L1360, L3118"),
            database_keys=("image_generation.enable",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="IMAGE_GENERATION_ENGINE",
            meaning="'automatic1111' for Stable Diffusion's web UI; default 'openai'",
            source=_src(CONFIG, "L1362, L3119"),
            database_keys=("image_generation.engine",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="AUTOMATIC1111_BASE_URL",
            meaning="the web UI's URL; calls /sdapi/v1/options, /sd-models, /txt2img (routers/images.py)",
            source=_src(CONFIG, "L1378, L3124"),
            database_keys=("image_generation.automatic1111.base_url",),
            changed="setting key was image_generation.automatic1111_base_url at 0.6.5 (env name unchanged)",
        ),
        Knob(
            kind=KnobKind.ENV,
            name="AUTOMATIC1111_API_AUTH",
            meaning="'user:password', sent as HTTP Basic auth (routers/images.py L323-330)",
            source=_src(CONFIG, "L1379, L3125"),
            database_keys=("image_generation.automatic1111.api_auth",),
            changed="setting key was image_generation.automatic1111_api_auth at 0.6.5 (env name unchanged)",
        ),
        Knob(
            kind=KnobKind.ENV,
            name="AUTOMATIC1111_API_PASSWORD",
            meaning="not read by Open WebUI: Kubernetes expands $(AUTOMATIC1111_API_PASSWORD) into "
            "AUTOMATIC1111_API_AUTH, so the password comes from the Secret and never sits in the manifest",
            source=Source(
                repo="kubernetes/api",
                path="core/v1/types.go",
                ref="v0.27.0",
                lines="EnvVar.Value",
                read_at_ref=False,
                note="'Variable references $(VAR_NAME) are expanded using the previously defined environment "
                "variables in the container' (field doc, same text in every stored copy)",
            ),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="HOME",
            meaning="the image's HOME is /root, which the chart's non-root user cannot write; /tmp instead",
            source=_DOCKERFILE,
        ),
        # --- with OpenWebUIProps.public_url, oidc, secure_cookies (a route by name, one sign-in) -------------
        Knob(
            kind=KnobKind.ENV,
            name="WEBUI_URL",
            meaning="its own HTTPS address (links, the OAuth redirect base)",
            source=_src(CONFIG, "L1689, L3192"),
            database_keys=("webui.url",),
            changed="default 'http://localhost:3000' at 0.6.5, now ''",
        ),
        Knob(
            kind=KnobKind.ENV,
            name="WEBUI_SESSION_COOKIE_SECURE",
            meaning="'true': session and login cookies HTTPS-only (WEBUI_AUTH_COOKIE_SECURE follows it, L780-786)",
            source=_src(ENV, "L778"),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OPENID_PROVIDER_URL",
            meaning="the provider's discovery document (server_metadata_url, L2812)",
            source=_src(CONFIG, "L2638, L3301"),
            database_keys=("oauth.provider_url",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH_CLIENT_ID",
            meaning="the client registered at the provider; with a secret and the provider URL, the OIDC "
            "provider is registered (L2805)",
            source=_src(CONFIG, "L2634, L3299"),
            database_keys=("oauth.client_id",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH_CLIENT_SECRET",
            meaning="the client's secret, from a SopsSecret",
            source=_src(CONFIG, "L2636, L3300"),
            database_keys=("oauth.client_secret",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OPENID_REDIRECT_URI",
            meaning="<WEBUI_URL>/oauth/oidc/login/callback (main.py L2945), registered at the provider",
            source=_src(CONFIG, "L2642, L3303"),
            database_keys=("oauth.redirect_uri",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH_SCOPES",
            meaning="scopes asked for; default 'openid email profile'",
            source=_src(CONFIG, "L2644, L3304"),
            database_keys=("oauth.scopes",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH_PROVIDER_NAME",
            meaning="the sign-in button's label; default 'SSO'",
            source=_src(CONFIG, "L2652, L3308"),
            database_keys=("oauth.provider_name",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="ENABLE_OAUTH_SIGNUP",
            meaning="a first sign-in creates the account; default False",
            source=_src(CONFIG, "L2576, L3280"),
            database_keys=("oauth.enable_signup",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="ENABLE_OAUTH_ROLE_MANAGEMENT",
            meaning="take the role from OAUTH_ROLES_CLAIM on every sign-in",
            source=_src(CONFIG, "L2673, L3318"),
            database_keys=("oauth.enable_role_mapping",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH_ROLES_CLAIM",
            meaning="the claim listing a user's roles; default 'roles'",
            source=_src(CONFIG, "L2688, L3323"),
            database_keys=("oauth.roles_claim",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH_ALLOWED_ROLES",
            meaning="roles that may sign in, ','-separated (OAUTH_ROLES_SEPARATOR, L2690); default 'user,admin'",
            source=_src(CONFIG, "L2692-2696, L3324"),
            database_keys=("oauth.allowed_roles",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH_ADMIN_ROLES",
            meaning="roles that make an admin, ','-separated; default 'admin'",
            source=_src(CONFIG, "L2698-2700, L3325"),
            database_keys=("oauth.admin_roles",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="ENABLE_OAUTH_GROUP_MANAGEMENT",
            meaning="sync the user's groups from OAUTH_GROUPS_CLAIM on every sign-in",
            source=_src(CONFIG, "L2675, L3319"),
            database_keys=("oauth.enable_group_mapping",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="OAUTH_GROUPS_CLAIM",
            meaning="the claim listing a user's groups; default 'groups'",
            source=_src(CONFIG, "L2663, L3313"),
            database_keys=("oauth.group_claim",),
            changed="0.6.5 read OAUTH_GROUP_CLAIM only; 0.12.4 reads OAUTH_GROUPS_CLAIM, the old name as fallback",
        ),
        Knob(
            kind=KnobKind.ENV,
            name="ENABLE_LOGIN_FORM",
            meaning="'false' hides the email/password form (and refuses password sign-up, routers/auths.py L865)",
            source=_src(CONFIG, "L1694, L3194"),
            database_keys=("ui.enable_login_form",),
        ),
        Knob(
            kind=KnobKind.ENV,
            name="ENABLE_PASSWORD_AUTH",
            meaning="'false' refuses password sign-in at the API too (routers/auths.py L670-674); not stored",
            source=_src(CONFIG, "L1698"),
            changed="new since 0.6.5",
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /health",
            meaning='{"status": true} as soon as the server answers: the liveness probe',
            source=_src("backend/open_webui/main.py", "L3075-3077"),
        ),
        Knob(
            kind=KnobKind.API_PATH,
            name="GET /ready",
            meaning="200 only after startup finished and the database answers, else 503: startup and readiness",
            source=_src("backend/open_webui/main.py", "L3080-3118"),
            changed="new since 0.6.5 (CHANGELOG.md, 0.8.11 section, #22507)",
        ),
        Knob(
            kind=KnobKind.PORT,
            name="8080",
            meaning="the HTTP port (`open-webui serve` default; the image's start.sh reads PORT=8080)",
            source=_src("backend/open_webui/__init__.py", "L38-41"),
        ),
        Knob(
            kind=KnobKind.USER,
            name="10001:10001",
            meaning="the chart's non-root user (the image defaults to root)",
            source=_DOCKERFILE,
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/app/backend/data",
            meaning="DATA_DIR: the volume (database, uploads, cache/ made at import)",
            source=_src(CONFIG, "L188-189"),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/app/backend/open_webui/static",
            meaning="STATIC_DIR: at every start the app deletes its top-level files and copies the frontend's "
            "static files in (emptyDir, seeded from the image)",
            source=_src(CONFIG, "L99-150"),
            changed="the copy's source is now FRONTEND_BUILD_DIR/static, else a RuntimeError at start",
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/seed",
            meaning="where the seed-static init container copies STATIC_DIR from the image (its own emptyDir)",
            source=_src(ENV, "L252"),
        ),
        Knob(
            kind=KnobKind.WRITABLE_PATH,
            name="/tmp",
            meaning="HOME and temporary files (emptyDir)",
            source=_DOCKERFILE,
        ),
    ),
)
