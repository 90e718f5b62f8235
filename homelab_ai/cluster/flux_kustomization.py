"""FluxKustomization: a Flux ``Kustomization`` that applies one folder of ``dist/`` from Git.

Each folder of ``dist/`` is one Flux Kustomization, so Flux applies the cluster infrastructure
before the apps (``dependsOn``), removes what the chart no longer emits (``prune``) and decrypts
the SOPS-encrypted Secrets of the folders that hold them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import timedelta

import attrs
import cdk8s
from constructs import Construct

from homelab_ai._crds.io.fluxcd.toolkit import kustomize
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plain_synth import attach
from homelab_ai.base.validators import (
    as_tuple,
    dns1123_label,
    dns1123_subdomain,
    field_name,
    matches,
    positive_duration,
    typed_fields,
)
from homelab_ai.base.values import go_duration
from homelab_ai.secrets.sops_secret import SopsSecret

FLUX_NAMESPACE = "flux-system"
# Flux reads age keys from the entries of the decryption Secret whose names end in `.agekey`.
AGE_KEY_ENTRY = "age.agekey"


class SourceKind(enum.Enum):
    """The Flux source object that holds the repository (or artifact) with ``dist/``."""

    GIT_REPOSITORY = "GitRepository"
    OCI_REPOSITORY = "OCIRepository"
    BUCKET = "Bucket"


_SOURCE_KIND = {
    SourceKind.GIT_REPOSITORY: kustomize.KustomizationSpecSourceRefKind.GIT_REPOSITORY,
    SourceKind.OCI_REPOSITORY: kustomize.KustomizationSpecSourceRefKind.OCI_REPOSITORY,
    SourceKind.BUCKET: kustomize.KustomizationSpecSourceRefKind.BUCKET,
}


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class FluxSource:
    """The source Flux pulls ``dist/`` from: by default the repo Flux was bootstrapped with."""

    name: str = attrs.field(default="flux-system", validator=dns1123_subdomain)
    """Name of the Flux source object. Default "flux-system": the repo Flux was bootstrapped with."""
    kind: SourceKind = attrs.field(
        default=SourceKind.GIT_REPOSITORY, validator=attrs.validators.instance_of(SourceKind)
    )
    """Kind of the source object. Default SourceKind.GIT_REPOSITORY."""
    namespace: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_label))
    """Namespace of the source. Default None: the Kustomization's namespace."""

    @property
    def reference(self) -> str:
        """``Kind/name`` as the flux CLI writes it (``--source=GitRepository/flux-system``)."""
        return f"{self.kind.value}/{self.name}"


def _charts(instance: object, attribute: attrs.Attribute, value: tuple) -> None:
    if not all(isinstance(chart, cdk8s.Chart) for chart in value):
        raise HomelabConfigError(
            field_name(instance, attribute), "holds something that is not a cdk8s.Chart", "pass the folder's charts"
        )


