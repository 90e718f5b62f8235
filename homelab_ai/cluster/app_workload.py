"""AppWorkload: one app's pod (Deployment or StatefulSet), its container, its Service and its NetworkPolicy.

It overrides every cdk8s-plus default that is wrong for a homelab AI app: one replica, sized
resources, probes on the real health endpoint with a long startup budget, ``IfNotPresent`` pulls,
spec names instead of chart-prefixed ones, and Recreate when a single-writer volume would
deadlock a rolling update. It is hardened by default (homelab_ai.cluster.hardening: non-root, no
capabilities, seccomp, read-only root filesystem with ``/tmp`` as an emptyDir) and its pods
accept traffic only on their port, from anywhere when exposed, else from the clients it names.
"""

from __future__ import annotations

import hashlib

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import Endpoint, InternetEgress, PodSelector
from homelab_ai.base.plain_synth import attach
from homelab_ai.base.plus import container_resources, kplus
from homelab_ai.base.validators import absolute_path, as_dict, as_tuple, dns1123_label, env_mapping, port, typed_fields
from homelab_ai.base.values import ComputeResources, ContainerImage, HealthCheck, WorkloadKind
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy, AppNetworkPolicyProps
from homelab_ai.cluster.hardening import TMP, ScratchDir, SecurityProfile, harden_pod
from homelab_ai.cluster.load_balancer import LoadBalancer, conflicts
from homelab_ai.cluster.longhorn.volume import LonghornVolume
from homelab_ai.secrets.sops_secret import SecretKeyRef, plaintext_secret_problems

NAME_LABEL = "app.kubernetes.io/name"
# Pod-template annotation per Secret a pod reads: the encrypted file's sha256. A rotated secret is a
# new file, so the pod template changes and the pods restart with the new value (also under Flux,
# which applies the Secret and the workload in one go).
SECRET_CHECKSUM_PREFIX = "checksum/secret-"
_ANNOTATION_NAME_MAX = 63


