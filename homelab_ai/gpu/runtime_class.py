"""NvidiaRuntimeClass: the ``nvidia`` RuntimeClass that GPU pods name in ``runtimeClassName``.

Needed where containerd's default runtime is not the NVIDIA one (k3s, RKE2, plain containerd with
the NVIDIA Container Toolkit installed as an extra runtime). Cluster-scoped, so it belongs in a chart
without a namespace.
"""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.plus import k8s
from homelab_ai.base.validators import as_dict, dns1123_label, dns1123_subdomain, typed_fields


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class NvidiaRuntimeClassProps:
    """The class name pods use and the containerd handler it maps to (both ``nvidia`` by convention)."""

    name: str = attrs.field(default="nvidia", validator=dns1123_subdomain)
    """Name that pods put in runtimeClassName. Default "nvidia"."""
    handler: str = attrs.field(default="nvidia", validator=dns1123_label)
    """containerd runtime handler it maps to. Default "nvidia"."""
    node_selector: dict[str, str] = attrs.field(factory=dict, converter=as_dict)
    """Labels of the nodes that have the runtime (scheduling.nodeSelector). Default: none, any node."""


class NvidiaRuntimeClass(Construct):
    """A node.k8s.io/v1 RuntimeClass; refuses to sit in a namespaced chart."""

    def __init__(self, scope: Construct, id: str, props: NvidiaRuntimeClassProps = NvidiaRuntimeClassProps()) -> None:
        super().__init__(scope, id)
        self.props = props
        scheduling = k8s.Scheduling(node_selector=props.node_selector) if props.node_selector else None
        k8s.KubeRuntimeClass(
            self,
            "RuntimeClass",
            metadata=k8s.ObjectMeta(name=props.name, labels={"app.kubernetes.io/managed-by": "homelab-ai"}),
            handler=props.handler,
            scheduling=scheduling,
        )
        self.node.add_validation(Validation(self._cluster_scoped))

    @property
    def name(self) -> str:
        """Name GPU pods put in runtimeClassName."""
        return self.props.name

    def _cluster_scoped(self) -> list[str]:
        namespace = cdk8s.Chart.of(self).namespace
        if namespace:
            return [
                f"RuntimeClass {self.props.name!r} is cluster-scoped but chart {cdk8s.Chart.of(self).node.id!r} "
                f"stamps namespace {namespace!r} on it. Fix: create NvidiaRuntimeClass in a chart without a namespace"
            ]
        return []
