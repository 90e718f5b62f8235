"""PreUpgradeSnapshot: a Longhorn snapshot of an app's claims before a new image of it is deployed.

Some apps migrate their data one way on start (Open WebUI migrates its database): going back to
the old image needs the old data. This is a Job named ``<name>-<hash of the image>``, so a new
image makes a new Job; it snapshots each claim's Longhorn volume (a ``longhorn.io/v1beta2``
Snapshot) and waits until Longhorn reports it ready.

Ordering is Flux's, not the app's: the Job goes in a chart without a namespace (the
infrastructure folder, in Longhorn's namespace), whose Flux Kustomization has ``wait: true``;
the apps' Kustomization ``dependsOn`` it, and Flux applies a dependant only when the dependency
is Ready at the same source revision (kustomize-controller v1.9.4
internal/controller/kustomization_controller.go L603-626). With ``wait`` a Job counts as ready only
once it has completed (fluxcd/pkg runtime/statusreaders/job.go, registered at L1364-1365). So the
new image reaches the cluster only after its snapshot exists, and the app's pod needs no API
token nor an init container that polls. The synth checks that the Flux wiring gives that order.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plus import k8s
from homelab_ai.base.pod_scripts import script_text
from homelab_ai.base.validators import as_tuple, dns1123_label, field_name, positive_duration, short_label, typed_fields
from homelab_ai.base.values import SCRIPT_IMAGE, ComputeResources, ContainerImage
from homelab_ai.cluster.flux_kustomization import FluxKustomization
from homelab_ai.cluster.longhorn.longhorn_jobs import snapshot_name
from homelab_ai.cluster.longhorn.volume import LonghornVolume
from homelab_ai.cluster.script_pod import MANAGED_BY, role, rule, script_pod

SCRIPT = "longhorn_jobs.py"
IMAGE_ANNOTATION = "homelab-ai/image"
SNAPSHOTS_ANNOTATION = "homelab-ai/snapshots"
# Job names carry "-<8 hex>"; the Job controller copies the name into a label (63 characters).
MAX_NAME_LENGTH = 63 - 9


def _volumes(instance: Any, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    if not value or not all(isinstance(v, LonghornVolume) for v in value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            "needs one or more LonghornVolumes",
            "pass the app's volumes, e.g. volumes=(open_webui.data,)",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class PreUpgradeSnapshotProps:
    """The app's claims and image; a new image reference runs the Job again."""

    name: str = attrs.field(validator=short_label(MAX_NAME_LENGTH, "with the Job's '-<hash>' suffix"))
    """Name of the Job (plus ``-<8 hex>`` of the image), its ConfigMap and its RBAC. Required."""
    volumes: tuple[LonghornVolume, ...] = attrs.field(converter=as_tuple, validator=_volumes)
    """The claims whose volumes are snapshotted. Required."""
    image: ContainerImage = attrs.field(validator=attrs.validators.instance_of(ContainerImage))
    """The app's image: what is about to be deployed. Required."""
    wait: timedelta = attrs.field(default=timedelta(minutes=15), validator=positive_duration)
    """How long to wait for Longhorn to finish each snapshot. Default 15 minutes."""
    namespace: str = attrs.field(default="longhorn-system", validator=dns1123_label)
    """Longhorn's namespace, where Snapshots live and the Job runs. Default ``longhorn-system``."""
    script_image: ContainerImage = SCRIPT_IMAGE
    """The python image that runs the Job. Default the project's pinned one."""
    resources: ComputeResources = ComputeResources(
        cpu_request=0.05, cpu_limit=0.5, memory_request_gib=0.0625, memory_limit_gib=0.25
    )
    """The Job's container: it only calls the API. Default 0.05-0.5 cores, 64-256 MiB."""


