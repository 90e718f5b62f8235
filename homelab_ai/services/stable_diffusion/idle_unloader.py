"""SdIdleUnloader: the sidecar that unloads an idle AUTOMATIC1111 checkpoint from the shared GPU.

The script (homelab_ai/services/stable_diffusion/sd_idle_unloader.py, standard library only) reaches the pod in a
ConfigMap generated from the file, so dist/ is self-contained: no image of our own to build or
pull. The pod carries the script's checksum, so a new script rolls the pod.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.plus import container_resources, kplus
from homelab_ai.base.pod_scripts import script_path
from homelab_ai.base.validators import dns1123_label, dns1123_subdomain, port, positive_duration, typed_fields
from homelab_ai.base.values import SCRIPT_IMAGE, ComputeResources, ContainerImage
from homelab_ai.cluster.app_workload import AppWorkload
from homelab_ai.cluster.hardening import SecurityProfile, harden_container
from homelab_ai.secrets.sops_secret import SecretKeyRef

SCRIPT = script_path(__package__, "sd_idle_unloader.py")
SCRIPT_DIR = "/opt/sd-idle-unloader"
# The pod carries the script's sha256 here, so a new script rolls the pod.
CHECKSUM_ANNOTATION = "homelab-ai/idle-unloader-checksum"


def _seconds(value: timedelta) -> str:
    return f"{value.total_seconds():g}"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class SdIdleUnloaderProps:
    """Which pod to join, where its web UI listens, when to unload, and how to authenticate.

    The sidecar talks to the web UI over the pod's loopback, so no Service or NetworkPolicy is in
    the way; ``password`` is read from the same Secret the web UI's ``--api-auth`` uses. With
    ``gate_port`` it also serves the web UI's API there and reloads the checkpoint before a
    generation when it had unloaded it (AUTOMATIC1111 does not: sd_idle_unloader.py says why).
    """

    workload: AppWorkload
    """The web UI's AppWorkload; its pod gets the sidecar. Required."""
    name: str = attrs.field(validator=dns1123_subdomain)
    """Name of the script's ConfigMap. Required."""
    web_ui_port: int = attrs.field(validator=port)
    """The web UI's port, reached over the pod's loopback. Required."""
    idle_timeout: timedelta = attrs.field(validator=positive_duration)
    """Unload the checkpoint after this long without a job, e.g. 10 minutes. Required."""
    poll_interval: timedelta = attrs.field(default=timedelta(seconds=15), validator=positive_duration)
    """How often the sidecar asks the web UI whether it is busy. Default 15 seconds."""
    max_backoff: timedelta = attrs.field(default=timedelta(minutes=2), validator=positive_duration)
    """Longest wait between retries while the web UI is down. Default 2 minutes."""
    username: str | None = None
    """The API user of --api-auth, given with password. Default None: no authentication."""
    password: SecretKeyRef | None = None
    """SecretKeyRef of the API password, given with username. Default None."""
    image: ContainerImage = SCRIPT_IMAGE
    """Python image that runs the script. Default SCRIPT_IMAGE."""
    container_name: str = attrs.field(default="idle-unloader", validator=dns1123_label)
    """Name of the sidecar container. Default "idle-unloader"."""
    health_port: int = attrs.field(default=8099, validator=port)
    """Port of the sidecar's /healthz, not the web UI's. Default 8099."""
    gate_port: int | None = attrs.field(default=None, validator=attrs.validators.optional(port))
    """Port of the API gate that reloads an unloaded checkpoint before a generation. Default None (no gate)."""
    resources: ComputeResources = ComputeResources(
        cpu_request=0.01, cpu_limit=0.1, memory_request_gib=32 / 1024, memory_limit_gib=64 / 1024
    )
    """CPU (cores), memory (GiB); a stdlib poll every few seconds. Default 0.01-0.1 cores, 32-64 MiB."""

    def __attrs_post_init__(self) -> None:
        from homelab_ai.base.errors import HomelabConfigError

        if (self.username is None) != (self.password is None):
            raise HomelabConfigError(
                "SdIdleUnloaderProps.password",
                "username and password must be given together",
                "pass both (the web UI's --api-auth user and its SecretKeyRef) or neither",
            )
        if self.health_port == self.web_ui_port:
            raise HomelabConfigError(
                "SdIdleUnloaderProps.health_port",
                f"{self.health_port} is the web UI's port too",
                "pick another port for the sidecar's /healthz",
            )
        if self.gate_port is not None and self.gate_port in (self.web_ui_port, self.health_port):
            raise HomelabConfigError(
                "SdIdleUnloaderProps.gate_port",
                f"{self.gate_port} is already the web UI's or the sidecar's health port",
                "pick a port of its own for the API gate (default 7861)",
            )


