"""Flux probes: each Kustomization Ready at the commit that holds its dist/ folder, and the SOPS key Secret.

A Kustomization's ``status.lastAppliedRevision`` is ``<branch>@sha1:<commit>`` (fluxcd/kustomize-controller
api/v1/kustomization_types.go@v1.9.4 L355-357, the source artifact's revision); its ``Ready``
condition says whether the last apply worked. The folder is the same at two commits when git gives
the same tree for it, so a later commit that did not touch ``dist/`` leaves the check green.
"""

from __future__ import annotations

import re

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster, condition
from homelab_ai.ops.report import Finding, fail, ok, warn

_SHA = re.compile(r"(?:sha1:|sha256:|/)?([0-9a-f]{40}|[0-9a-f]{64})$")


def revision_commit(revision: str) -> str | None:
    """The commit of a Flux revision: ``main@sha1:abc…`` (Flux 2.x), or ``main/abc…`` (older)."""
    match = _SHA.search(revision or "")
    return match.group(1) if match else None


def flux_ready(e: Expectation, cluster: Cluster) -> Finding:
    namespace, name, path = e.data["namespace"], e.data["name"], e.data["path"]
    obj = cluster.find("kustomizations.kustomize.toolkit.fluxcd.io", name, namespace=namespace)
    if obj is None:
        return fail(
            e,
            f"no Kustomization {namespace}/{name}: Flux was not pointed at the chart's Flux folder",
            fix="see 'Deploying with Flux' in the docs: `flux create kustomization homelab-ai ... --export`, "
            "commit it beside your Flux config",
        )
    ready = condition(obj, "Ready")
    status = obj.get("status") or {}
    applied = status.get("lastAppliedRevision", "")
    if not ready or ready.get("status") != "True":
        why = f"{ready.get('reason', '?')}: {ready.get('message', '')}" if ready else "no Ready condition yet"
        return fail(e, f"not Ready ({why})", f"last applied {applied or 'nothing'}")
    commit = revision_commit(applied)
    head = cluster.git("rev-parse", "HEAD")
    if head is None:
        return warn(
            e,
            f"Ready, applied {applied}",
            f"cannot compare with {path}: {cluster.repo} is not a git repository",
            fix="run the doctor from the repo that Flux deploys (or pass --repo)",
        )
    last_change = cluster.git("log", "-1", "--format=%H", "HEAD", "--", path) or "?"
    head_tree = cluster.git("rev-parse", f"HEAD:{path}")
    applied_tree = cluster.git("rev-parse", f"{commit}:{path}") if commit else None
    where = f"HEAD {head[:8]}, {path} last changed in {last_change[:8]}"
    if applied_tree is None:
        return warn(
            e,
            f"Ready, applied {applied}: a commit this clone does not have ({where})",
            fix="`git fetch`, then run the doctor again",
        )
    dirty = cluster.git("status", "--porcelain", "--", path)
    if applied_tree != head_tree:
        return warn(
            e,
            f"Ready, but applied {commit[:8] if commit else applied}; {path} has changed since ({where})",
            fix=f"`git push`, then `flux reconcile kustomization {name} -n {namespace} --with-source`",
        )
    if dirty:
        return warn(
            e,
            f"Ready at {commit[:8] if commit else applied}, the same {path} as HEAD; but it has uncommitted changes",
            fix=f"`make synth`, commit and push {path}",
        )
    return ok(e, f"Ready, applied {commit[:8] if commit else applied}: the same {path} as {where}")


def sops_age(e: Expectation, cluster: Cluster) -> Finding:
    """The Secret exists with an ``*.agekey`` entry; its values are dropped as soon as they are read."""
    namespace, name = e.data["namespace"], e.data["name"]
    try:
        secret = cluster.kubectl.get("secret", name, namespace=namespace)
    except Exception as exc:  # KubectlError; never let a Secret reach the cache or a message
        if getattr(exc, "not_found", False):
            return fail(e, f"no Secret {namespace}/{name}: Flux cannot decrypt the SOPS secrets")
        raise
    keys = sorted(secret.get("data") or {})
    del secret
    age_keys = [k for k in keys if k.endswith(".agekey")]
    if not age_keys:
        return fail(e, f"no *.agekey entry (entries: {', '.join(keys) or 'none'})")
    return ok(e, f"entries: {', '.join(keys)}")


PROBES = {"flux-ready": flux_ready, "sops-age": sops_age}
