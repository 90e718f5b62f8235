"""OpenWebUI: the chat UI, talking to Ollama and, for pictures, to Stable Diffusion."""

from __future__ import annotations

from datetime import timedelta

import attrs
from constructs import Construct

from homelab_ai.app_workload import AppWorkload, AppWorkloadProps, VolumeMount
from homelab_ai.llm_backend import LlmBackend
from homelab_ai.load_balancer import LoadBalancer
from homelab_ai.longhorn_volume import LonghornVolume, LonghornVolumeProps
from homelab_ai.sops_secret import SopsSecret
from homelab_ai.stable_diffusion import StableDiffusion
from homelab_ai.validators import dns1123_label, env_mapping, port, secret_key
from homelab_ai.values import ComputeResources, ContainerImage, HealthCheck

OPEN_WEBUI_IMAGE = ContainerImage(repository="ghcr.io/open-webui/open-webui", tag="v0.6.5")
DATA_DIR = "/app/backend/data"
SD_PASSWORD_ENV = "AUTOMATIC1111_API_PASSWORD"


@attrs.frozen(kw_only=True)
class OpenWebUIProps:
    """Open WebUI wired to an LlmBackend, optionally to StableDiffusion; its session key from a SopsSecret."""

    backend: LlmBackend
    secret: SopsSecret
    expose: LoadBalancer | None = None
    image_generation: StableDiffusion | None = None
    secret_key_key: str = attrs.field(default="WEBUI_SECRET_KEY", validator=secret_key)
    data_volume: LonghornVolumeProps = LonghornVolumeProps(
        name="open-webui-data", size_gib=10, purpose="User data, conversations"
    )
    name: str = attrs.field(default="open-webui", validator=dns1123_label)
    port: int = attrs.field(default=8080, validator=port)
    image: ContainerImage = OPEN_WEBUI_IMAGE
    resources: ComputeResources = ComputeResources(
        cpu_request=0.5, cpu_limit=2, memory_request_gib=1, memory_limit_gib=4
    )
    # The first start migrates its database and loads the embedding model.
    health: HealthCheck = HealthCheck(path="/health", startup_budget=timedelta(minutes=10))
    extra_env: dict[str, str] = attrs.field(factory=dict, validator=env_mapping)
    purpose: str = "LLM chat interface"


class OpenWebUI(Construct):
    """The chat UI; its data directory lives on a LonghornVolume so chats survive restarts."""

    def __init__(self, scope: Construct, id: str, props: OpenWebUIProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.data = LonghornVolume(self, "Data", props.data_volume)
        secret_env = {"WEBUI_SECRET_KEY": props.secret.key_ref(props.secret_key_key)}
        env = {"OLLAMA_BASE_URL": props.backend.url, "DATA_DIR": DATA_DIR}
        sd = props.image_generation
        if sd is not None:
            user, password = sd.api_auth()
            secret_env[SD_PASSWORD_ENV] = password
            env.update(
                {
                    "ENABLE_IMAGE_GENERATION": "true",
                    "IMAGE_GENERATION_ENGINE": "automatic1111",
                    "AUTOMATIC1111_BASE_URL": sd.url,
                    # Kubernetes expands $(VAR) from the variable defined above: no literal secret.
                    "AUTOMATIC1111_API_AUTH": f"{user}:$({SD_PASSWORD_ENV})",
                }
            )
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
                run_as_root=True,  # the image writes to /app/backend as root
                purpose=props.purpose,
            ),
        )

    @property
    def url(self) -> str:
        return self.app.url