class SdIdleUnloader(Construct):
    """A ConfigMap with the script, plus a second container in the web UI's pod that runs it."""

    def __init__(self, scope: Construct, id: str, props: SdIdleUnloaderProps) -> None:
        super().__init__(scope, id)
        self.props = props
        script = SCRIPT.read_text()
        self.config_map = kplus.ConfigMap(
            self,
            "Script",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels={"app.kubernetes.io/managed-by": "homelab-ai"}),
            data={SCRIPT.name: script},
        )
        volume = kplus.Volume.from_config_map(self, "ScriptVolume", self.config_map, name=props.container_name)
        workload = props.workload.workload
        env = {
            "SD_URL": kplus.EnvValue.from_value(f"http://127.0.0.1:{props.web_ui_port}"),
            "SD_IDLE_TIMEOUT_SECONDS": kplus.EnvValue.from_value(_seconds(props.idle_timeout)),
            "SD_POLL_INTERVAL_SECONDS": kplus.EnvValue.from_value(_seconds(props.poll_interval)),
            "SD_MAX_BACKOFF_SECONDS": kplus.EnvValue.from_value(_seconds(props.max_backoff)),
            "SD_HEALTH_PORT": kplus.EnvValue.from_value(str(props.health_port)),
            "PYTHONDONTWRITEBYTECODE": kplus.EnvValue.from_value("1"),
        }
        ports = [kplus.ContainerPort(number=props.health_port, name="unloader-health")]
        if props.gate_port is not None:
            env["SD_GATE_PORT"] = kplus.EnvValue.from_value(str(props.gate_port))
            ports.append(kplus.ContainerPort(number=props.gate_port, name="api-gate"))
        if props.username is not None and props.password is not None:
            secret = kplus.Secret.from_secret_name(self, "ApiSecret", props.password.secret_name)
            env["SD_API_USER"] = kplus.EnvValue.from_value(props.username)
            env["SD_API_PASSWORD"] = kplus.EnvValue.from_secret_value(
                kplus.SecretValue(secret=secret, key=props.password.key)
            )
            props.workload.track_secret(props.password)
        self.container = workload.add_container(
            name=props.container_name,
            image=props.image.reference,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["python", f"{SCRIPT_DIR}/{SCRIPT.name}"],
            env_variables=env,
            ports=ports,
            resources=container_resources(props.resources),
            startup=self._probe(period=2, failures=15),
            readiness=self._probe(period=10, failures=3),
            liveness=self._probe(period=30, failures=3),
        )
        self.container.mount(SCRIPT_DIR, volume, read_only=True)
        # Same hardening as the web UI's pod (no capabilities, seccomp, no escalation), but its own
        # non-root user and a read-only root: the script writes nothing but logs.
        harden_container(workload, self.container, SecurityProfile())
        workload.pod_metadata.add_annotation(CHECKSUM_ANNOTATION, hashlib.sha256(script.encode()).hexdigest())

    def _probe(self, *, period: int, failures: int) -> kplus.Probe:
        return kplus.Probe.from_http_get(
            "/healthz",
            port=self.props.health_port,
            period_seconds=cdk8s.Duration.seconds(period),
            timeout_seconds=cdk8s.Duration.seconds(3),
            failure_threshold=failures,
        )
