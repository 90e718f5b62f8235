"""The docs' "Upstream releases and owned settings": the pins of dist/, the open gap, what the chart owns."""

from __future__ import annotations

import pytest

from apps.homelab import build
from homelab_ai.synth.docs import render_docs
from tests.contract_checks import containers, dist_objects
from tests.test_docs import PAGE, _section, _table

# Renders a whole stack (an integration test): `make test` runs it, the unit tier leaves it out.
pytestmark = pytest.mark.stack

TITLE = "Upstream releases and owned settings"


@pytest.fixture(scope="module")
def section(repo_root) -> str:
    app, folders = build()
    files = render_docs(app, folders, project_root=repo_root, app_spec="apps.homelab:build")
    page = next(f.content.decode() for f in files if f.path == PAGE)
    return _section(page, TITLE)


def test_the_section_lists_every_image_and_the_chart_version_dist_uses(section):
    pinned = {row["Pinned"].strip("`") for row in _table(section, "App")}
    objects = dist_objects()
    chart = next(o for o in objects if o["kind"] == "HelmRelease")["spec"]["chart"]["spec"]["version"]
    assert pinned == {c["image"] for _, _, c in containers(objects)} | {chart}


def test_the_section_names_the_automatic1111_image_as_not_yet_immutable(section):
    assert "Not yet an immutable pin:" in section
    assert "- **AUTOMATIC1111 (Stable Diffusion web UI)**: universonic/stable-diffusion-webui publishes" in section


def test_the_section_lists_the_settings_open_webui_owns_and_that_admin_changes_do_not_survive(section):
    owned = (
        "`WEBUI_SECRET_KEY`, `OLLAMA_BASE_URL`, `ENABLE_PERSISTENT_CONFIG`, `ENABLE_IMAGE_GENERATION`, "
        "`IMAGE_GENERATION_ENGINE`, `AUTOMATIC1111_BASE_URL`, `AUTOMATIC1111_API_AUTH`"
    )
    assert f"**open-webui** (Open WebUI) owns these settings through its environment: {owned}." in section
    assert (
        "Changes made in the admin page (to these settings and to every other one) last only until the pod restarts"
        in (section)
    )
    assert "`homelab-ai secrets init --rotate stable-diffusion-secret`" in section


def test_the_section_says_why_ollamas_context_length_is_pinned(section):
    assert "**ollama** (Ollama) runs with `OLLAMA_CONTEXT_LENGTH=4096`" in section


def test_the_section_says_a_rotated_secret_restarts_the_pods_that_read_it(section):
    assert "Each pod template carries `checksum/secret-<name>`" in section