def secret_checksum_key(secret_name: str) -> str:
    """``checksum/secret-<name>``; a name too long for an annotation key is cut and suffixed with its hash."""
    key = f"secret-{secret_name}"
    if len(key) > _ANNOTATION_NAME_MAX:
        digest = hashlib.sha256(secret_name.encode()).hexdigest()[:8]
        key = f"{key[: _ANNOTATION_NAME_MAX - 9].rstrip('-.')}-{digest}"
    return f"checksum/{key}"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class VolumeMount:
    """Mount ``volume`` (or its ``sub_path`` folder) at ``path``."""

    volume: LonghornVolume
    """The LonghornVolume to mount. Required."""
    path: str = attrs.field(validator=absolute_path)
    """Absolute path in the container. Required."""
    sub_path: str | None = None
    """Folder of the volume to mount instead of its root. Default None: the whole volume."""
    read_only: bool = False
    """Mount it read-only. Default False."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class AppWorkloadProps:
    """Everything that describes one app's pod, Service and network access.

    ``service_port`` defaults to the container's. ``security`` is who the containers run as and
    whether the root filesystem is read-only; ``scratch`` are the writable emptyDirs that a
    read-only root filesystem needs (``/tmp`` by default). ``allow_from`` admits client pods to
    an app that is not exposed; ``internet`` opens outbound HTTPS (model downloads).
    ``extra_ports`` are more ports of the pod (a sidecar's) that the Service and the NetworkPolicy
    open like the main one, by name.
    """

    name: str = attrs.field(validator=dns1123_label)
    """Name of the app's Deployment or StatefulSet, Service, container and NetworkPolicy. Required."""
    image: ContainerImage
    """Container image, pinned to a tag (optionally a digest). Required."""
    container_port: int = attrs.field(validator=port)
    """Port the container listens on; probes and the NetworkPolicy use it. Required."""
    resources: ComputeResources
    """CPU (cores) and memory (GiB) requests and limits of the app's container. Required."""
    health: HealthCheck
    """HTTP health endpoint and startup budget of the startup, readiness and liveness probes. Required."""
    kind: WorkloadKind = WorkloadKind.DEPLOYMENT
    """Deployment, or StatefulSet when the pod name must be stable (ollama-0). Default Deployment."""
    service_port: int | None = attrs.field(default=None, validator=attrs.validators.optional(port))
    """Port of the Service; with expose, the LoadBalancer's port. Default None: container_port."""
    command: tuple[str, ...] = attrs.field(default=(), converter=as_tuple)
    """Replaces the image's entrypoint. Default: the image's."""
    args: tuple[str, ...] = attrs.field(default=(), converter=as_tuple)
    """Arguments of the command. Default: the image's."""
    env: dict[str, str] = attrs.field(factory=dict, converter=as_dict, validator=env_mapping)
    """Plain environment variables of the container (never secrets: see secret_env). Default: none."""
    secret_env: dict[str, SecretKeyRef] = attrs.field(factory=dict, converter=as_dict, validator=env_mapping)
    """Environment variables read from Secret keys: name to SecretKeyRef. Default: none."""
    mounts: tuple[VolumeMount, ...] = attrs.field(default=(), converter=as_tuple)
    """Longhorn volumes mounted into the container. Default: none."""
    expose: LoadBalancer | None = None
    """LAN address (IP, port) of a LoadBalancer Service. Default None: ClusterIP, in-cluster only."""
    working_dir: str | None = None
    """Working directory of the container. Default None: the image's."""
    purpose: str = ""
    """One line for the operator docs' services table; never rendered into objects. Default empty."""
    security: SecurityProfile = attrs.field(
        default=SecurityProfile(), validator=attrs.validators.instance_of(SecurityProfile)
    )
    """Who the containers run as, and whether the root filesystem is read-only. Default UID/GID 10001, read-only."""
    scratch: tuple[ScratchDir, ...] = attrs.field(default=(TMP,), converter=as_tuple)
    """Writable emptyDirs that a read-only root filesystem needs. Default: /tmp only."""
    network_policy: bool = True
    """Give the app its own NetworkPolicy, its only doors in and out. Default True."""
    allow_from: tuple[PodSelector, ...] = attrs.field(default=(), converter=as_tuple)
    """Client pods admitted to an app that is not exposed. Default: none."""
    internet: InternetEgress | None = None
    """Outbound internet access (HTTPS by default), e.g. model downloads. Default None: no internet."""
    extra_ports: dict[str, int] = attrs.field(factory=dict, converter=dict)
    """Name -> port number of more ports of the pod (a sidecar's), on its Service and NetworkPolicy. Default: none."""

    @extra_ports.validator
    def _named_ports(self, attribute: attrs.Attribute[dict], value: dict[str, int]) -> None:
        for name, number in value.items():
            dns1123_label(self, attribute, name)
            port(self, attribute, number)
        taken = [self.container_port, *value.values()]
        if len(set(taken)) != len(taken) or "http" in value:
            raise HomelabConfigError(
                "AppWorkloadProps.extra_ports",
                f"{value!r} repeats the container port {self.container_port}, a port, or the name 'http'",
                "give each extra port its own number and a name other than 'http'",
            )

    def __attrs_post_init__(self) -> None:
        paths = [m.path for m in self.mounts] + [d.path for d in self.scratch]
        for path in paths:
            if paths.count(path) > 1:
                raise HomelabConfigError(
                    "AppWorkloadProps.scratch",
                    f"{path} is mounted twice",
                    "give each mount and scratch dir its own path",
                )
        names = [d.name for d in self.scratch]
        clashes = set(names) & {m.volume.props.name for m in self.mounts}
        if len(set(names)) != len(names) or clashes:
            raise HomelabConfigError(
                "AppWorkloadProps.scratch",
                f"scratch dir names {names} repeat or clash with a volume's name",
                "give each scratch dir a name of its own",
            )
        if self.expose is not None and self.allow_from:
            raise HomelabConfigError(
                "AppWorkloadProps.allow_from",
                "the app is exposed through a LoadBalancer, so every client already gets in",
                "drop allow_from, or drop expose to admit only the listed pods",
            )
        if not self.network_policy and (self.allow_from or self.internet):
            raise HomelabConfigError(
                "AppWorkloadProps.network_policy",
                "is off, but allow_from or internet asks for a policy",
                "turn network_policy on, or drop allow_from and internet",
            )

    @property
    def effective_service_port(self) -> int:
        """The Service's port: the LoadBalancer's when exposed, else service_port or container_port."""
        if self.expose is not None:
            return self.expose.port
        return self.service_port or self.container_port


def service_url(scope: Construct, service: str, port: int) -> str:
    """In-cluster URL of ``service`` in ``scope``'s chart namespace, which works from any namespace."""
    namespace = cdk8s.Chart.of(scope).namespace or "default"
    return f"http://{service}.{namespace}.svc.cluster.local:{port}"


class AppWorkload(Construct):
    """The pod, container and Service of one app; exposes its URL and selector, not its objects."""

    def __init__(self, scope: Construct, id: str, props: AppWorkloadProps, *, uses_gpu: bool = False) -> None:
        super().__init__(scope, id)
        self.props = props
        attach(self, plaintext_secret_problems)  # a plain `app.synth()` refuses a plaintext Secret too
        labels = {NAME_LABEL: props.name, "app.kubernetes.io/managed-by": "homelab-ai"}
        metadata = cdk8s.ApiObjectMetadata(name=props.name, labels=labels)
        common = dict(
            metadata=metadata,
            select=False,
            replicas=1,
            pod_metadata=cdk8s.ApiObjectMetadata(labels=labels),
            automount_service_account_token=False,
        )
        self.service = kplus.Service(
            self,
            "Service",
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name,
                labels=labels,
                annotations=props.expose.annotations() if props.expose else None,
            ),
            type=kplus.ServiceType.LOAD_BALANCER if props.expose else kplus.ServiceType.CLUSTER_IP,
            ports=[
                kplus.ServicePort(name="http", port=props.effective_service_port, target_port=props.container_port),
                *(
                    kplus.ServicePort(name=name, port=number, target_port=number)
                    for name, number in props.extra_ports.items()
                ),
            ],
        )
        if props.kind is WorkloadKind.STATEFUL_SET:
            self.workload: kplus.Deployment | kplus.StatefulSet = kplus.StatefulSet(
                self, "Workload", service=self.service, **common
            )
            # The StatefulSet made the Service select its construct-path label, removed below.
            cdk8s.ApiObject.of(self.service).add_json_patch(
                cdk8s.JsonPatch.remove("/spec/selector/cdk8s.io~1metadata.addr")
            )
        else:
            # A rolling update starts the new pod before stopping the old one: with a
            # ReadWriteOnce volume the new pod never attaches, and on a shared GPU two copies
            # would hold VRAM at once. Recreate stops first.
            recreate = uses_gpu or any(m.volume.single_writer for m in props.mounts)
            strategy = kplus.DeploymentStrategy.recreate() if recreate else None
            self.workload = kplus.Deployment(self, "Workload", strategy=strategy, **common)
        self.workload.select(kplus.LabelSelector.of(labels={NAME_LABEL: props.name}))
        # cdk8s-plus stamps its construct-path label on every pod; it would roll pods on a refactor.
        cdk8s.ApiObject.of(self.workload).add_json_patch(
            cdk8s.JsonPatch.remove("/spec/template/metadata/labels/cdk8s.io~1metadata.addr")
        )
        self.service.select_label(NAME_LABEL, props.name)
        self.container = self.workload.add_container(**self._container_props(props))
        for env_name, ref in props.secret_env.items():
            self.container.env.add_variable(env_name, self._secret_value(ref))
            self.track_secret(ref)
        for env_name, value in props.env.items():
            self.container.env.add_variable(env_name, kplus.EnvValue.from_value(value))
        for mount in props.mounts:
            mount.volume.mount(self.container, mount.path, sub_path=mount.sub_path, read_only=mount.read_only)
        # Containers added later (sidecars, init containers) call hardening.harden_container.
        self.hardening = harden_pod(self.workload, props.security, scratch=props.scratch)
        self.network_policy: AppNetworkPolicy | None = None
        if props.network_policy:
            self.network_policy = AppNetworkPolicy(
                self,
                "NetworkPolicy",
                AppNetworkPolicyProps(
                    name=props.name,
                    pods=self.selector,
                    ports=(props.container_port, *props.extra_ports.values()),
                    from_anywhere=props.expose is not None,
                    allow_from=props.allow_from,
                    internet=props.internet,
                ),
            )
        if props.expose is not None:
            if props.expose.use_deprecated_spec_field:
                # Patches run before the L1 props are turned into JSON field names, so the patch
                # uses the binding's name (loadBalancerIp); it comes out as spec.loadBalancerIP.
                cdk8s.ApiObject.of(self.service).add_json_patch(
                    cdk8s.JsonPatch.add("/spec/loadBalancerIp", props.expose.ip)
                )
            _check_load_balancers_once(self.node.root)

    def _container_props(self, props: AppWorkloadProps) -> dict:
        health = props.health
        probe_port = props.container_port

        def probe(failures: int, path: str = health.path) -> kplus.Probe:
            return kplus.Probe.from_http_get(
                path,
                port=probe_port,
                failure_threshold=failures,
                period_seconds=cdk8s.Duration.seconds(health.period.total_seconds()),
                timeout_seconds=cdk8s.Duration.seconds(health.timeout.total_seconds()),
            )

        res = props.resources
        return dict(
            name=props.name,
            image=props.image.reference,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            port_number=props.container_port,
            command=list(props.command) or None,
            args=list(props.args) or None,
            working_dir=props.working_dir,
            resources=container_resources(res),
            startup=probe(health.startup_failure_threshold, health.ready_path or health.path),
            readiness=probe(3, health.ready_path or health.path),
            liveness=probe(health.liveness_failures),
        )

    def track_secret(self, ref: SecretKeyRef) -> None:
        """Restart this app's pods when the Secret behind ``ref`` changes (sidecars reading a Secret call it too)."""
        if ref.checksum is not None:
            self.workload.pod_metadata.add_annotation(secret_checksum_key(ref.secret_name), ref.checksum)

    def _secret_value(self, ref: SecretKeyRef) -> kplus.EnvValue:
        secret_id = f"Secret-{ref.secret_name}"
        secret = self.node.try_find_child(secret_id) or kplus.Secret.from_secret_name(self, secret_id, ref.secret_name)
        return kplus.EnvValue.from_secret_value(kplus.SecretValue(secret=secret, key=ref.key))

    @property
    def name(self) -> str:
        """The app's name: its workload, Service and container."""
        return self.props.name

    @property
    def port(self) -> int:
        """The Service port other apps connect to."""
        return self.props.effective_service_port

    @property
    def url(self) -> str:
        """In-cluster URL of the Service, with the namespace so it works from any namespace."""
        return service_url(self, self.props.name, self.port)

    @property
    def pod_labels(self) -> dict[str, str]:
        """Labels that select this app's pods (for NetworkPolicies and PodDisruptionBudgets)."""
        return {NAME_LABEL: self.props.name}

    @property
    def selector(self) -> PodSelector:
        """This app's pods, as a NetworkPolicy peer."""
        return PodSelector(labels=self.pod_labels)

    @property
    def endpoint(self) -> Endpoint:
        """This app's pods on its container port: what a client's egress rule opens."""
        return Endpoint(pods=self.selector, port=self.props.container_port)

    def allow_client(self, client: AppWorkload | AppNetworkPolicy | PodSelector) -> None:
        """Let ``client`` connect to this app (and, for a client with a policy, let it reach out)."""
        if self.network_policy is None:
            raise HomelabConfigError(
                f"AppWorkload({self.name}).allow_client",
                "this app has no NetworkPolicy (network_policy=False)",
                "turn network_policy on for it",
            )
        if isinstance(client, AppWorkload):
            client = client.network_policy or client.selector
        self.network_policy.allow_from(client)


# Marks a construct tree whose root already carries the LoadBalancer conflict check.
_LB_CHECK_ADDED = "_homelab_ai_lb_check_added"


def _check_load_balancers_once(root: Construct) -> None:
    """Add the LoadBalancer conflict check to the tree's root, once per tree.

    The check walks the whole tree (``find_all`` hands every construct across jsii). Added to
    every exposed workload, it made validation cost exposed workloads x tree size: quadratic,
    over 2 s of a 100-app synth's 4.3 s (bench/README.md). One check per tree is linear.
    """
    if getattr(root, _LB_CHECK_ADDED, False):
        return
    setattr(root, _LB_CHECK_ADDED, True)
    root.node.add_validation(Validation(lambda: _lb_conflicts(root)))


def _lb_conflicts(root: Construct) -> list[str]:
    exposures = [
        (f"{c.props.name!r}", c.props.expose)
        for c in root.node.find_all()
        if isinstance(c, AppWorkload) and c.props.expose is not None
    ]
    return conflicts(exposures)
