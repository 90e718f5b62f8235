"""Storage: claims, classes, and their snapshot and backup policy."""

from __future__ import annotations

from homelab_ai.synth.docs.page import (
    Page,
    backup_policy,
    code,
    table,
)


def storage_section(page: Page) -> str | None:
    if not page.volumes:
        return None
    rows = []
    for volume in page.volumes:
        users = [
            f"{w.name} at {code(m.path)}"
            for w in page.workloads
            for m in w.props.mounts
            if m.volume is volume and m.sub_path is None
        ]
        users += sorted(
            {
                f"{w.name} ({', '.join(code(m.path) for m in w.props.mounts if m.volume is volume)})"
                for w in page.workloads
                if any(m.volume is volume and m.sub_path is not None for m in w.props.mounts)
            }
        )
        rows.append(
            (
                volume.claim_name,
                f"{volume.props.size_gib}Gi",
                volume.props.storage_class,
                volume.props.access_mode.value,
                ", ".join(users) or "-",
                volume.props.purpose or "-",
                backup_policy(volume, page.model.recurring_jobs),
            )
        )
    return "## Storage\n\n" + table(("Claim", "Size", "Class", "Access", "Mounted by", "Holds", "Backup"), rows)
