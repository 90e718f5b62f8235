"""VramArbiter: the in-cluster proxy that admits GPU work only when it fits the shared card.

The program (vram_arbiter.py beside this module, standard library only) ships in a ConfigMap with
its config, generated here from the SharedGpu and the apps' own VramEnvelopes, ports, keep_alive
and API credentials: nothing about the card is written twice. Clients (Open WebUI) reach Ollama
and AUTOMATIC1111 through it; it needs no GPU and runs hardened like every other pod.

If the arbiter is down, Open WebUI cannot chat or draw (its URLs point here) until Kubernetes
restarts it; Ollama and the web UI themselves keep working for clients that reach them directly.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import PodSelector
from homelab_ai.base.plus import container_resources, kplus
from homelab_ai.base.pod_scripts import script_text
from homelab_ai.base.validators import dns1123_label, duration_between, port, typed_fields
from homelab_ai.base.values import SCRIPT_IMAGE, ComputeResources, ContainerImage
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy, AppNetworkPolicyProps
from homelab_ai.cluster.app_workload import NAME_LABEL, AppWorkload, secret_checksum_key, service_url
from homelab_ai.cluster.hardening import SecurityProfile, harden_pod
from homelab_ai.gpu.shared_gpu import SharedGpu
from homelab_ai.gpu.vram import VramEnvelope
from homelab_ai.services.ollama.llm_backend import LlmBackend
from homelab_ai.services.stable_diffusion.stable_diffusion import StableDiffusion
from homelab_ai.services.vram_arbiter.monitoring import VramArbiterMonitoring, VramArbiterMonitoringProps

SCRIPT = "vram_arbiter.py"
CONFIG = "config.json"
SCRIPT_DIR = "/opt/vram-arbiter"
CHECKSUM_ANNOTATION = "homelab-ai/vram-arbiter-checksum"
SD_USER_ENV, SD_PASSWORD_ENV = "SD_API_USER", "SD_API_PASSWORD"
OLLAMA_APP, SD_APP = "ollama", "stable-diffusion"


# Waits may be 0 (refuse at once); the timers must tick.
_WAIT = duration_between(timedelta(0), timedelta(hours=1))
_TIMER = duration_between(timedelta(seconds=1), timedelta(days=1))


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class VramArbiterProps:
    """The card, the apps it arbitrates, and how long a request may wait for the card."""

    gpu: SharedGpu
    """The shared card; its VRAM (SharedGpuProps.vram_gib, GiB) is the budget. Required."""
    ollama: LlmBackend
    """Ollama on that card; envelope, port, keep_alive and max_loaded_models are read from it. Required."""
    stable_diffusion: StableDiffusion | None = None
    """AUTOMATIC1111 on that card (envelope, port, API credentials read from it); default None: Ollama only."""
    name: str = attrs.field(default="vram-arbiter", validator=dns1123_label)
    """Name of the Deployment, Service, ConfigMap and NetworkPolicy; default "vram-arbiter"."""
    chat_max_wait: timedelta = attrs.field(default=timedelta(minutes=2), validator=_WAIT)
    """Longest wait of a chat for the card before a 503 naming the holder; default 2 minutes (0 to 1 hour)."""
    image_max_wait: timedelta = attrs.field(default=timedelta(minutes=5), validator=_WAIT)
    """Longest wait of an image job for the card before a 503 naming the holder; default 5 minutes (0 to 1 hour)."""
    poll_interval: timedelta = attrs.field(default=timedelta(seconds=2), validator=_TIMER)
    """How often the apps' APIs are read (Ollama /api/ps, A1111 progress and memory); default 2 seconds."""
    unload_timeout: timedelta = attrs.field(default=timedelta(seconds=60), validator=_TIMER)
    """Longest wait for an unloaded app's VRAM to show as freed before trying again; default 60 seconds."""
    status_port: int = attrs.field(default=9400, validator=port)
    """TCP port of /healthz, /status and /metrics; default 9400."""
    image: ContainerImage = SCRIPT_IMAGE
    """The pinned Python image that runs the script; default SCRIPT_IMAGE (python, alpine)."""
    resources: ComputeResources = ComputeResources(
        cpu_request=0.05, cpu_limit=0.5, memory_request_gib=0.0625, memory_limit_gib=0.25
    )
    """CPU (cores) and memory (GiB) of the proxy; default 0.05-0.5 cores, 64-256 MiB."""
    monitoring: VramArbiterMonitoringProps | None = None
    """Prometheus ServiceMonitor, PrometheusRule and Grafana dashboard; default None (no monitoring objects)."""

    def __attrs_post_init__(self) -> None:
        for field, app in (("ollama", self.ollama), ("stable_diffusion", self.stable_diffusion)):
            if app is not None and app.props.gpu is not self.gpu:
                raise HomelabConfigError(
                    f"VramArbiterProps.{field}",
                    f"{app.gpu_app.name} runs on the card {app.props.gpu.props.card!r}, not on {self.gpu.props.card!r}",
                    "give the arbiter the SharedGpu its apps share (one arbiter per card)",
                )
        ports = [self.ollama.props.port] + ([self.stable_diffusion.props.port] if self.stable_diffusion else [])
        if self.status_port in ports:
            raise HomelabConfigError(
                "VramArbiterProps.status_port",
                f"{self.status_port} is also the port the arbiter serves an app's API on",
                "pick another port for /healthz, /status and /metrics",
            )
        if len(set(ports)) != len(ports):
            raise HomelabConfigError(
                "VramArbiterProps.stable_diffusion",
                f"Ollama and Stable Diffusion both listen on {ports[0]}: the arbiter serves each on its app's port",
                "give StableDiffusionProps.port or LlmBackendProps.port another number",
            )


