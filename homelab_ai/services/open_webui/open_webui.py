"""OpenWebUI: the chat UI, talking to Ollama and, for pictures, to Stable Diffusion."""

from __future__ import annotations

from datetime import timedelta

import attrs
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import InternetEgress, PodSelector
from homelab_ai.base.plus import container_resources, kplus
from homelab_ai.base.validators import as_tuple, dns1123_label, env_mapping, https_site, port, secret_key, typed_fields
from homelab_ai.base.values import ComputeResources, ContainerImage, HealthCheck
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy
from homelab_ai.cluster.app_workload import AppWorkload, AppWorkloadProps, VolumeMount
from homelab_ai.cluster.hardening import TMP, ScratchDir, SecurityProfile, harden_container
from homelab_ai.cluster.load_balancer import LoadBalancer
from homelab_ai.cluster.longhorn.volume import LonghornVolume, LonghornVolumeProps
from homelab_ai.secrets.sops_secret import SopsSecret
from homelab_ai.services.ollama.llm_backend import LlmBackend
from homelab_ai.services.open_webui.contract import OPEN_WEBUI_IMAGE
from homelab_ai.services.open_webui.oidc_login import CLIENT_SECRET_ENV, SIGN_IN_ENV, OpenWebUIOidc
from homelab_ai.services.stable_diffusion.stable_diffusion import StableDiffusion
from homelab_ai.services.vram_arbiter.arbiter import VramArbiter

