"""CheckpointFetch: an init container that puts declared Stable Diffusion files into models/, verified.

It runs before the web UI in the same pod, so the UI finds every declared checkpoint, LoRA and
VAE when it scans its folders at start: no manual download, no "refresh" click.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plus import container_resources, kplus
from homelab_ai.base.pod_scripts import script_text
from homelab_ai.base.validators import (
    absolute_path,
    as_tuple,
    dns1123_label,
    field_name,
    http_url,
    plain_file_name,
    sha256_hex,
    typed_fields,
)
from homelab_ai.base.values import SCRIPT_IMAGE, ComputeResources, ContainerImage
from homelab_ai.cluster.hardening import SecurityProfile, harden_container
from homelab_ai.cluster.longhorn.volume import LonghornVolume

SCRIPT = "sd_fetch_models.py"
SCRIPT_DIR = "/opt/homelab-ai"
CHECKPOINTS_ENV = "SD_CHECKPOINTS"


class CheckpointKind(enum.Enum):
    """What a file is; each kind has its folder under the web UI's models/."""

    CHECKPOINT = "checkpoint"
    LORA = "lora"
    VAE = "vae"

    @property
    def folder(self) -> str:
        """The kind's folder under the web UI's models/, e.g. Stable-diffusion or Lora."""
        return {"checkpoint": "Stable-diffusion", "lora": "Lora", "vae": "VAE"}[self.value]


def _kind(value: Any) -> Any:
    """Accept 'lora' as well as CheckpointKind.LORA; anything else is left for the validator to refuse."""
    if isinstance(value, str):
        try:
            return CheckpointKind(value.lower())
        except ValueError:
            return value
    return value


def _kind_is_known(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, CheckpointKind):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a checkpoint kind",
            "use CheckpointKind.CHECKPOINT, .LORA or .VAE (or 'checkpoint', 'lora', 'vae')",
        )


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class Checkpoint:
    """A file to download from ``url`` into ``models/<kind's folder>/<file_name>``, accepted only with ``sha256``.

    The checksum is what makes a re-run safe and a corrupt download visible: take it from the
    model page (Hugging Face shows it per file) or from ``sha256sum`` of a copy you trust.
    """

    url: str = attrs.field(validator=http_url)
    """Where the file is downloaded from (http or https). Required."""
    file_name: str = attrs.field(validator=plain_file_name)
    """Its name in the kind's folder, no slashes, e.g. sd_xl_base_1.0.safetensors. Required."""
    sha256: str = attrs.field(converter=_lower, validator=sha256_hex)
    """SHA-256 of the file, 64 hex characters; a mismatching download is refused. Required."""
    kind: CheckpointKind = attrs.field(default=CheckpointKind.CHECKPOINT, converter=_kind, validator=_kind_is_known)
    """Checkpoint, LoRA or VAE: the folder under models/. Default CheckpointKind.CHECKPOINT."""

    @property
    def relative_path(self) -> str:
        """Where it lands under models/, e.g. ``Stable-diffusion/sd_xl_base_1.0.safetensors``."""
        return f"{self.kind.folder}/{self.file_name}"


def checkpoint_tuple(value: Any) -> Any:
    """Lists become tuples; a lone Checkpoint is left alone so the validator can refuse it by name."""
    return value if isinstance(value, Checkpoint | str) else as_tuple(value)