def _envelope(vram: VramEnvelope) -> dict[str, float]:
    return {"idle_gib": vram.idle_gib, "active_min_gib": vram.active_min_gib, "active_max_gib": vram.active_max_gib}


class VramArbiter(Construct):
    """The arbiter's ConfigMap (script + config), Deployment, Service and NetworkPolicies.

    Clients use :attr:`ollama_url` and :attr:`stable_diffusion_url` and are let in with
    :meth:`allow_client`; the card's budget names the apps it serializes.
    """

    def __init__(self, scope: Construct, id: str, props: VramArbiterProps) -> None:
        super().__init__(scope, id)
        self.props = props
        labels = {NAME_LABEL: props.name, "app.kubernetes.io/managed-by": "homelab-ai"}
        script = script_text(__package__, SCRIPT)
        config = json.dumps(self.config(), indent=2, sort_keys=True) + "\n"
        self.config_map = kplus.ConfigMap(
            self,
            "Files",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=labels),
            data={SCRIPT: script, CONFIG: config},
        )
        # Recreate: two arbiters side by side during a rolling update would each admit work blind
        # to the other's admissions.
        self.deployment = kplus.Deployment(
            self,
            "Deployment",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=labels),
            select=False,
            replicas=1,
            strategy=kplus.DeploymentStrategy.recreate(),
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels,
                annotations={CHECKSUM_ANNOTATION: hashlib.sha256((script + config).encode()).hexdigest()},
            ),
            automount_service_account_token=False,
        )
        self.deployment.select(kplus.LabelSelector.of(labels={NAME_LABEL: props.name}))
        cdk8s.ApiObject.of(self.deployment).add_json_patch(
            cdk8s.JsonPatch.remove("/spec/template/metadata/labels/cdk8s.io~1metadata.addr")
        )
        env = {
            "PYTHONDONTWRITEBYTECODE": kplus.EnvValue.from_value("1"),
            "VRAM_ARBITER_CONFIG": kplus.EnvValue.from_value(f"{SCRIPT_DIR}/{CONFIG}"),
        }
        sd = props.stable_diffusion
        if sd is not None:
            user, password = sd.api_auth()
            secret = kplus.Secret.from_secret_name(self, "SdSecret", password.secret_name)
            env[SD_USER_ENV] = kplus.EnvValue.from_value(user)
            env[SD_PASSWORD_ENV] = kplus.EnvValue.from_secret_value(kplus.SecretValue(secret=secret, key=password.key))
            if password.checksum is not None:
                # A rotated password restarts the arbiter too: env from a Secret is read only at start.
                self.deployment.pod_metadata.add_annotation(
                    secret_checksum_key(password.secret_name), password.checksum
                )
        self.container = self.deployment.add_container(
            name="arbiter",
            image=props.image.reference,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["python", "-I", f"{SCRIPT_DIR}/{SCRIPT}"],
            env_variables=env,
            ports=[kplus.ContainerPort(number=number, name=name) for name, number in self.ports.items()],
            resources=container_resources(props.resources),
            startup=self._probe(period=2, failures=30),
            readiness=self._probe(period=10, failures=3),
            liveness=self._probe(period=20, failures=3),
        )
        volume = kplus.Volume.from_config_map(self, "FilesVolume", self.config_map, name="files")
        self.container.mount(SCRIPT_DIR, volume, read_only=True)
        # No GPU, no volume to write: the defaults (UID 10001, read-only root, /tmp emptyDir) fit.
        self.hardening = harden_pod(self.deployment, SecurityProfile())
        self.service = kplus.Service(
            self,
            "Service",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=labels),
            type=kplus.ServiceType.CLUSTER_IP,
            ports=[
                kplus.ServicePort(name=name, port=number, target_port=number) for name, number in self.ports.items()
            ],
        )
        self.service.select_label(NAME_LABEL, props.name)
        self.selector = PodSelector(labels={NAME_LABEL: props.name})
        # The proxy doors: its clients in (allow_client), and out to the apps' APIs only.
        proxy_ports = tuple(number for name, number in self.ports.items() if name != "metrics")
        self.network_policy = AppNetworkPolicy(
            self, "NetworkPolicy", AppNetworkPolicyProps(name=props.name, pods=self.selector, ports=proxy_ports)
        )
        props.ollama.allow_client(self.network_policy)
        if sd is not None:
            sd.allow_client(self.network_policy)
        props.gpu.arbitrate(props.name, self.arbitrated)
        self.monitoring: VramArbiterMonitoring | None = None
        if props.monitoring is not None:
            self.monitoring = VramArbiterMonitoring(self, "Monitoring", props.monitoring, arbiter=self)

    def _probe(self, *, period: int, failures: int) -> kplus.Probe:
        return kplus.Probe.from_http_get(
            "/healthz",
            port=self.props.status_port,
            period_seconds=cdk8s.Duration.seconds(period),
            timeout_seconds=cdk8s.Duration.seconds(3),
            failure_threshold=failures,
        )

    @property
    def name(self) -> str:
        return self.props.name

    @property
    def ports(self) -> dict[str, int]:
        """Named ports: the apps' APIs on their own numbers, then /metrics."""
        ports = {OLLAMA_APP: self.props.ollama.props.port}
        if self.props.stable_diffusion is not None:
            ports[SD_APP] = self.props.stable_diffusion.props.port
        ports["metrics"] = self.props.status_port
        return ports

    @property
    def arbitrated(self) -> tuple[str, ...]:
        """Names of the GPU apps (as on the SharedGpu) whose work the arbiter admits."""
        apps = [self.props.ollama.gpu_app.name]
        if self.props.stable_diffusion is not None:
            apps.append(self.props.stable_diffusion.gpu_app.name)
        return tuple(apps)

    def config(self) -> dict[str, Any]:
        """The program's config file: the card and each app, from the same objects the budget reads."""
        props = self.props
        ollama = props.ollama
        apps: list[dict[str, Any]] = [
            {
                "name": OLLAMA_APP,
                "kind": "ollama",
                "upstream": ollama.url,
                "listen_port": ollama.props.port,
                "envelope": _envelope(ollama.props.vram),
                "max_wait_seconds": props.chat_max_wait.total_seconds(),
                "keep_alive_cap_seconds": ollama.props.keep_alive.total_seconds(),
                "max_loaded_models": ollama.props.max_loaded_models,
            }
        ]
        sd = props.stable_diffusion
        if sd is not None:
            apps.append(
                {
                    "name": SD_APP,
                    "kind": "automatic1111",
                    "upstream": sd.url,
                    "listen_port": sd.props.port,
                    "envelope": _envelope(sd.props.vram),
                    "max_wait_seconds": props.image_max_wait.total_seconds(),
                    "auth": {"user_env": SD_USER_ENV, "password_env": SD_PASSWORD_ENV},
                }
            )
        return {
            "card": {"name": props.gpu.props.card, "vram_gib": props.gpu.props.vram_gib},
            "status_port": props.status_port,
            "poll_interval_seconds": props.poll_interval.total_seconds(),
            "unload_timeout_seconds": props.unload_timeout.total_seconds(),
            "apps": apps,
        }

    def _url(self, port_number: int) -> str:
        return service_url(self, self.props.name, port_number)

    @property
    def ollama_url(self) -> str:
        """Ollama's API through the arbiter: what clients use instead of :attr:`LlmBackend.url`."""
        return self._url(self.props.ollama.props.port)

    @property
    def stable_diffusion_url(self) -> str | None:
        """AUTOMATIC1111's API through the arbiter (clients still send its Basic auth); None without SD."""
        sd = self.props.stable_diffusion
        return None if sd is None else self._url(sd.props.port)

    @property
    def status_url(self) -> str:
        return self._url(self.props.status_port)

    def allow_client(self, client: AppWorkload | AppNetworkPolicy | PodSelector) -> None:
        """Let ``client`` reach the proxied APIs (a client given with its policy also gets the egress rule)."""
        if isinstance(client, AppWorkload):
            client = client.network_policy or client.selector
        self.network_policy.allow_from(client)