DATA_DIR = "/app/backend/data"
# At every start Open WebUI copies its frontend's static files into this package folder (and may
# create sub-folders there): the one place outside DATA_DIR it writes. It is an emptyDir, seeded
# from the image by an init container, so the root filesystem can stay read-only.
STATIC_DIR = "/app/backend/open_webui/static"
STATIC_SEED = "/seed"
SD_PASSWORD_ENV = "AUTOMATIC1111_API_PASSWORD"
# Open WebUI keeps its settings in its database and, by default, lets the database win over the
# environment after the first start: a rotated password or a new URL would never arrive, and the
# A1111 "user:password" would sit in webui.db on the volume (and in its backups). False makes it take
# every setting from the environment on every start and write none of them to the database
# (backend/open_webui/models/config.py@v0.12.4 Config.persistent_enabled_for, get, seed_defaults).
# WEBUI_URL is config.py@v0.12.4 L1689 (setting webui.url, L3192); WEBUI_SESSION_COOKIE_SECURE is env.py
# L778, and WEBUI_AUTH_COOKIE_SECURE follows it (L780-786).
PERSISTENT_CONFIG_ENV = "ENABLE_PERSISTENT_CONFIG"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class OpenWebUIProps:
    """Open WebUI wired to an LlmBackend, optionally to StableDiffusion; its session key from a SopsSecret.

    Runs as UID 10001 with a read-only root filesystem: it writes its database, uploads and
    model caches under DATA_DIR (the volume; the image points HF_HOME and the other caches
    there), temporary files and ``$HOME`` under ``/tmp``, and static files into STATIC_DIR (both
    emptyDirs). Installing Python packages for tools at run time is therefore not possible.
    ``internet`` opens outbound HTTPS (the RAG embedding model is downloaded on first start,
    web search); ``allow_from`` admits client pods when the UI is not exposed.
    """

    backend: LlmBackend
    """The LlmBackend it chats through (OLLAMA_BASE_URL); it lets Open WebUI in. Required."""
    secret: SopsSecret
    """SopsSecret holding the session key. Required."""
    expose: LoadBalancer | None = None
    """LAN address of the UI. Default None: in-cluster only."""
    image_generation: StableDiffusion | None = None
    """StableDiffusion for pictures (the automatic1111 engine). Default None: no pictures."""
    secret_key_key: str = attrs.field(default="WEBUI_SECRET_KEY", validator=secret_key)
    """Key of secret holding WEBUI_SECRET_KEY. Default "WEBUI_SECRET_KEY"."""
    data_volume: LonghornVolumeProps = LonghornVolumeProps(
        name="open-webui-data", size_gib=10, purpose="User data, conversations"
    )
    """The claim of its data folder (database, uploads, caches). Default "open-webui-data", 10 GiB."""
    name: str = attrs.field(default="open-webui", validator=dns1123_label)
    """Name of the Deployment and Service. Default "open-webui"."""
    port: int = attrs.field(default=8080, validator=port)
    """Container port of the UI. Default 8080."""
    image: ContainerImage = OPEN_WEBUI_IMAGE
    """Open WebUI's image. Default OPEN_WEBUI_IMAGE, the pinned release."""
    resources: ComputeResources = ComputeResources(
        cpu_request=0.5, cpu_limit=2, memory_request_gib=1, memory_limit_gib=4
    )
    """CPU (cores) and memory (GiB). Default 0.5-2 cores, 1-4 GiB."""
    # /ready (main.py@v0.12.4 L3080-3118) answers 200 only once startup finished and the database
    # answers; /health only says the server is up, which is what liveness needs.
    health: HealthCheck = HealthCheck(path="/health", ready_path="/ready", startup_budget=timedelta(minutes=10))
    """Liveness on "/health", startup and readiness on "/ready". Default: 10 minutes startup (migration, embeddings)."""
    extra_env: dict[str, str] = attrs.field(factory=dict, validator=env_mapping)
    """More Open WebUI settings as env vars, read on every start; not the chart's own ones. Default: none."""
    purpose: str = "LLM chat interface"
    """One line for the operator docs' services table. Default "LLM chat interface"."""
    security: SecurityProfile = SecurityProfile()
    """Who the UI runs as. Default SecurityProfile(): UID/GID 10001, read-only root filesystem."""
    allow_from: tuple[PodSelector, ...] = attrs.field(default=(), converter=as_tuple)
    """Client pods admitted when the UI is not exposed. Default: none."""
    internet: InternetEgress | None = None
    """Outbound internet (embedding model download, web search). Default None: no internet."""
    seed_resources: ComputeResources = ComputeResources(
        cpu_request=0.05, cpu_limit=0.5, memory_request_gib=0.0625, memory_limit_gib=0.25
    )
    """CPU (cores), memory (GiB) of the static-files init container. Default 0.05-0.5, 0.0625-0.25."""
    public_url: str | None = attrs.field(default=None, validator=attrs.validators.optional(https_site))
    """Its own address (WEBUI_URL), e.g. "https://chat.home.example.com". Default none: each request's own."""
    oidc: OpenWebUIOidc | None = None
    """Sign in with an OpenID Connect provider (needs public_url). Default none: Open WebUI's own accounts."""
    secure_cookies: bool = False
    """Login cookies over HTTPS only (WEBUI_SESSION_COOKIE_SECURE); not with a plain-HTTP expose. Default off."""
    vram_arbiter: VramArbiter | None = None
    """Reach Ollama and Stable Diffusion through this VRAM arbiter instead of directly. Default None (direct)."""

    def __attrs_post_init__(self) -> None:
        if self.oidc is not None and self.public_url is None:
            raise HomelabConfigError(
                "OpenWebUIProps.oidc",
                "OIDC login needs the address the provider sends people back to, and public_url is not set",
                "set public_url='https://<its host name>' (an AppRoute's url)",
            )
        if self.secure_cookies and (self.expose is not None or self.public_url is None):
            raise HomelabConfigError(
                "OpenWebUIProps.secure_cookies",
                "browsers would drop HTTPS-only cookies on a plain-HTTP address, so nobody could stay signed in",
                "turn it on only when public_url is set and the UI has no LoadBalancer (expose=None)",
            )
        arbiter = self.vram_arbiter
        if arbiter is not None and arbiter.props.ollama is not self.backend:
            raise HomelabConfigError(
                "OpenWebUIProps.vram_arbiter",
                f"arbitrates {arbiter.props.ollama.gpu_app.name}, not this backend {self.backend.gpu_app.name}",
                "give VramArbiterProps(ollama=...) the same LlmBackend as OpenWebUIProps.backend",
            )
        sd = self.image_generation
        if arbiter is not None and sd is not None and arbiter.props.stable_diffusion is not sd:
            raise HomelabConfigError(
                "OpenWebUIProps.vram_arbiter",
                f"does not arbitrate the Stable Diffusion {sd.gpu_app.name} that makes this UI's images",
                "give VramArbiterProps(stable_diffusion=...) the same StableDiffusion as image_generation",
            )

    @extra_env.validator
    def _not_owned(self, attribute: attrs.Attribute[dict[str, str]], value: dict[str, str]) -> None:
        owned = {*_CHART_ENV, *_IMAGE_GENERATION_ENV, *SIGN_IN_ENV, "WEBUI_SECRET_KEY"}
        for name in sorted(owned & set(value)):
            raise HomelabConfigError(
                "OpenWebUIProps.extra_env",
                f"sets {name}, which the chart owns",
                "remove it from extra_env; change the prop it comes from (backend, image_generation, secret, "
                "public_url, oidc, secure_cookies) instead",
            )


