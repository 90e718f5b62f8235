"""A pod that runs one of homelab-ai's in-pod programs, and the RBAC of those that call the API.

The program (stdlib Python, homelab_ai.base.pod_scripts) comes from a ConfigMap and runs with a
plain python image as nobody, hardened to the ``restricted`` Pod Security level: the model pull,
the pre-upgrade snapshot and the restore drill. Those that call the Kubernetes API get a service
account whose Roles name every object they may touch.
"""

from __future__ import annotations

from collections.abc import Sequence

import cdk8s
from constructs import Construct

from homelab_ai.base.plus import k8s, resource_requirements
from homelab_ai.base.values import ComputeResources, ContainerImage

SCRIPT_DIR = "/opt/homelab-ai"
NOBODY = 65534
MANAGED_BY = {"app.kubernetes.io/managed-by": "homelab-ai"}


def script_pod(
    *,
    script: str,
    config_map: str,
    image: ContainerImage,
    args: Sequence[str],
    res: ComputeResources,
    service_account: str | None = None,
    container: str = "run",
) -> k8s.PodSpec:
    """A pod that runs ``SCRIPT ARGS`` from ``config_map`` as nobody, read-only; with a service account's
    token only when ``service_account`` is given."""
    main = k8s.Container(
        name=container,
        image=image.reference,
        image_pull_policy="IfNotPresent",
        command=["python", f"{SCRIPT_DIR}/{script}"],
        args=list(args),
        env=[k8s.EnvVar(name="PYTHONDONTWRITEBYTECODE", value="1")],
        resources=resource_requirements(res),
        security_context=k8s.SecurityContext(
            allow_privilege_escalation=False,
            privileged=False,
            read_only_root_filesystem=True,
            capabilities=k8s.Capabilities(drop=["ALL"]),
            # Repeated from the pod on purpose: every container states the full restricted profile.
            run_as_non_root=True,
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
        ),
        volume_mounts=[k8s.VolumeMount(name="script", mount_path=SCRIPT_DIR, read_only=True)],
    )
    return k8s.PodSpec(
        # Never: each failed attempt keeps its pod, so `kubectl logs` shows why it failed.
        restart_policy="Never",
        service_account_name=service_account,
        automount_service_account_token=service_account is not None,
        enable_service_links=False,
        security_context=k8s.PodSecurityContext(
            run_as_non_root=True,
            run_as_user=NOBODY,
            run_as_group=NOBODY,
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
        ),
        containers=[main],
        volumes=[k8s.Volume(name="script", config_map=k8s.ConfigMapVolumeSource(name=config_map, default_mode=0o444))],
    )


def rule(group: str, resource: str, verbs: Sequence[str], names: Sequence[str] = ()) -> k8s.PolicyRule:
    return k8s.PolicyRule(
        api_groups=[group], resources=[resource], verbs=list(verbs), resource_names=list(names) or None
    )


def role(
    scope: Construct,
    id: str,
    *,
    name: str,
    namespace: str,
    account: str,
    account_namespace: str,
    rules: Sequence[k8s.PolicyRule],
) -> None:
    """A Role and its RoleBinding to service account ``account`` (in ``account_namespace``)."""
    labels = dict(MANAGED_BY)
    k8s.KubeRole(
        scope, f"{id}Role", metadata=k8s.ObjectMeta(name=name, namespace=namespace, labels=labels), rules=list(rules)
    )
    k8s.KubeRoleBinding(
        scope,
        f"{id}RoleBinding",
        metadata=k8s.ObjectMeta(name=name, namespace=namespace, labels=labels),
        role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
        subjects=[k8s.Subject(kind="ServiceAccount", name=account, namespace=account_namespace)],
    )


def cluster_role(
    scope: Construct, id: str, *, name: str, account: str, namespace: str, rules: Sequence[k8s.PolicyRule]
) -> None:
    """A ClusterRole and its binding; cluster-scoped, so the chart's namespace is taken off them."""
    labels = dict(MANAGED_BY)
    objects = [
        k8s.KubeClusterRole(
            scope, f"{id}ClusterRole", metadata=k8s.ObjectMeta(name=name, labels=labels), rules=list(rules)
        ),
        k8s.KubeClusterRoleBinding(
            scope,
            f"{id}ClusterRoleBinding",
            metadata=k8s.ObjectMeta(name=name, labels=labels),
            role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=name),
            subjects=[k8s.Subject(kind="ServiceAccount", name=account, namespace=namespace)],
        ),
    ]
    if cdk8s.Chart.of(scope).namespace:
        for obj in objects:
            obj.add_json_patch(cdk8s.JsonPatch.remove("/metadata/namespace"))
