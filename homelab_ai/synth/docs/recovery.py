"""Restores and upgrades: getting a claim back from its backup, the restore drills, snapshots before upgrades."""

from __future__ import annotations

import cdk8s

from homelab_ai.cluster.flux_kustomization import FluxKustomization
from homelab_ai.cluster.longhorn.pre_upgrade_snapshot import PreUpgradeSnapshot
from homelab_ai.cluster.longhorn.restore_drill import RestoreDrill
from homelab_ai.synth.docs.page import Page, code, namespace_of, shell, table
from homelab_ai.synth.restore import backed_up_claims


def _flux_of(construct: object, flux: tuple[FluxKustomization, ...]) -> FluxKustomization | None:
    chart = cdk8s.Chart.of(construct)  # type: ignore[arg-type]
    return next((f for f in flux if any(c is chart for c in f.props.charts)), None)


def _restore(page: Page) -> list[str]:
    volumes = [v for v in page.volumes if v.props.backup_groups]
    if not volumes:
        return []
    owner = _flux_of(volumes[0], page.model.flux)
    suspend = (
        [f"flux suspend kustomization {owner.name} -n {owner.namespace}"]
        if owner
        else ["# stop whatever applies the chart, so it does not create the claim empty"]
    )
    resume = [f"flux resume kustomization {owner.name} -n {owner.namespace}"] if owner else []
    parts = [
        "### Restoring a claim from its backup",
        "On a rebuilt cluster, before the apps start: install Longhorn and set the same backup target, so "
        "Longhorn lists the old backups (`kubectl -n longhorn-system get backups.longhorn.io`). Then, for each "
        "claim, `homelab-ai restore` prints a Longhorn Volume restored from the claim's newest Completed backup "
        "(`spec.fromBackup`), its PersistentVolume, and the chart's claim bound to it; Flux then finds the claim "
        "bound and leaves the data alone. `--backup NAME` picks an older backup.",
    ]
    commands = list(suspend)
    for target in backed_up_claims(page.model.app):
        if target.namespace != page.namespace:
            continue
        commands += [
            f"homelab-ai restore {target.claim} --namespace {target.namespace} > restore-{target.claim}.yaml",
            f"kubectl apply -f restore-{target.claim}.yaml",
            f"kubectl -n longhorn-system wait volumes.longhorn.io/{target.volume_name} "
            "--for=jsonpath='{.status.restoreRequired}'=false --timeout=6h",
        ]
    parts.append(shell(*commands, *resume))
    parts.append(
        "If Flux already created the claim empty: scale its app to 0, delete the claim and its volume (the "
        "`Retain` class keeps the volume until you delete it in Longhorn), then run the steps above."
    )
    return parts


def _drills(page: Page) -> list[str]:
    drills = [d for d in page.of_kind(RestoreDrill)]
    if not drills:
        return []
    rows = [
        (d.name, d.claim_name, code(d.schedule), d.props.check.describe(), code(d.result_config_map)) for d in drills
    ]
    first = drills[0]
    return [
        "### Restore drills",
        "A CronJob per claim restores its newest backup into a scratch claim, checks it, records the outcome in "
        "a ConfigMap (which `homelab-ai doctor` reads) and deletes the scratch claim and its volume:",
        table(("Drill", "Claim", "Schedule", "Check", "Result"), rows),
        "Run one now and read its result:",
        shell(
            f"kubectl -n {page.namespace} create job --from=cronjob/{first.name} {first.name}-now",
            f"kubectl -n {page.namespace} logs -f job/{first.name}-now",
            f"kubectl -n {page.namespace} get configmap {first.result_config_map} "
            "-o jsonpath='{.data.result\\.json}'",
        ),
        "Its rights are listed object by object in its Role (the scratch claim, the check Job, the result "
        "ConfigMap), a Role reading Longhorn's Backups, and a ClusterRole that creates the one-off StorageClass "
        "whose `fromBackup` names the backup and deletes only that class.",
    ]


def _upgrades(page: Page) -> list[str]:
    snapshots = [
        s
        for s in page.model.app.node.find_all()
        if isinstance(s, PreUpgradeSnapshot) and any(namespace_of(v) == page.namespace for v in s.props.volumes)
    ]
    if not snapshots:
        return []
    parts = ["### Upgrades that can be undone"]
    for snap in snapshots:
        owner = _flux_of(snap, page.model.flux)
        dependants = [f for f in page.model.flux if owner is not None and owner in f.props.depends_on]
        apps = ", ".join(f.name for f in dependants) or "the apps"
        users = [w for w in page.workloads if any(m.volume is v for m in w.props.mounts for v in snap.props.volumes)]
        scale = [
            f"kubectl -n {namespace_of(w)} scale {w.props.kind.value.lower()}/{w.name} --replicas=0" for w in users
        ]
        suspend = [f"flux suspend kustomization {f.name} -n {f.namespace}" for f in dependants]
        resume = [f"flux resume kustomization {f.name} -n {f.namespace}" for f in dependants]
        rows = [(claim, code(name)) for claim, name in zip(snap.claims, snap.snapshots, strict=True)]
        parts += [
            f"Before `{snap.image.reference}` is deployed, Job `{snap.job_name}` (in `{snap.namespace}`) takes "
            f"a Longhorn snapshot of each claim; Flux applies {apps} only once it has succeeded"
            + (f" (`{owner.name}` waits for it and {apps} depends on it)" if owner else "")
            + ". A new image is a new Job, so every bump is protected:",
            table(("Claim", "Snapshot before this image"), rows),
            "To go back to the previous image and its data:",
            shell(
                *(suspend or ["# stop whatever applies the apps"]),
                *scale,
                *(
                    f"kubectl -n {namespace_of(v)} get pvc {v.claim_name} -o jsonpath='{{.spec.volumeName}}'"
                    "  # its Longhorn volume"
                    for v in snap.props.volumes
                ),
                "# Longhorn UI > Volumes > that volume > Attach, with Maintenance mode",
                "# > Snapshots and Backups: the snapshot above > Revert, then Detach",
                "git revert <the commit that bumped the image> && git push",
                *(resume or ["# apply the apps again"]),
            ),
            "Reverting needs the volume detached and attached in maintenance mode (Longhorn docs 1.12.1, "
            "concepts.md §2.2 and advanced-resources/data-recovery/data-error.md). The snapshots stay until you "
            f"delete them: `kubectl -n {snap.namespace} get snapshots.longhorn.io -l homelab-ai/purpose=pre-upgrade`.",
        ]
    return parts


def recovery_section(page: Page) -> str | None:
    parts = _restore(page) + _drills(page) + _upgrades(page)
    if not parts:
        return None
    return "\n\n".join(["## Restores and upgrades", *parts])
