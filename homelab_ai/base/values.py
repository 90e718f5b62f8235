"""Small typed values shared by the constructs: images, compute sizes, health checks, durations."""

from __future__ import annotations

import enum
import re
from datetime import timedelta

import attrs

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import (
    absolute_path,
    field_name,
    matches,
    positive,
    positive_duration,
    typed_fields,
    whole_number,
)

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def go_duration(value: timedelta) -> str:
    """Render a timedelta the way Go (and so Ollama) parses durations: '1h30m', '5m', '45s'."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def _image_tag(instance: ContainerImage, attribute: attrs.Attribute[str], value: str) -> None:
    if not _TAG.match(value) or value == "latest":
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a pinned image tag",
            "pin a release tag such as '0.6.8' (never 'latest'), optionally with a digest",
        )


def _image_digest(instance: ContainerImage, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and not _DIGEST.match(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not an image digest",
            "use the form 'sha256:<64 hex characters>' or leave it unset",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class ContainerImage:
    """A container image pinned to a tag (and optionally a digest): rebuilds get the same bits."""

    repository: str = attrs.field(
        validator=matches(r"[a-z0-9][a-z0-9._/:-]*", "give an image repository such as 'ollama/ollama'")
    )
    """Image repository, e.g. "ollama/ollama" or "ghcr.io/open-webui/open-webui". Required."""
    tag: str = attrs.field(validator=_image_tag)
    """Release tag the image is pinned to, e.g. "0.6.8"; never "latest". Required."""
    digest: str | None = attrs.field(default=None, validator=_image_digest)
    """Optional "sha256:<64 hex>" that pins the exact bits behind the tag. Default None: the tag alone."""

    @property
    def reference(self) -> str:
        """repository:tag, with @digest when pinned: what the pod spec's image takes."""
        ref = f"{self.repository}:{self.tag}"
        return f"{ref}@{self.digest}" if self.digest else ref


def _limit_not_below_request(instance: ComputeResources) -> None:
    if instance.cpu_limit < instance.cpu_request:
        raise HomelabConfigError(
            "ComputeResources.cpu_limit",
            f"limit {instance.cpu_limit} is below request {instance.cpu_request}",
            "raise cpu_limit or lower cpu_request",
        )
    if instance.memory_limit_gib < instance.memory_request_gib:
        raise HomelabConfigError(
            "ComputeResources.memory_limit_gib",
            f"limit {instance.memory_limit_gib} GiB is below request {instance.memory_request_gib} GiB",
            "raise memory_limit_gib or lower memory_request_gib",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class ComputeResources:
    """CPU (cores) and memory (GiB) requests and limits for one container.

    No defaults on purpose: cdk8s-plus's 1.5 CPU / 2 GiB suits no AI workload, so every app
    states what its work needs.
    """

    cpu_request: float = attrs.field(validator=positive)
    """CPU the scheduler reserves for the container, in cores (0.5 is 500m). Required."""
    cpu_limit: float = attrs.field(validator=positive)
    """CPU the container may use at most, in cores; not below cpu_request. Required."""
    memory_request_gib: float = attrs.field(validator=positive)
    """Memory the scheduler reserves for the container, GiB (0.0625 is 64 MiB). Required."""
    memory_limit_gib: float = attrs.field(validator=positive)
    """Memory above which the container is OOM-killed, GiB; not below the request. Required."""

    def __attrs_post_init__(self) -> None:
        _limit_not_below_request(self)

    def quantities(self) -> dict[str, dict[str, str]]:
        """``{"requests": {...}, "limits": {...}}`` in millicores and MiB, as a container's ``resources``."""

        def pair(cpu: float, memory_gib: float) -> dict[str, str]:
            return {"cpu": f"{round(cpu * 1000)}m", "memory": f"{round(memory_gib * 1024)}Mi"}

        return {
            "requests": pair(self.cpu_request, self.memory_request_gib),
            "limits": pair(self.cpu_limit, self.memory_limit_gib),
        }


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class HealthCheck:
    """HTTP health endpoint and how long the app may take to come up (model loading is slow)."""

    path: str = attrs.field(validator=absolute_path)
    """HTTP path of the app's health endpoint, e.g. "/health". Required."""
    startup_budget: timedelta = attrs.field(default=timedelta(minutes=10), validator=positive_duration)
    """How long the app may take to come up before it is restarted (models load slowly). Default 10 minutes."""
    period: timedelta = attrs.field(default=timedelta(seconds=10), validator=positive_duration)
    """Time between two probes. Default 10 seconds."""
    timeout: timedelta = attrs.field(default=timedelta(seconds=5), validator=positive_duration)
    """How long one probe may take before it counts as failed. Default 5 seconds."""
    liveness_failures: int = attrs.field(default=6, validator=whole_number(1))
    """How many failed liveness probes in a row restart the container. Default 6."""
    ready_path: str | None = attrs.field(default=None, validator=attrs.validators.optional(absolute_path))
    """Path of the startup and readiness probes, for a deeper check (Open WebUI's /ready). Default None: path."""

    @property
    def startup_failure_threshold(self) -> int:
        """Probe attempts that fit in the startup budget."""
        return max(1, -(-int(self.startup_budget.total_seconds()) // int(self.period.total_seconds())))


class WorkloadKind(enum.Enum):
    """Deployment for stateless-ish apps, StatefulSet when the pod name must be stable (ollama-0)."""

    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"


class AccessMode(enum.Enum):
    """PVC access modes that Longhorn serves."""

    READ_WRITE_ONCE = "ReadWriteOnce"
    READ_WRITE_ONCE_POD = "ReadWriteOncePod"
    READ_WRITE_MANY = "ReadWriteMany"
    READ_ONLY_MANY = "ReadOnlyMany"


# Runs homelab-ai's in-cluster programs (stdlib only, beside their constructs in homelab_ai/services/):
# no image to build. The newest 3.13 patch on Alpine 3.24 (docker-library/official-images
# library/python@37079fb L123); its contract is homelab_ai/services/in_pod_contract.py.
SCRIPT_IMAGE = ContainerImage(repository="python", tag="3.13.15-alpine3.24")
