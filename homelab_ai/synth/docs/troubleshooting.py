"""When something is wrong: every check of `homelab-ai doctor`, what it looks like when it fails, and the fix.

Generated from the same expectations the doctor probes (homelab_ai.synth.expectations), so the page
lists exactly what the doctor checks for this chart.
"""

from __future__ import annotations

from homelab_ai.synth.docs.page import Page, code, shell, table
from homelab_ai.synth.expectations import check_kinds, expectations


def troubleshooting_section(page: Page) -> str | None:
    items = expectations(page.model.app)
    if not items:
        return None
    parts = [
        "## When something is wrong",
        "`homelab-ai doctor` compares the live cluster with this chart. It only reads: `kubectl get` with your "
        "kubeconfig's current context (objects as JSON, and GETs through the API server's Service proxy) and `git` "
        "in this repo. Each line says ok, warn or fail, what the cluster showed, and the fix; it exits 1 when a "
        "check fails, and `--json` prints the same for scripts.",
        shell("homelab-ai doctor", "homelab-ai doctor --context my-cluster --json"),
        "What it checks, in its order:",
    ]
    for kind in check_kinds(items):
        rows = [(e.subject, e.expect, e.fix) for e in items if e.kind.id == kind.id]
        parts += [
            f"### {kind.title} ({code(kind.id)})",
            f"**When it is wrong:** {kind.symptom} **The doctor reads** {kind.looks_at}",
            table(("Subject", "Healthy", "Fix"), rows),
        ]
    return "\n\n".join(parts)
