"""StableDiffusion: the AUTOMATIC1111 web UI and API on a shared GPU."""

from __future__ import annotations

import urllib.parse
from datetime import timedelta

import attrs
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import InternetEgress, PodSelector
from homelab_ai.base.validators import (
    absolute_path,
    as_tuple,
    dns1123_label,
    matches,
    port,
    positive_duration,
    secret_key,
    typed_fields,
)
from homelab_ai.base.validators import port as tcp_port  # the field `port` shadows the name in the class body
from homelab_ai.base.values import SCRIPT_IMAGE, ComputeResources, ContainerImage, HealthCheck
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy
from homelab_ai.cluster.app_workload import AppWorkload, AppWorkloadProps, VolumeMount, service_url
from homelab_ai.cluster.hardening import SecurityProfile
from homelab_ai.cluster.load_balancer import LoadBalancer
from homelab_ai.cluster.longhorn.volume import LonghornVolume, LonghornVolumeProps
from homelab_ai.gpu.shared_gpu import SharedGpu
from homelab_ai.gpu.time_sliced_app import GpuTimeSlicedApp, GpuTimeSlicedAppProps
from homelab_ai.gpu.vram import IdleUnload, VramEnvelope
from homelab_ai.secrets.sops_secret import SecretKeyRef, SopsSecret
from homelab_ai.services.stable_diffusion.checkpoint_fetch import (
    Checkpoint,
    CheckpointFetch,
    CheckpointFetchProps,
    checkpoint_list,
    checkpoint_tuple,
)
from homelab_ai.services.stable_diffusion.contract import SD_IMAGE
from homelab_ai.services.stable_diffusion.idle_unloader import SdIdleUnloader, SdIdleUnloaderProps

# The AUTOMATIC1111 image, its pin and what the chart relies on in it: homelab_ai/services/stable_diffusion/contract.py.
PASSWORD_ENV = "SD_WEBUI_PASSWORD"

# The image runs as its own user sduser (UID/GID 1000), who owns /app; webui.sh refuses to run as
# root. Any other UID could not write the web UI's folder, and it must be writable: at start the
# web UI writes config.json, ui-config.json, cache.json and params.txt there and may update its
# venv and repositories/. So: non-root, no capabilities, but UID 1000 (below checkov's 10000) and
# a writable root filesystem. Both exceptions are in .checkov.yaml (CKV_K8S_40, CKV_K8S_22).
SD_SECURITY = SecurityProfile(run_as_user=1000, run_as_group=1000, fs_group=1000, read_only_root_filesystem=False)