class PreUpgradeSnapshot(Construct):
    """A Job, its ConfigMap and a Role in Longhorn's namespace; keep it in a chart without a namespace."""

    def __init__(self, scope: Construct, id: str, props: PreUpgradeSnapshotProps) -> None:
        super().__init__(scope, id)
        self.props = props
        chart_namespace = cdk8s.Chart.of(self).namespace
        if chart_namespace is not None:
            raise HomelabConfigError(
                "PreUpgradeSnapshot(scope)",
                f"it must be applied before the app, but this chart stamps namespace {chart_namespace!r}",
                "create it in the infrastructure chart (no namespace), which the apps' Flux Kustomization depends on",
            )
        labels = {"app.kubernetes.io/name": props.name, "app.kubernetes.io/component": "pre-upgrade", **MANAGED_BY}
        k8s.KubeConfigMap(
            self,
            "Program",
            metadata=k8s.ObjectMeta(name=props.name, namespace=props.namespace, labels=labels),
            data={SCRIPT: script_text(__package__, SCRIPT)},
        )
        k8s.KubeServiceAccount(
            self,
            "ServiceAccount",
            metadata=k8s.ObjectMeta(name=props.name, namespace=props.namespace, labels=labels),
            automount_service_account_token=False,
        )
        role(
            self,
            "Longhorn",
            name=props.name,
            namespace=props.namespace,
            account=props.name,
            account_namespace=props.namespace,
            rules=[
                # The claim's volume is found by its status.kubernetesStatus.
                rule("longhorn.io", "volumes", ["list"]),
                rule("longhorn.io", "snapshots", ["create"]),
                rule("longhorn.io", "snapshots", ["get"], self.snapshots),
            ],
        )
        args = ["snapshot", "--namespace", self.claims_namespace, "--image", props.image.reference]
        args += ["--longhorn-namespace", props.namespace, "--wait-seconds", str(int(props.wait.total_seconds()))]
        for volume, snapshot in zip(props.volumes, self.snapshots, strict=True):
            args += ["--claim", volume.claim_name, "--snapshot", snapshot]
        self.job = k8s.KubeJob(
            self,
            "Job",
            metadata=k8s.ObjectMeta(
                name=self.job_name,
                namespace=props.namespace,
                labels=labels,
                annotations={
                    IMAGE_ANNOTATION: props.image.reference,
                    SNAPSHOTS_ANNOTATION: ",".join(self.snapshots),
                    # A new python image changes the (immutable) pod template under the same name.
                    "kustomize.toolkit.fluxcd.io/force": "enabled",
                },
            ),
            spec=k8s.JobSpec(
                backoff_limit=2,
                active_deadline_seconds=int(props.wait.total_seconds()) * len(props.volumes) + 600,
                template=k8s.PodTemplateSpec(
                    metadata=k8s.ObjectMeta(labels=labels),
                    spec=script_pod(
                        script=SCRIPT,
                        config_map=props.name,
                        image=props.script_image,
                        args=args,
                        res=props.resources,
                        service_account=props.name,
                    ),
                ),
            ),
        )
        self.node.add_validation(Validation(self._flux_applies_it_first))

    @property
    def name(self) -> str:
        return self.props.name

    @property
    def image(self) -> ContainerImage:
        return self.props.image

    @property
    def namespace(self) -> str:
        return self.props.namespace

    @property
    def claims_namespace(self) -> str:
        namespaces = {cdk8s.Chart.of(v).namespace or "default" for v in self.props.volumes}
        if len(namespaces) != 1:
            raise HomelabConfigError(
                "PreUpgradeSnapshotProps.volumes",
                f"the claims are in several namespaces ({', '.join(sorted(namespaces))})",
                "make one PreUpgradeSnapshot per app",
            )
        return namespaces.pop()

    @property
    def job_name(self) -> str:
        """``<name>-<8 hex of the image reference>``: a new image is a new Job."""
        return f"{self.props.name}-{hashlib.sha256(self.props.image.reference.encode()).hexdigest()[:8]}"

    @property
    def snapshots(self) -> list[str]:
        """The Longhorn Snapshot taken of each claim before this image, in the order of ``volumes``."""
        return [
            snapshot_name(self.claims_namespace, v.claim_name, self.props.image.reference) for v in self.props.volumes
        ]

    @property
    def claims(self) -> list[str]:
        return [v.claim_name for v in self.props.volumes]

    def _flux_applies_it_first(self) -> list[str]:
        """The Flux Kustomization of this Job waits for it, and those of the claims depend on that one."""
        kustomizations = [c for c in self.node.root.node.find_all() if isinstance(c, FluxKustomization)]
        if not kustomizations:
            return []

        def holding(chart: cdk8s.Chart) -> FluxKustomization | None:
            return next((k for k in kustomizations if any(c is chart for c in k.props.charts)), None)

        def depends(kustomization: FluxKustomization, on: FluxKustomization) -> bool:
            return any(d is on or depends(d, on) for d in kustomization.props.depends_on)

        mine = holding(cdk8s.Chart.of(self))
        where = f"PreUpgradeSnapshot {self.props.name!r}"
        if mine is None:
            return [f"{where}: no FluxKustomization lists its chart in charts=, so nothing orders it before the app"]
        problems = []
        if not mine.props.wait:
            problems.append(
                f"{where}: FluxKustomization {mine.name!r} applies it without wait=True, so Flux would not wait "
                "for the snapshot before deploying the app; set wait=True"
            )
        for volume in self.props.volumes:
            theirs = holding(cdk8s.Chart.of(volume))
            if theirs is None or theirs is mine or not depends(theirs, mine):
                problems.append(
                    f"{where}: claim {volume.claim_name!r} is applied by "
                    f"{theirs.name if theirs else 'no FluxKustomization'!r}, which does not depend on {mine.name!r}; "
                    f"add depends_on=[{mine.name!r}'s FluxKustomization] so the snapshot comes first"
                )
        return problems
