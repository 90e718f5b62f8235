"""App probes: Jobs that must have succeeded, Ollama's model list, each app's health endpoint.

Jobs: ``status.succeeded`` and the ``Failed`` condition (k8s.io/api batch/v1 JobStatus). Apps are
reached through the API server's Service proxy (``GET /api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH``,
a read: ``kubectl get --raw``); Ollama's ``GET /api/tags`` answers ``{"models": [{"name": ...}]}``
(ollama/ollama api/types.go ListResponse, see /tmp/research/upstream.md §2.3).
"""

from __future__ import annotations

import json

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster, condition
from homelab_ai.ops.kubectl import KubectlError
from homelab_ai.ops.report import Finding, fail, ok, warn
from homelab_ai.services.ollama.ollama_pull import normalize

# What the API server answers when it cannot open a connection to the Service's pods.
_UNREACHABLE = "error trying to reach service"


def proxy_path(namespace: str, service: str, port: int, path: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}"


def unreachable_fix(e: Expectation, message: str) -> str | None:
    """The API server reached no pod: none is ready, or a NetworkPolicy keeps the API server out."""
    if _UNREACHABLE not in message and "no endpoints available" not in message:
        return None
    namespace, service = e.data["namespace"], e.data["service"]
    return (
        f"`kubectl -n {namespace} get pods,endpoints -l app.kubernetes.io/name={service}`; if the pods are ready, "
        "the app's NetworkPolicy does not admit the API server (apps that admit only their clients, like Ollama, "
        "are reached from the API server's node address)"
    )


def job_succeeded(e: Expectation, cluster: Cluster) -> Finding:
    namespace, name = e.data["namespace"], e.data["job"]
    job = cluster.find("job", name, namespace=namespace)
    if job is None:
        return fail(e, f"no Job {namespace}/{name}: Flux has not applied the current chart")
    status = job.get("status") or {}
    failed = condition(job, "Failed")
    if status.get("succeeded"):
        return ok(e, f"succeeded at {status.get('completionTime', '?')}")
    if failed and failed.get("status") == "True":
        return fail(e, f"failed: {failed.get('reason', '?')}: {failed.get('message', '')}".rstrip(": "))
    return warn(e, f"still running ({status.get('active', 0)} active, {status.get('failed', 0)} failed attempt(s))")


def ollama_models(e: Expectation, cluster: Cluster) -> Finding:
    path = proxy_path(e.data["namespace"], e.data["service"], int(e.data["port"]), "/api/tags")
    try:
        listed = json.loads(cluster.raw(path)).get("models") or []
    except KubectlError as exc:
        return fail(e, f"GET /api/tags failed: {exc.message}", fix=unreachable_fix(e, exc.message))
    except (ValueError, AttributeError):
        return fail(e, "GET /api/tags did not answer JSON")
    present = {normalize(str(m.get("name") or m.get("model") or "")) for m in listed}
    missing = [m for m in e.data["models"] if normalize(m) not in present]
    names = ", ".join(sorted(str(m.get("name")) for m in listed)) or "none"
    if missing:
        return fail(e, f"missing {', '.join(missing)} (Ollama lists: {names})")
    return ok(e, f"lists {names}")


def app_health(e: Expectation, cluster: Cluster) -> Finding:
    path = e.data["path"]
    try:
        body = cluster.raw(proxy_path(e.data["namespace"], e.data["service"], int(e.data["port"]), path))
    except KubectlError as exc:
        return fail(e, f"GET {path} failed: {exc.message}", fix=unreachable_fix(e, exc.message))
    answer = " ".join(body.split())
    return ok(e, f"GET {path}: {answer[:80] or '(empty body)'}")


PROBES = {
    "pre-upgrade-snapshot": job_succeeded,
    "model-pull": job_succeeded,
    "ollama-models": ollama_models,
    "app-health": app_health,
}
