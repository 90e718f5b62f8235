"""LlmBackend: Ollama as a StatefulSet ``ollama`` (pod ``ollama-0``) behind a ClusterIP Service."""

from __future__ import annotations

from datetime import timedelta

import attrs
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import InternetEgress, PodSelector
from homelab_ai.base.validators import (
    absolute_path,
    as_tuple,
    dns1123_label,
    env_mapping,
    port,
    positive_duration,
    typed_fields,
    whole_number,
)
from homelab_ai.base.values import ComputeResources, ContainerImage, HealthCheck, WorkloadKind, go_duration
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy, AppNetworkPolicyProps
from homelab_ai.cluster.app_workload import AppWorkload, AppWorkloadProps, VolumeMount
from homelab_ai.cluster.hardening import TMP, SecurityProfile
from homelab_ai.cluster.longhorn.volume import LonghornVolume, LonghornVolumeProps
from homelab_ai.gpu.shared_gpu import SharedGpu
from homelab_ai.gpu.time_sliced_app import GpuTimeSlicedApp, GpuTimeSlicedAppProps
from homelab_ai.gpu.vram import IdleUnload, VramEnvelope
from homelab_ai.services.ollama.contract import OLLAMA_IMAGE
from homelab_ai.services.ollama.model_pull import (
    MAX_NAME_LENGTH,
    OllamaModelPull,
    OllamaModelPullProps,
    model_names,
    model_tuple,
)


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class LlmBackendProps:
    """Ollama on a shared GPU.

    ``keep_alive`` unloads an idle model so the card's VRAM goes back to the other apps;
    ``max_loaded_models`` defaults to 1 because on a shared card two resident models are how
    the budget gets blown. ``models`` are pulled by a Job (see OllamaModelPull) so a rebuilt
    cluster gets them back by itself; none by default.

    Runs as UID 10001 with a read-only root filesystem: the server needs only its models folder
    (the volume at ``models_path``) and a writable ``$HOME`` for its key pair (``/tmp``, an
    emptyDir). Only Open WebUI (which wires itself) and ``allow_from`` pods may connect;
    ``model_downloads`` opens outbound HTTPS for ``ollama pull``.
    """

    gpu: SharedGpu
    """The SharedGpu Ollama takes a slice of. Required."""
    vram: VramEnvelope
    """Ollama's VRAM when idle and busy (GiB), for the card's budget. Required."""
    models_volume: LonghornVolumeProps = LonghornVolumeProps(name="ollama-models", size_gib=100, purpose="LLM models")
    """The claim holding the models. Default "ollama-models", 100 GiB."""
    name: str = attrs.field(default="ollama", validator=dns1123_label)
    """Name of the StatefulSet, its Service and its pod (ollama-0). Default "ollama"."""
    port: int = attrs.field(default=11434, validator=port)
    """Port of Ollama's HTTP API. Default 11434."""
    image: ContainerImage = OLLAMA_IMAGE
    """Ollama's image. Default OLLAMA_IMAGE, the pinned ollama/ollama release."""
    keep_alive: timedelta = attrs.field(default=timedelta(minutes=5), validator=positive_duration)
    """How long an idle model stays loaded (OLLAMA_KEEP_ALIVE): the idle unload. Default 5 minutes."""
    max_loaded_models: int = attrs.field(default=1, validator=whole_number(1))
    """How many models may be loaded at once (OLLAMA_MAX_LOADED_MODELS). Default 1."""
    num_parallel: int = attrs.field(default=1, validator=whole_number(1))
    """How many requests one model serves at once (OLLAMA_NUM_PARALLEL). Default 1."""
    # Ollama 0.32 otherwise picks it from the card's total VRAM (32k tokens on a 24 GiB card), which
    # multiplies the KV cache and so the VRAM a model takes beyond its envelope.
    context_length: int = attrs.field(default=4096, validator=whole_number(1))
    """Number of context tokens a request gets unless it asks for more (OLLAMA_CONTEXT_LENGTH). Default 4096."""
    models_path: str = attrs.field(default="/models", validator=absolute_path)
    """Mount of the models volume; not /root/.ollama (mode 700, out of a non-root reach). Default "/models"."""
    resources: ComputeResources = ComputeResources(
        cpu_request=2, cpu_limit=8, memory_request_gib=8, memory_limit_gib=32
    )
    """CPU (cores), memory (GiB); a 13B-30B model spills to RAM. Default 2-8 cores, 8-32 GiB."""
    health: HealthCheck = HealthCheck(path="/api/version", startup_budget=timedelta(minutes=5))
    """Probes of "/api/version". Default: a 5 minutes startup budget."""
    extra_env: dict[str, str] = attrs.field(factory=dict, validator=env_mapping)
    """More environment variables; not OLLAMA_KEEP_ALIVE or OLLAMA_MAX_LOADED_MODELS. Default: none."""
    models: tuple[str, ...] = attrs.field(default=(), converter=model_tuple, validator=model_names)
    """Models a Job pulls once Ollama answers, e.g. ("llama3.2",). Default: none."""

    def __attrs_post_init__(self) -> None:
        if self.models and (self.model_downloads is None or 443 not in self.model_downloads.ports):
            raise HomelabConfigError(
                "LlmBackendProps.models",
                f"{len(self.models)} model(s) are pulled from the Ollama registry over HTTPS, but model_downloads "
                "does not let Ollama reach the internet on 443, so the pull Job can never finish",
                "set model_downloads=InternetEgress() (HTTPS only, never the LAN), or list no models",
            )
        suffix = len("-pull-models")
        if self.models and len(self.name) + suffix > MAX_NAME_LENGTH:
            raise HomelabConfigError(
                "LlmBackendProps.name",
                f"{self.name!r} is too long to name the model-pull Job '{self.name}-pull-models-<hash>'",
                f"use at most {MAX_NAME_LENGTH - suffix} characters when models are listed",
            )

    @extra_env.validator
    def _no_budget_settings(self, attribute: attrs.Attribute[dict[str, str]], value: dict[str, str]) -> None:
        # The VRAM budget reads keep_alive and max_loaded_models, and the envelope assumes context_length:
        # an env override would make it lie.
        typed = {
            "OLLAMA_KEEP_ALIVE": "keep_alive",
            "OLLAMA_MAX_LOADED_MODELS": "max_loaded_models",
            "OLLAMA_CONTEXT_LENGTH": "context_length",
        }
        for env, prop in typed.items():
            if env in value:
                raise HomelabConfigError(
                    "LlmBackendProps.extra_env",
                    f"sets {env}, which the GPU budget takes from LlmBackendProps.{prop}",
                    f"remove it from extra_env and set {prop} instead",
                )

    purpose: str = "LLM inference backend"
    """One line for the operator docs' services table. Default "LLM inference backend"."""
    security: SecurityProfile = SecurityProfile()
    """Who the server runs as. Default SecurityProfile(): UID/GID 10001, read-only root filesystem."""
    allow_from: tuple[PodSelector, ...] = attrs.field(default=(), converter=as_tuple)
    """More client pods let into the API (Open WebUI wires itself). Default: none."""
    model_downloads: InternetEgress | None = None
    """Outbound internet for ollama pull. Default None: no internet."""


