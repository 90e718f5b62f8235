"""Operator docs generated from the chart model, so they say what dist/ deploys and never drift.

``render_docs`` walks the construct tree and writes one page per namespace that holds workloads,
``docs/<namespace>-namespace.md``. A page is a list of sections, each a small function
``(Page) -> str | None`` in a module of its own here (``None`` leaves the section out), so a
section can be swapped or added without touching the others. No timestamps: the same chart gives
the same bytes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import cdk8s

from homelab_ai.base.errors import SynthError
from homelab_ai.synth.dist import RenderedFile, collect_problems
from homelab_ai.synth.docs.access import access_section
from homelab_ai.synth.docs.arbiter import arbiter_section
from homelab_ai.synth.docs.deploy import deploy_section, first_time_setup_section
from homelab_ai.synth.docs.gpu import gpu_section
from homelab_ai.synth.docs.network import network_section
from homelab_ai.synth.docs.page import GENERATED_MARKER, DocsModel, Page, Section
from homelab_ai.synth.docs.recovery import recovery_section
from homelab_ai.synth.docs.secrets import secrets_section
from homelab_ai.synth.docs.services import api_endpoints_section, overview_section, services_section
from homelab_ai.synth.docs.storage import storage_section
from homelab_ai.synth.docs.troubleshooting import troubleshooting_section
from homelab_ai.synth.docs.upstream import upstream_section

__all__ = [
    "GENERATED_MARKER",
    "SECTIONS",
    "Page",
    "Section",
    "is_generated",
    "render_docs",
    "render_page",
    "write_docs",
]


SECTIONS: tuple[Section, ...] = (
    overview_section,
    services_section,
    access_section,
    gpu_section,
    arbiter_section,
    network_section,
    storage_section,
    recovery_section,
    secrets_section,
    upstream_section,
    deploy_section,
    first_time_setup_section,
    api_endpoints_section,
    troubleshooting_section,
)


def render_page(page: Page, sections: Sequence[Section] = SECTIONS) -> str:
    header = f"{GENERATED_MARKER} from `{page.model.app_spec}`: do not edit; change the chart and run `make synth`. -->"
    body = [s for s in (section(page) for section in sections) if s]
    return "\n\n".join([header, f"# `{page.namespace}` namespace", *body]) + "\n"


def render_docs(
    app: cdk8s.App,
    folders: Mapping[str, str],
    *,
    project_root: Path,
    app_spec: str,
    sections: Sequence[Section] = SECTIONS,
) -> list[RenderedFile]:
    """One page per namespace with workloads; refuses (like the synth) when the chart is invalid."""
    problems = collect_problems(app)
    if problems:
        raise SynthError(problems)
    model = DocsModel.of(app, folders, project_root, app_spec)
    pages = [Page(model, namespace) for namespace in model.namespaces()]
    return [RenderedFile(page.file_name, render_page(page, sections).encode()) for page in pages]


def is_generated(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(GENERATED_MARKER)).decode(errors="replace") == GENERATED_MARKER
    except OSError:
        return False


def write_docs(files: list[RenderedFile], outdir: Path) -> list[Path]:
    """Write the pages into ``outdir`` (each replaced atomically), remove generated pages no longer made.

    Files without the generated marker (hand-written guides) are left alone. Returns removed paths.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    for item in files:
        target = outdir / item.path
        handle, staging = tempfile.mkstemp(prefix=f".{target.name}.", dir=outdir)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(item.content)
            os.chmod(staging, 0o644)
            os.replace(staging, target)
        finally:
            if os.path.exists(staging):
                os.unlink(staging)
    wanted = {item.path for item in files}
    removed = [p for p in sorted(outdir.glob("*.md")) if p.name not in wanted and is_generated(p)]
    for path in removed:
        path.unlink()
    return removed
