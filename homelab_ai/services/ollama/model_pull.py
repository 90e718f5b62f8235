"""OllamaModelPull: a Job that pulls the declared models through Ollama's HTTP API.

A rebuilt cluster gets its models back without ``kubectl exec``. A Job, not a postStart hook: a
long pull inside the Ollama pod would hold its startup and make it look unhealthy.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import attrs
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plus import k8s
from homelab_ai.base.pod_scripts import script_text
from homelab_ai.base.validators import (
    as_tuple,
    field_name,
    http_url,
    ollama_model_name,
    positive_duration,
    short_label,
    typed_fields,
    whole_number,
)
from homelab_ai.base.values import SCRIPT_IMAGE, ComputeResources, ContainerImage
from homelab_ai.cluster.script_pod import script_pod
from homelab_ai.services.ollama.ollama_pull import normalize

SCRIPT = "ollama_pull.py"
MODELS_ANNOTATION = "homelab-ai/models"
# Job names carry "-<8 hex>"; the Job controller puts the name in a label (63 characters at most).
MAX_NAME_LENGTH = 63 - 9


def model_tuple(value: Any) -> Any:
    """Lists become tuples; a lone string is left alone so the validator can refuse it by name."""
    return value if isinstance(value, str) else as_tuple(value)


def model_names(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A list of Ollama model names, none repeated (``llama3.2`` and ``llama3.2:latest`` are one model)."""
    if not isinstance(value, tuple):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a list of model names",
            "give a list, e.g. models=['llama3.2'] (not a bare string)",
        )
    seen: dict[str, str] = {}
    for name in value:
        ollama_model_name(instance, attribute, name)
        key = normalize(name)
        if key in seen:
            raise HomelabConfigError(
                field_name(instance, attribute),
                f"{name!r} and {seen[key]!r} are the same model",
                "list each model once",
            )
        seen[key] = name


def models_hash(models: tuple[str, ...]) -> str:
    """8 hex characters that change when the set of models changes (order and ':latest' do not count)."""
    canonical = "\n".join(sorted({normalize(m) for m in models}))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if not value:
        raise HomelabConfigError(
            field_name(instance, attribute), "no model listed", "list at least one model, or create no pull Job"
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class OllamaModelPullProps:
    """Which models, which server, and the Job's bounds.

    ``server_wait`` bounds one attempt's wait for the server (a fresh cluster pulls the Ollama
    image first); ``deadline`` bounds the whole Job, retries included: big models take a while.
    """

    models: tuple[str, ...] = attrs.field(converter=model_tuple, validator=[model_names, _non_empty])
    """Ollama models to pull, at least one, e.g. ("llama3.2",). Required."""
    server_url: str = attrs.field(validator=http_url)
    """URL of the Ollama server, e.g. LlmBackend.url. Required."""
    name: str = attrs.field(
        default="ollama-pull-models", validator=short_label(MAX_NAME_LENGTH, "with the Job's '-<hash>' suffix")
    )
    """Name of the ConfigMap and the Job's prefix, at most 54 characters. Default "ollama-pull-models"."""
    image: ContainerImage = SCRIPT_IMAGE
    """Python image that runs the pull script. Default SCRIPT_IMAGE."""
    server_wait: timedelta = attrs.field(default=timedelta(minutes=20), validator=positive_duration)
    """How long one attempt waits for the server (a new cluster pulls its image). Default 20 minutes."""
    deadline: timedelta = attrs.field(default=timedelta(hours=6), validator=positive_duration)
    """How long the whole Job may run, retries included. Default 6 hours."""
    backoff_limit: int = attrs.field(default=3, validator=whole_number(1))
    """How many times a failed pod is retried. Default 3."""
    resources: ComputeResources = ComputeResources(
        cpu_request=0.05, cpu_limit=0.5, memory_request_gib=0.0625, memory_limit_gib=0.25
    )
    """CPU (cores), memory (GiB); it only streams JSON lines. Default 0.05-0.5 cores, 0.0625-0.25 GiB."""


class OllamaModelPull(Construct):
    """A ConfigMap holding the pull script and a Job named ``<name>-<hash of the models>`` that runs it.

    Re-runs: a new list is a new Job name, so the Job runs again and Flux's prune deletes the old
    one. No ``ttlSecondsAfterFinished`` on purpose: Flux re-applies every object on each reconcile,
    so a Job the TTL controller deleted would be created again and re-run every interval. The
    finished Job stays, with its log, as the record of the last pull; to run it again by hand,
    delete it and Flux creates it anew at the next reconcile. ``kustomize.toolkit.fluxcd.io/force:
    enabled`` lets Flux delete and recreate the Job when its (immutable) pod template changes under
    the same name, e.g. a new python image, instead of failing the whole apply.
    """

    def __init__(self, scope: Construct, id: str, props: OllamaModelPullProps) -> None:
        super().__init__(scope, id)
        self.props = props
        labels = {
            "app.kubernetes.io/name": props.name,
            "app.kubernetes.io/component": "model-pull",
            "app.kubernetes.io/managed-by": "homelab-ai",
        }
        self.config_map = k8s.KubeConfigMap(
            self,
            "Script",
            metadata=k8s.ObjectMeta(name=props.name, labels=labels),
            data={SCRIPT: script_text(__package__, SCRIPT)},
        )
        args = [
            "--server",
            props.server_url,
            "--wait-seconds",
            str(int(props.server_wait.total_seconds())),
            *props.models,
        ]
        pod = script_pod(
            script=SCRIPT,
            config_map=props.name,
            image=props.image,
            args=args,
            res=props.resources,
            container="pull",
        )
        self.job = k8s.KubeJob(
            self,
            "Job",
            metadata=k8s.ObjectMeta(
                name=self.job_name,
                labels=labels,
                annotations={
                    MODELS_ANNOTATION: ",".join(props.models),
                    "kustomize.toolkit.fluxcd.io/force": "enabled",
                },
            ),
            spec=k8s.JobSpec(
                backoff_limit=props.backoff_limit,
                active_deadline_seconds=int(props.deadline.total_seconds()),
                template=k8s.PodTemplateSpec(metadata=k8s.ObjectMeta(labels=labels), spec=pod),
            ),
        )

    @property
    def job_name(self) -> str:
        """``<name>-<8 hex>``: changes exactly when the set of models does."""
        return f"{self.props.name}-{models_hash(self.props.models)}"

    @property
    def models(self) -> tuple[str, ...]:
        """The models the Job pulls."""
        return self.props.models

    @property
    def pod_labels(self) -> dict[str, str]:
        """Labels that select the Job's pods (a NetworkPolicy must let them reach Ollama and DNS)."""
        return {"app.kubernetes.io/name": self.props.name}