def checkpoint_list(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Checkpoints, each landing at its own path under models/."""
    if not isinstance(value, tuple) or not all(isinstance(c, Checkpoint) for c in value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a list of Checkpoint",
            "give a list, e.g. checkpoints=[Checkpoint(url=..., file_name=..., sha256=...)]",
        )
    seen: set[str] = set()
    for checkpoint in value:
        if checkpoint.relative_path in seen:
            raise HomelabConfigError(
                field_name(instance, attribute),
                f"models/{checkpoint.relative_path} is declared twice",
                "declare each file once (or give one of them another file_name)",
            )
        seen.add(checkpoint.relative_path)


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: tuple[Checkpoint, ...]) -> None:
    if not value:
        raise HomelabConfigError(
            field_name(instance, attribute), "no checkpoint listed", "list at least one, or add no CheckpointFetch"
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class CheckpointFetchProps:
    """The pod to add the init container to, the volume and path of its models/ folder, and the files.

    ``models_path`` must be where the web UI container mounts the same ``sub_path`` of ``volume``.
    """

    workload: kplus.Deployment | kplus.StatefulSet
    """The web UI's Deployment or StatefulSet that gets the init container. Required."""
    volume: LonghornVolume
    """The volume that holds models/. Required."""
    models_path: str = attrs.field(validator=absolute_path)
    """Where the init container mounts models/, the web UI's own mount path. Required."""
    sub_path: str | None = "models"
    """Folder of the volume that is models/. Default "models"."""
    checkpoints: tuple[Checkpoint, ...] = attrs.field(
        converter=checkpoint_tuple, validator=[checkpoint_list, _non_empty]
    )
    """Files to download and verify, at least one. Required."""
    name: str = attrs.field(default="stable-diffusion-fetch-models", validator=dns1123_label)
    """Name of the script's ConfigMap. Default "stable-diffusion-fetch-models"."""
    image: ContainerImage = SCRIPT_IMAGE
    """Python image that runs the fetch script. Default SCRIPT_IMAGE."""
    security: SecurityProfile | None = None
    """Who the init container runs as (StableDiffusion: its user, read-only root). Default None: the pod's."""
    resources: ComputeResources = ComputeResources(
        cpu_request=0.1, cpu_limit=1, memory_request_gib=0.125, memory_limit_gib=0.5
    )
    """CPU (cores), memory (GiB); hashing is CPU-bound, 1 MiB chunks. Default 0.1-1 cores, 0.125-0.5 GiB."""


class CheckpointFetch(Construct):
    """A ConfigMap with the download script and the init container ``fetch-models`` that runs it.

    The list of files is in the init container's environment, so declaring a new file changes the
    pod template: the pod is recreated and the new file fetched before the web UI starts again.
    Runs as the web UI's user, so the files it fetches are the web UI's.
    """

    def __init__(self, scope: Construct, id: str, props: CheckpointFetchProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.config_map = kplus.ConfigMap(
            self,
            "Script",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels={"app.kubernetes.io/managed-by": "homelab-ai"}),
            data={SCRIPT: script_text(__package__, SCRIPT)},
        )
        script_volume = kplus.Volume.from_config_map(
            self, "ScriptVolume", self.config_map, name="fetch-models-script", default_mode=0o444
        )
        manifest = [
            {"url": c.url, "folder": c.kind.folder, "file_name": c.file_name, "sha256": c.sha256}
            for c in props.checkpoints
        ]
        res = props.resources
        self.container = props.workload.add_init_container(
            name="fetch-models",
            image=props.image.reference,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["python", f"{SCRIPT_DIR}/{SCRIPT}"],
            args=["--models-dir", props.models_path],
            env_variables={
                CHECKPOINTS_ENV: kplus.EnvValue.from_value(json.dumps(manifest, indent=2)),
                "PYTHONDONTWRITEBYTECODE": kplus.EnvValue.from_value("1"),
            },
            resources=container_resources(res),
        )
        # The pod's hardening (no capabilities, seccomp, no escalation) with the web UI's user, so
        # the files it writes belong to the web UI; its own root filesystem stays read-only.
        harden_container(props.workload, self.container, props.security)
        self.container.mount(SCRIPT_DIR, script_volume, read_only=True)
        props.volume.mount(self.container, props.models_path, sub_path=props.sub_path)

    @property
    def checkpoints(self) -> tuple[Checkpoint, ...]:
        """The files the init container fetches."""
        return self.props.checkpoints