def _flux_kustomizations(instance: object, attribute: attrs.Attribute, value: tuple) -> None:
    if not all(isinstance(other, FluxKustomization) for other in value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            "holds something that is not a FluxKustomization",
            "pass the FluxKustomization constructs this one must wait for",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class FluxKustomizationProps:
    """One ``dist/`` folder as a Flux Kustomization.

    ``charts`` are the charts rendered into ``folder``: when any of them holds a SopsSecret,
    decryption is switched on (``decrypt_sops=None``, the default). Create the
    FluxKustomization after those charts' SopsSecrets; the synth refuses if a folder it writes
    holds SOPS files that its Flux Kustomization would not decrypt.
    """

    name: str = attrs.field(validator=dns1123_label)
    """Name of the Kustomization object. Required."""
    folder: str = attrs.field(validator=matches(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", "name a folder of dist/"))
    """Folder of dist/ it applies, e.g. "ai". Required."""
    charts: tuple[cdk8s.Chart, ...] = attrs.field(default=(), converter=as_tuple, validator=_charts)
    """Charts rendered into folder; a SopsSecret in them switches decryption on. Default: none."""
    depends_on: tuple[FluxKustomization, ...] = attrs.field(
        default=(), converter=as_tuple, validator=_flux_kustomizations
    )
    """Kustomizations Flux applies (and waits for) first. Default: none."""
    source: FluxSource = FluxSource()
    """Where Flux pulls dist/ from. Default FluxSource(): the flux-system GitRepository."""
    root: str = attrs.field(default="./dist", validator=matches(r"\./[A-Za-z0-9._/-]*[^/]|\.", "e.g. './dist'"))
    """Where the synth writes, relative to the root of the source (the repo). Default "./dist"."""
    namespace: str = attrs.field(default=FLUX_NAMESPACE, validator=dns1123_label)
    """Namespace of the Kustomization object. Default "flux-system"."""
    prune: bool = True
    """Delete from the cluster what the chart no longer emits. Default True."""
    interval: timedelta = attrs.field(default=timedelta(minutes=10), validator=positive_duration)
    """How often Flux reconciles the folder. Default 10 minutes."""
    timeout: timedelta | None = attrs.field(default=None, validator=attrs.validators.optional(positive_duration))
    """How long an apply and its health checks may take. Default None: Flux uses interval (10 minutes)."""
    wait: bool = False
    """Ready only when every applied object is healthy: what a dependsOn on it waits for. Default False."""
    decrypt_sops: bool | None = None
    """Decrypt SOPS files; None turns it on when charts hold a SopsSecret. Default None."""
    sops_secret_name: str = attrs.field(default="sops-age", validator=dns1123_subdomain)
    """Secret beside the Kustomization holding the age key (age.agekey). Default "sops-age"."""

    @property
    def path(self) -> str:
        """root/folder: the spec.path Flux applies, e.g. ./dist/ai."""
        return f"{self.root}/{self.folder}"


class FluxKustomization(Construct):
    """Emits ``kustomize.toolkit.fluxcd.io/v1`` Kustomization ``name`` for ``./dist/<folder>``."""

    def __init__(self, scope: Construct, id: str, props: FluxKustomizationProps) -> None:
        super().__init__(scope, id)
        self.props = props
        attach(self)  # a plain `app.synth()` says it skipped output_problems
        self.decrypts_sops = (
            props.decrypt_sops
            if props.decrypt_sops is not None
            else any(isinstance(c, SopsSecret) for chart in props.charts for c in chart.node.find_all())
        )
        source = props.source
        spec = kustomize.KustomizationSpec(
            interval=go_duration(props.interval),
            path=props.path,
            prune=props.prune,
            source_ref=kustomize.KustomizationSpecSourceRef(
                kind=_SOURCE_KIND[source.kind], name=source.name, namespace=source.namespace
            ),
            depends_on=[
                kustomize.KustomizationSpecDependsOn(
                    name=other.name,
                    namespace=other.namespace if other.namespace != props.namespace else None,
                )
                for other in props.depends_on
            ]
            or None,
            decryption=kustomize.KustomizationSpecDecryption(
                provider=kustomize.KustomizationSpecDecryptionProvider.SOPS,
                secret_ref=kustomize.KustomizationSpecDecryptionSecretRef(name=props.sops_secret_name),
            )
            if self.decrypts_sops
            else None,
            timeout=go_duration(props.timeout) if props.timeout else None,
            wait=props.wait or None,
        )
        self.resource = kustomize.Kustomization(
            self,
            "Resource",
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name,
                namespace=props.namespace,
                labels={"app.kubernetes.io/managed-by": "homelab-ai"},
            ),
            spec=spec,
        )

    @property
    def name(self) -> str:
        """Name of the Kustomization (what dependsOn names)."""
        return self.props.name

    @property
    def namespace(self) -> str:
        """Namespace of the Kustomization."""
        return self.props.namespace

    @property
    def folder(self) -> str:
        """The dist/ folder it applies."""
        return self.props.folder

    @property
    def path(self) -> str:
        """Path it applies, relative to the source's root, e.g. ./dist/ai."""
        return self.props.path

    def plain_synth_skipped(self) -> list[str]:
        """A plain synth writes no dist/ folders, so it cannot check that each path holds its charts."""
        return ["that each Flux Kustomization's path is a dist/ folder holding the charts it applies"]

    def output_problems(self, files: Mapping[str, bytes]) -> list[str]:
        """Checked by the synth against what it is about to write: the folder exists, its SOPS files decrypt."""
        where = f"FluxKustomization {self.props.name!r} ({self.props.path})"
        in_folder = [path for path in files if path.startswith(f"{self.props.folder}/")]
        if not in_folder:
            return [
                f"{where}: the synth writes no folder {self.props.folder!r}; "
                "set FluxKustomizationProps.folder to one of the folder map's folders"
            ]
        sops_files = sorted(path for path in in_folder if path.endswith(".sops.yaml"))
        if sops_files and not self.decrypts_sops:
            return [
                f"{where}: holds SOPS-encrypted {', '.join(sops_files)} but has no spec.decryption, so Flux "
                "would apply them still encrypted; pass the folder's charts in FluxKustomizationProps.charts "
                "(after their SopsSecrets are created) or set decrypt_sops=True"
            ]
        return []
