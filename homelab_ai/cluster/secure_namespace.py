"""SecureNamespace: a Namespace whose Pod Security admission labels the synth holds its pods to.

``enforce`` is the strictest level every pod meets (``restricted`` for the AI stack, since every
container runs non-root with no capabilities); ``warn`` and ``audit`` stay at ``restricted`` so a
relaxation is still reported by the API server. At synth time each pod placed in this namespace,
by any chart, is checked against ``enforce``: one the cluster would reject is refused here.
"""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plus import kplus
from homelab_ai.base.validators import dns1123_label, matches, typed_fields
from homelab_ai.cluster.pod_security import PodSecurityLevel, pod_spec, violations

LABEL = "pod-security.kubernetes.io"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class SecureNamespaceProps:
    """The namespace and its three Pod Security modes; ``version`` pins the standard's version."""

    name: str = attrs.field(validator=dns1123_label)
    """Name of the Namespace. Required."""
    enforce: PodSecurityLevel = attrs.field(
        default=PodSecurityLevel.RESTRICTED, validator=attrs.validators.instance_of(PodSecurityLevel)
    )
    """Level the API server (and the synth) holds every pod of the namespace to. Default restricted."""
    warn: PodSecurityLevel = attrs.field(
        default=PodSecurityLevel.RESTRICTED, validator=attrs.validators.instance_of(PodSecurityLevel)
    )
    """Level the API server warns about on apply. Default restricted."""
    audit: PodSecurityLevel = attrs.field(
        default=PodSecurityLevel.RESTRICTED, validator=attrs.validators.instance_of(PodSecurityLevel)
    )
    """Level the API server records in its audit log. Default restricted."""
    version: str = attrs.field(
        default="latest",
        validator=matches(r"latest|v1\.[0-9]+", "use 'latest' or a Kubernetes minor version such as 'v1.30'"),
    )
    """Version of the standard: "latest" or a minor version such as "v1.30". Default "latest"."""

    def labels(self) -> dict[str, str]:
        """The pod-security.kubernetes.io labels of the three modes and their version."""
        result: dict[str, str] = {}
        for mode in ("enforce", "audit", "warn"):
            result[f"{LABEL}/{mode}"] = getattr(self, mode).value
            result[f"{LABEL}/{mode}-version"] = self.version
        return result


class SecureNamespace(Construct):
    """The Namespace object, in a chart without a namespace; every pod in it is checked at synth."""

    def __init__(self, scope: Construct, id: str, props: SecureNamespaceProps) -> None:
        super().__init__(scope, id)
        self.props = props
        if cdk8s.Chart.of(self).namespace is not None:
            raise HomelabConfigError(
                "SecureNamespace(scope)",
                f"a Namespace is cluster-scoped but this chart stamps namespace {cdk8s.Chart.of(self).namespace!r}",
                "create it in a chart without a namespace (e.g. 'ai-namespace')",
            )
        self.namespace = kplus.Namespace(
            self,
            "Namespace",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=props.labels()),
        )
        self.node.add_validation(Validation(self._pods_meet_enforce))

    @property
    def name(self) -> str:
        """Name of the Namespace."""
        return self.props.name

    def _pods_meet_enforce(self) -> list[str]:
        problems: list[str] = []
        level = self.props.enforce
        for construct in self.node.root.node.find_all():
            # Kind first: one jsii round trip per object, where its namespace costs two.
            if not isinstance(construct, cdk8s.ApiObject) or pod_spec({"kind": construct.kind}) is None:
                continue
            if construct.metadata.namespace != self.props.name:
                continue
            manifest = construct.to_json()
            for violation in violations(pod_spec(manifest) or {}, level):
                problems.append(
                    f"SecureNamespaceProps.enforce: {construct.kind} {manifest['metadata']['name']!r} in namespace "
                    f"{self.props.name!r} breaks Pod Security {level.value!r}: {violation}; harden it "
                    "(homelab_ai.cluster.hardening) or lower enforce, and write down why"
                )
        return problems