def _checkpoints_reachable(props: StableDiffusionProps) -> None:
    """Each checkpoint's download must get through the pod's NetworkPolicy, or the init container
    retries forever and the web UI never starts. Refused, not opened: which ports the pod may use
    on the internet is the user's decision (HTTPS only by default)."""
    if not props.checkpoints:
        return
    open_ports = props.model_downloads.ports if props.model_downloads else ()
    for index, checkpoint in enumerate(props.checkpoints):
        parts = urllib.parse.urlsplit(checkpoint.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if port not in open_ports:
            allowed = (
                f"lets the pod reach the internet on port(s) {', '.join(map(str, open_ports))} only"
                if open_ports
                else "is None, so the pod may not reach the internet at all"
            )
            raise HomelabConfigError(
                "StableDiffusionProps.checkpoints",
                f"checkpoints[{index}] is downloaded from {checkpoint.url} (port {port}), but model_downloads "
                f"{allowed}: the init container can never fetch it and the pod never starts",
                "use the file's https:// URL with model_downloads=InternetEgress() (HTTPS), or add the port: "
                f"model_downloads=InternetEgress(ports=({', '.join(map(str, (*open_ports, port)))},))",
            )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class StableDiffusionProps:
    """AUTOMATIC1111 with its API on, behind a password kept in a SopsSecret.

    ``root_path`` is where the image keeps the web UI; models and outputs under it live on the
    data volume, so a new pod keeps every checkpoint, LoRA and generated image. AUTOMATIC1111
    never frees VRAM by itself: ``idle_unloader`` adds a sidecar that unloads the checkpoint after
    ``idle_timeout`` without a job (it needs the API, so ``enable_api`` must stay on).
    ``security`` is the image's own non-root user (see SD_SECURITY). ``model_downloads`` opens
    outbound HTTPS (checkpoint downloads, the web UI's update check); ``allow_from`` admits client
    pods when it is not exposed (Open WebUI wires itself).
    """

    gpu: SharedGpu
    """The SharedGpu the web UI takes a slice of. Required."""
    vram: VramEnvelope
    """Its VRAM when idle and busy (GiB), for the card's budget. Required."""
    secret: SopsSecret
    """SopsSecret holding the web UI and API password. Required."""
    expose: LoadBalancer | None = None
    """LAN address of the web UI. Default None: in-cluster only."""
    data_volume: LonghornVolumeProps = LonghornVolumeProps(
        name="sd-data", size_gib=150, purpose="Checkpoints, LoRAs, outputs"
    )
    """The claim of models/ and outputs/. Default "sd-data", 150 GiB."""
    name: str = attrs.field(default="stable-diffusion", validator=dns1123_label)
    """Name of the Deployment and Service. Default "stable-diffusion"."""
    port: int = attrs.field(default=7860, validator=port)
    """Port of the web UI and its API. Default 7860."""
    image: ContainerImage = SD_IMAGE
    """AUTOMATIC1111 image. Default SD_IMAGE."""
    root_path: str = attrs.field(default="/app/stable-diffusion-webui", validator=absolute_path)
    """Where the image keeps the web UI. Default "/app/stable-diffusion-webui"."""
    username: str = attrs.field(
        default="admin",
        validator=matches(r"[A-Za-z0-9_.-]+", "use letters, digits, '_', '.' and '-' (it is part of user:password)"),
    )
    """User of --gradio-auth and --api-auth. Default "admin"."""
    password_key: str = attrs.field(default="password", validator=secret_key)
    """Key of secret holding the password. Default "password"."""
    enable_api: bool = True
    """Serve the API (--api); the idle unloader needs it. Default True."""
    idle_timeout: timedelta = attrs.field(default=timedelta(minutes=10), validator=positive_duration)
    """Unload the checkpoint after this long without a job. Default 10 minutes."""
    idle_unloader: bool = True
    """Add the sidecar that unloads an idle checkpoint. Default True."""
    idle_poll_interval: timedelta = attrs.field(default=timedelta(seconds=15), validator=positive_duration)
    """How often the sidecar polls the web UI. Default 15 seconds."""
    idle_unloader_image: ContainerImage = SCRIPT_IMAGE
    """Python image of the sidecar. Default SCRIPT_IMAGE."""
    gate_port: int = attrs.field(default=7861, validator=tcp_port)
    """Port of the idle unloader's API gate (Service port "api-gate") that API clients use. Default 7861."""
    resources: ComputeResources = ComputeResources(
        cpu_request=2, cpu_limit=8, memory_request_gib=8, memory_limit_gib=24
    )
    """CPU (cores) and memory (GiB). Default 2-8 cores, 8-24 GiB."""
    health: HealthCheck = HealthCheck(path="/internal/ping", startup_budget=timedelta(minutes=20))
    """Probes of "/internal/ping". Default: 20 minutes startup (installs dependencies, may fetch a model)."""
    extra_args: tuple[str, ...] = attrs.field(default=(), converter=as_tuple)
    """More web UI command-line arguments. Default: none."""
    checkpoints: tuple[Checkpoint, ...] = attrs.field(default=(), converter=checkpoint_tuple, validator=checkpoint_list)
    """Files fetched into models/ before the web UI starts; license and size are yours. Default: none."""
    fetch_image: ContainerImage = SCRIPT_IMAGE
    """Python image of the fetch init container. Default SCRIPT_IMAGE."""

    def __attrs_post_init__(self) -> None:
        _checkpoints_reachable(self)
        if self.idle_unloader and not self.enable_api:
            raise HomelabConfigError(
                "StableDiffusionProps.idle_unloader",
                "the idle unloader calls the web UI's API, but enable_api is False",
                "keep enable_api=True, or set idle_unloader=False (the GPU budget then refuses a shared card "
                "unless the VRAM envelope says idle_gib = active_max_gib)",
            )
        if not self.gradio_auth and self.expose is not None:
            raise HomelabConfigError(
                "StableDiffusionProps.gradio_auth",
                "is off while the web UI has a LoadBalancer address: the whole LAN would get it without a password",
                "keep gradio_auth=True, or drop expose and reach it only through a sign-in proxy (OAuth2Proxy)",
            )

    purpose: str = "Image generation UI"
    """One line for the operator docs' services table. Default "Image generation UI"."""
    security: SecurityProfile = SD_SECURITY
    """Who the web UI runs as. Default SD_SECURITY: the image's UID/GID 1000, writable root."""
    allow_from: tuple[PodSelector, ...] = attrs.field(default=(), converter=as_tuple)
    """Client pods admitted when not exposed (Open WebUI wires itself). Default: none."""
    model_downloads: InternetEgress | None = None
    """Outbound internet (checkpoints, the update check). Default None: no internet."""
    gradio_auth: bool = True
    """Ask for the password in the web UI (--gradio-auth); off only behind a sign-in proxy. Default on."""

    @property
    def models_path(self) -> str:
        """Checkpoints folder, the one the spec tells operators to download into."""
        return f"{self.root_path}/models/Stable-diffusion"


class StableDiffusion(Construct):
    """AUTOMATIC1111; other apps use :attr:`url` and authenticate with :meth:`api_auth`."""

    def __init__(self, scope: Construct, id: str, props: StableDiffusionProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.password_ref = props.secret.key_ref(props.password_key)
        self.data = LonghornVolume(self, "Data", props.data_volume)
        credentials = f"{props.username}:$({PASSWORD_ENV})"
        args = ["--listen", "--port", str(props.port)]
        if props.gradio_auth:
            args += ["--gradio-auth", credentials]
        if props.enable_api:
            args += ["--api", "--api-auth", credentials]
        args += list(props.extra_args)
        self.gpu_app = GpuTimeSlicedApp(
            self,
            "WebUI",
            GpuTimeSlicedAppProps(
                app=AppWorkloadProps(
                    name=props.name,
                    image=props.image,
                    container_port=props.port,
                    resources=props.resources,
                    health=props.health,
                    args=tuple(args),
                    secret_env={PASSWORD_ENV: self.password_ref},
                    mounts=(
                        VolumeMount(volume=self.data, path=f"{props.root_path}/models", sub_path="models"),
                        VolumeMount(volume=self.data, path=f"{props.root_path}/outputs", sub_path="outputs"),
                    ),
                    expose=props.expose,
                    security=props.security,
                    allow_from=props.allow_from,
                    internet=props.model_downloads,
                    purpose=props.purpose,
                    extra_ports={"api-gate": props.gate_port} if props.idle_unloader else {},
                ),
                gpu=props.gpu,
                vram=props.vram,
                idle_unload=IdleUnload(
                    mechanism="sd-idle-unloader sidecar (POST /sdapi/v1/unload-checkpoint)",
                    timeout=props.idle_timeout,
                )
                if props.idle_unloader
                else None,
            ),
        )
        self.idle_unloader: SdIdleUnloader | None = None
        if props.idle_unloader:
            self.idle_unloader = SdIdleUnloader(
                self,
                "IdleUnloader",
                SdIdleUnloaderProps(
                    workload=self.gpu_app.app,
                    name=f"{props.name}-idle-unloader",
                    web_ui_port=props.port,
                    idle_timeout=props.idle_timeout,
                    poll_interval=props.idle_poll_interval,
                    username=props.username,
                    password=self.password_ref,
                    image=props.idle_unloader_image,
                    gate_port=props.gate_port,
                ),
            )

        self.checkpoint_fetch: CheckpointFetch | None = None
        if props.checkpoints:
            # An init container, so the web UI finds the files when it scans models/ at start:
            # no refresh-checkpoints API call needed.
            self.checkpoint_fetch = CheckpointFetch(
                self,
                "CheckpointFetch",
                CheckpointFetchProps(
                    workload=self.gpu_app.app.workload,
                    volume=self.data,
                    models_path=f"{props.root_path}/models",
                    sub_path="models",
                    checkpoints=props.checkpoints,
                    name=f"{props.name}-fetch-models",
                    image=props.fetch_image,
                    security=attrs.evolve(props.security, read_only_root_filesystem=True),
                ),
            )

    @property
    def url(self) -> str:
        """In-cluster URL of the web UI and API."""
        return self.gpu_app.url

    @property
    def api_url(self) -> str:
        """Where API clients generate images: the idle unloader's gate, which first reloads an unloaded
        checkpoint (AUTOMATIC1111 v1.10.1 does not), else the web UI itself."""
        if self.idle_unloader is None:
            return self.url
        return service_url(self, self.props.name, self.props.gate_port)

    @property
    def checkpoints(self) -> tuple[Checkpoint, ...]:
        """The declared files (what the docs list)."""
        return self.props.checkpoints

    @property
    def name(self) -> str:
        """Name of the Deployment and Service."""
        return self.props.name

    @property
    def api_docs_path(self) -> str | None:
        """Where the web UI serves its API's Swagger page (only with the API on); read by `homelab-ai docs`."""
        return "/docs" if self.props.enable_api else None

    @property
    def app(self) -> AppWorkload:
        """The web UI's AppWorkload (pod, Service, NetworkPolicy)."""
        return self.gpu_app.app

    @property
    def network_policy(self) -> AppNetworkPolicy | None:
        """The web UI's NetworkPolicy, or None."""
        return self.app.network_policy

    def allow_client(self, client: AppWorkload | AppNetworkPolicy | PodSelector) -> None:
        """Let ``client`` reach the web UI and API (a client given as its policy also gets the egress rule)."""
        self.app.allow_client(client)

    def api_auth(self) -> tuple[str, SecretKeyRef]:
        """The API user name and a reference to its password, for clients such as Open WebUI."""
        return self.props.username, self.password_ref
