"""Least privilege for every pod and container, in one call.

AppWorkload hardens the apps with it; a construct that adds its own pod (a Job) or container (a
sidecar, an init container) calls :func:`harden_pod` / :func:`harden_container` so it runs with
the same settings. A hardened pod refuses to synthesize while any of its containers is not.

cdk8s-plus has no props for capabilities or seccomp, so the whole ``securityContext`` of the pod
and of each container is written by JSON patch: what is in the YAML is exactly what is below.
"""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plus import kplus
from homelab_ai.base.validators import absolute_path, dns1123_label, positive, typed_fields, whole_number

# Above 10000: no clash with a host account (and what checkov's CKV_K8S_40 asks for).
DEFAULT_UID = 10001
MAX_ID = 2**31 - 1

# Where the pod spec sits in each kind that has one.
_POD_SPEC_PATH = {
    "Pod": "/spec",
    "CronJob": "/spec/jobTemplate/spec/template/spec",
}
_TEMPLATE_SPEC = "/spec/template/spec"


def _root_needs_a_reason(instance: SecurityProfile) -> None:
    if instance.run_as_user == 0 and not instance.root_reason.strip():
        raise HomelabConfigError(
            "SecurityProfile.run_as_user",
            "0 runs the container as root, and no root_reason says why",
            "run as a non-root UID (the default is 10001), or set root_reason and add the checkov skip "
            "(CKV_K8S_23) with the same reason to .checkov.yaml",
        )
    if instance.run_as_user != 0 and instance.root_reason:
        raise HomelabConfigError(
            "SecurityProfile.root_reason",
            f"is set but run_as_user is {instance.run_as_user}, not root",
            "drop root_reason, or set run_as_user=0 if the image really needs root",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class SecurityProfile:
    """Who a pod's containers run as, and whether their root filesystem is read-only.

    The defaults meet the ``restricted`` Pod Security Standard: non-root UID/GID 10001, volumes
    group-owned by 10001, read-only root filesystem. Root (``run_as_user=0``) needs a
    ``root_reason``; an image that writes to its own filesystem sets
    ``read_only_root_filesystem=False`` and says why in a comment.
    """

    run_as_user: int = attrs.field(default=DEFAULT_UID, validator=whole_number(0, MAX_ID))
    """UID the containers run as; 0 (root) needs a root_reason. Default 10001."""
    run_as_group: int = attrs.field(default=DEFAULT_UID, validator=whole_number(0, MAX_ID))
    """GID the containers run as. Default 10001."""
    fs_group: int | None = attrs.field(
        default=DEFAULT_UID, validator=attrs.validators.optional(whole_number(0, MAX_ID))
    )
    """GID that owns the pod's volumes (fsGroup). Default 10001; None leaves their ownership alone."""
    read_only_root_filesystem: bool = True
    """Mount each container's root filesystem read-only. Default True."""
    root_reason: str = ""
    """Why the image must run as root; set only with run_as_user=0. Default empty."""

    def __attrs_post_init__(self) -> None:
        _root_needs_a_reason(self)

    @property
    def non_root(self) -> bool:
        """True unless run_as_user is 0."""
        return self.run_as_user != 0

    def pod_security_context(self) -> dict:
        """The pod's securityContext: user, group, fsGroup, runAsNonRoot, seccomp RuntimeDefault."""
        context: dict = {
            "runAsNonRoot": self.non_root,
            "runAsUser": self.run_as_user,
            "runAsGroup": self.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        if self.fs_group is not None:
            context["fsGroup"] = self.fs_group
            # Big model volumes: chown only when the volume's root is wrong, not on every start.
            context["fsGroupChangePolicy"] = "OnRootMismatch"
        return context

    def container_security_context(self) -> dict:
        """A container's securityContext: no capabilities or escalation, seccomp, the user."""
        return {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": self.read_only_root_filesystem,
            "runAsNonRoot": self.non_root,
            "runAsUser": self.run_as_user,
            "runAsGroup": self.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        }


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class ScratchDir:
    """A writable folder for a container with a read-only root filesystem: an emptyDir, gone with the pod."""

    name: str = attrs.field(validator=dns1123_label)
    """Name of the emptyDir volume, unique in the pod. Required."""
    path: str = attrs.field(validator=absolute_path)
    """Absolute path the container mounts it at, e.g. /tmp. Required."""
    size_limit_gib: float | None = attrs.field(default=None, validator=attrs.validators.optional(positive))
    """Size limit of the emptyDir, GiB. Default None: no limit."""


TMP = ScratchDir(name="tmp", path="/tmp")


def pod_spec_path(kind: str) -> str:
    """JSON pointer to the pod spec inside an object of ``kind``."""
    return _POD_SPEC_PATH.get(kind, _TEMPLATE_SPEC)


PodOwner = kplus.AbstractPod


class PodHardening(Construct):
    """State of one hardened pod: its profile and which containers were hardened (checked at synth)."""

    ID = "Hardening"

    def __init__(self, pod: PodOwner, profile: SecurityProfile) -> None:
        super().__init__(pod, self.ID)
        self.pod = pod
        self.profile = profile
        self.hardened: set[tuple[str, str]] = set()
        self._scratch: dict[str, kplus.Volume] = {}
        # Looked up once per pod, not once per patch: each lookup is a jsii round trip (bench/README.md).
        self.api_object = cdk8s.ApiObject.of(pod)
        self.spec_path = pod_spec_path(self.api_object.kind)
        setattr(pod, _STATE, self)
        _check_pods_once(self.node.root, self)

    def _unhardened(self) -> list[str]:
        missing = [
            f"{self.pod.node.path}: container {name!r} (spec.{section}) is not hardened; call "
            f"homelab_ai.cluster.hardening.harden_container(pod, container) after adding it"
            for section, name in _containers(self.pod)
            if (section, name) not in self.hardened
        ]
        return missing

    def scratch_volume(self, scratch: ScratchDir) -> kplus.Volume:
        """One emptyDir per scratch name per pod, shared by the containers that mount it."""
        if scratch.name not in self._scratch:
            size = cdk8s.Size.mebibytes(round(scratch.size_limit_gib * 1024)) if scratch.size_limit_gib else None
            self._scratch[scratch.name] = kplus.Volume.from_empty_dir(
                self, f"Scratch-{scratch.name}", scratch.name, size_limit=size
            )
        return self._scratch[scratch.name]


# On a pod: its PodHardening. On a tree's root: the PodHardenings the one check of the tree covers.
_STATE = "_homelab_ai_hardening"
_PODS = "_homelab_ai_hardened_pods"


def _check_pods_once(root: Construct, state: PodHardening) -> None:
    """One "every container hardened" check per construct tree, not one per pod.

    A check per pod cost a jsii callback per pod per chart at synth, and three round trips per
    pod to add (bench/README.md); the check of the tree covers every pod registered here.
    """
    pods: list[PodHardening] | None = getattr(root, _PODS, None)
    if pods is None:
        pods = []
        setattr(root, _PODS, pods)
        root.node.add_validation(Validation(lambda: [m for p in pods for m in p._unhardened()]))
    pods.append(state)


def _containers(pod: PodOwner) -> list[tuple[str, str]]:
    return [("containers", c.name) for c in pod.containers] + [("initContainers", c.name) for c in pod.init_containers]


def _hardening(pod: PodOwner) -> PodHardening | None:
    state = getattr(pod, _STATE, None)
    if state is None:
        # A pod object other than the one harden_pod saw (jsii hands out proxies): ask the tree.
        state = pod.node.try_find_child(PodHardening.ID)
    return state if isinstance(state, PodHardening) else None


def harden_pod(
    pod: PodOwner, profile: SecurityProfile = SecurityProfile(), *, scratch: tuple[ScratchDir, ...] = (TMP,)
) -> PodHardening:
    """Harden ``pod`` (Deployment, StatefulSet, Job, ...) and every container it has now.

    Pod level: the profile's user, group and fsGroup, ``runAsNonRoot``, seccomp ``RuntimeDefault``,
    no service-account token. Its containers get ``scratch`` (see :func:`harden_container`).
    Containers added later need :func:`harden_container`; synth refuses the pod until they have it.
    """
    if _hardening(pod) is not None:
        raise HomelabConfigError(
            f"harden_pod({pod.node.path})", "this pod is already hardened", "call harden_pod once per pod"
        )
    state = PodHardening(pod, profile)
    spec = state.spec_path
    state.api_object.add_json_patch(
        cdk8s.JsonPatch.add(f"{spec}/securityContext", profile.pod_security_context()),
        cdk8s.JsonPatch.add(f"{spec}/automountServiceAccountToken", False),
    )
    for container in [*pod.containers, *pod.init_containers]:
        harden_container(pod, container, scratch=scratch)
    return state


def harden_container(
    pod: PodOwner,
    container: kplus.Container,
    profile: SecurityProfile | None = None,
    *,
    scratch: tuple[ScratchDir, ...] = (TMP,),
) -> None:
    """Harden one container of an already hardened pod: drop ALL capabilities, no privilege
    escalation, seccomp ``RuntimeDefault``, the pod's (or ``profile``'s) user and root filesystem
    mode. Each ``scratch`` dir is mounted as a writable emptyDir (``/tmp`` by default).
    """
    state = _hardening(pod)
    if state is None:
        raise HomelabConfigError(
            f"harden_container({pod.node.path})",
            "the pod is not hardened",
            "call homelab_ai.cluster.hardening.harden_pod(pod) first",
        )
    profile = profile or state.profile
    if profile.non_root != state.profile.non_root:
        raise HomelabConfigError(
            f"harden_container({container.name}).profile",
            "root and non-root containers cannot share a pod whose securityContext says runAsNonRoot",
            "use the pod's profile, or another non-root UID",
        )
    name = container.name
    main = [c.name for c in pod.containers]
    init = [c.name for c in pod.init_containers]
    if name in main:
        section, index = "containers", main.index(name)
    elif name in init:
        section, index = "initContainers", init.index(name)
    else:
        raise HomelabConfigError(
            f"harden_container({name})",
            f"the container is not in {pod.node.path}",
            "add it to the pod (add_container / add_init_container) before hardening it",
        )
    for item in scratch:
        container.mount(item.path, state.scratch_volume(item))
    state.api_object.add_json_patch(
        cdk8s.JsonPatch.add(
            f"{state.spec_path}/{section}/{index}/securityContext", profile.container_security_context()
        )
    )
    state.hardened.add((section, name))