# Env the chart always sets, the image-generation env it sets when Stable Diffusion is wired, and the
# address and sign-in env it sets from public_url, oidc and secure_cookies.
_CHART_ENV = ("OLLAMA_BASE_URL", "DATA_DIR", "HOME", PERSISTENT_CONFIG_ENV)
_IMAGE_GENERATION_ENV = (
    "ENABLE_IMAGE_GENERATION",
    "IMAGE_GENERATION_ENGINE",
    "AUTOMATIC1111_BASE_URL",
    "AUTOMATIC1111_API_AUTH",
    SD_PASSWORD_ENV,
)


class OpenWebUI(Construct):
    """The chat UI; its data directory lives on a LonghornVolume so chats survive restarts."""

    def __init__(self, scope: Construct, id: str, props: OpenWebUIProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.data = LonghornVolume(self, "Data", props.data_volume)
        secret_env = {"WEBUI_SECRET_KEY": props.secret.key_ref(props.secret_key_key)}
        # HOME: the image's is /root, which UID 10001 cannot write.
        arbiter = props.vram_arbiter
        # Through the arbiter, when there is one: it admits each chat and image only when it fits the card.
        env = {
            "OLLAMA_BASE_URL": arbiter.ollama_url if arbiter is not None else props.backend.url,
            "DATA_DIR": DATA_DIR,
            "HOME": TMP.path,
            PERSISTENT_CONFIG_ENV: "False",
        }
        sd = props.image_generation
        if sd is not None:
            user, password = sd.api_auth()
            secret_env[SD_PASSWORD_ENV] = password
            env.update(
                {
                    "ENABLE_IMAGE_GENERATION": "true",
                    "IMAGE_GENERATION_ENGINE": "automatic1111",
                    "AUTOMATIC1111_BASE_URL": (arbiter.stable_diffusion_url if arbiter is not None else None)
                    or sd.api_url,
                    # Kubernetes expands $(VAR) from the variable defined above: no literal secret.
                    "AUTOMATIC1111_API_AUTH": f"{user}:$({SD_PASSWORD_ENV})",
                }
            )
        if props.public_url is not None:
            env["WEBUI_URL"] = props.public_url
        if props.oidc is not None and props.public_url is not None:
            assert props.oidc.client_secret is not None  # OpenWebUIOidc refuses None
            env.update(props.oidc.env(props.public_url))
            secret_env[CLIENT_SECRET_ENV] = props.oidc.client_secret
        if props.secure_cookies:
            env["WEBUI_SESSION_COOKIE_SECURE"] = "true"
        env.update(props.extra_env)
        self.app = AppWorkload(
            self,
            "App",
            AppWorkloadProps(
                name=props.name,
                image=props.image,
                container_port=props.port,
                resources=props.resources,
                health=props.health,
                env=env,
                secret_env=secret_env,
                mounts=(VolumeMount(volume=self.data, path=DATA_DIR),),
                expose=props.expose,
                security=props.security,
                scratch=(TMP, ScratchDir(name="static", path=STATIC_DIR)),
                allow_from=props.allow_from,
                internet=props.internet,
                purpose=props.purpose,
            ),
        )
        self._seed_static_dir(props)
        if props.oidc is not None and self.app.network_policy is not None:
            # Discovery, keys and the token exchange go from the pod to the provider.
            self.app.network_policy.allow_egress(props.oidc.provider.egress)
        if arbiter is not None:
            arbiter.allow_client(self.app)
        else:
            props.backend.allow_client(self.app)
            if sd is not None:
                sd.allow_client(self.app)

    def _seed_static_dir(self, props: OpenWebUIProps) -> None:
        """Copy the image's static folder into the emptyDir that replaces it in the app container."""
        res = props.seed_resources
        seed = self.app.workload.add_init_container(
            name="seed-static",
            image=props.image.reference,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["sh", "-c", f"cp -R {STATIC_DIR}/. {STATIC_SEED}/"],
            resources=container_resources(res),
        )
        harden_container(self.app.workload, seed, scratch=(ScratchDir(name="static", path=STATIC_SEED),))

    @property
    def url(self) -> str:
        """In-cluster URL of the UI's Service."""
        return self.app.url

    @property
    def owned_settings(self) -> tuple[str, ...]:
        """The Open WebUI settings (env vars) the chart sets: the docs list them as not editable in the UI."""
        names = [*self.app.props.secret_env, *self.app.props.env]
        return tuple(n for n in names if n not in ("HOME", "DATA_DIR", SD_PASSWORD_ENV))

    @property
    def network_policy(self) -> AppNetworkPolicy | None:
        """The UI's NetworkPolicy, or None."""
        return self.app.network_policy