class LlmBackend(Construct):
    """Ollama; frontends read :attr:`url`. Never exposed outside the cluster: no LoadBalancer option."""

    def __init__(self, scope: Construct, id: str, props: LlmBackendProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.models_volume = LonghornVolume(self, "Models", props.models_volume)
        env = {
            "OLLAMA_HOST": f"0.0.0.0:{props.port}",
            "OLLAMA_MODELS": f"{props.models_path}/models",
            "OLLAMA_KEEP_ALIVE": go_duration(props.keep_alive),
            "OLLAMA_MAX_LOADED_MODELS": str(props.max_loaded_models),
            "OLLAMA_NUM_PARALLEL": str(props.num_parallel),
            "OLLAMA_CONTEXT_LENGTH": str(props.context_length),
            # The server writes its key pair under $HOME/.ollama; the image's HOME (/root) is not writable.
            "HOME": TMP.path,
            **props.extra_env,
        }
        self.gpu_app = GpuTimeSlicedApp(
            self,
            "Ollama",
            GpuTimeSlicedAppProps(
                app=AppWorkloadProps(
                    name=props.name,
                    kind=WorkloadKind.STATEFUL_SET,
                    image=props.image,
                    container_port=props.port,
                    resources=props.resources,
                    health=props.health,
                    env=env,
                    mounts=(VolumeMount(volume=self.models_volume, path=props.models_path),),
                    security=props.security,
                    allow_from=props.allow_from,
                    internet=props.model_downloads,
                    purpose=props.purpose,
                ),
                gpu=props.gpu,
                vram=props.vram,
                idle_unload=IdleUnload(
                    mechanism="OLLAMA_KEEP_ALIVE (Ollama unloads the model)", timeout=props.keep_alive
                ),
            ),
        )

        self.model_pull: OllamaModelPull | None = None
        if props.models:
            self.model_pull = OllamaModelPull(
                self,
                "ModelPull",
                OllamaModelPullProps(models=props.models, server_url=self.url, name=f"{props.name}-pull-models"),
            )
            # The namespace denies by default: the Job may reach Ollama (and DNS), nothing else; the
            # download itself runs inside Ollama, so the Job needs no internet.
            pull_policy = AppNetworkPolicy(
                self,
                "ModelPullNetwork",
                AppNetworkPolicyProps(
                    name=self.model_pull.props.name, pods=PodSelector(labels=self.model_pull.pod_labels)
                ),
            )
            self.allow_client(pull_policy)

    @property
    def url(self) -> str:
        """``http://ollama.<ns>.svc.cluster.local:11434``: what Open WebUI's OLLAMA_BASE_URL takes."""
        return self.gpu_app.url

    @property
    def models(self) -> tuple[str, ...]:
        """The declared models, in the order given (what the docs list)."""
        return self.props.models

    @property
    def name(self) -> str:
        """Name of Ollama's StatefulSet and Service."""
        return self.props.name

    @property
    def app(self) -> AppWorkload:
        """Ollama's AppWorkload (pod, Service, NetworkPolicy)."""
        return self.gpu_app.app

    @property
    def network_policy(self) -> AppNetworkPolicy | None:
        """Ollama's NetworkPolicy; ``allow_client`` adds clients to it."""
        return self.app.network_policy

    def allow_client(self, client: AppWorkload | AppNetworkPolicy | PodSelector) -> None:
        """Let ``client`` reach Ollama's API (a client given as its policy also gets the egress rule)."""
        self.app.allow_client(client)
