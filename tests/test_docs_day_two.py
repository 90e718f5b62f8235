"""The operator page's day-two sections: when something is wrong (from the doctor's checks), restores, upgrades."""

from __future__ import annotations

import re

import pytest

from homelab_ai.synth.docs import render_docs
from homelab_ai.synth.expectations import check_kinds, expectations

# Renders a whole stack (an integration test): `make test` runs it, the unit tier leaves it out.
pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def built():
    from apps.homelab import build

    return build()


@pytest.fixture(scope="module")
def page(built, repo_root) -> str:
    app, folders = built
    (item,) = render_docs(app, folders, project_root=repo_root, app_spec="apps.homelab:build")
    return item.content.decode()


def section(page: str, title: str) -> str:
    start = page.index(f"## {title}\n")
    end = page.find("\n## ", start + 1)
    return page[start : end if end != -1 else len(page)]


def test_when_something_is_wrong_has_a_subsection_per_doctor_check(built, page):
    text = section(page, "When something is wrong")
    kinds = check_kinds(expectations(built[0]))
    headings = re.findall(r"^### .* \(`([a-z-]+)`\)$", text, flags=re.M)
    assert headings == [k.id for k in kinds]
    assert len(headings) == 16


def test_when_something_is_wrong_lists_every_subject_with_its_fix(built, page):
    text = section(page, "When something is wrong")
    for item in expectations(built[0]):
        assert f"| {item.subject} | {item.expect} | {item.fix.replace('|', chr(92) + '|')} |" in text


def test_when_something_is_wrong_says_how_to_run_the_doctor(page):
    text = section(page, "When something is wrong")
    assert "homelab-ai doctor --context my-cluster --json" in text
    assert "it exits 1 when a check fails" in text


def test_restore_steps_suspend_flux_restore_each_claim_and_resume(page):
    text = section(page, "Restores and upgrades")
    steps = [
        "flux suspend kustomization homelab-ai-apps -n flux-system",
        "homelab-ai restore open-webui-data --namespace ai > restore-open-webui-data.yaml",
        "kubectl -n longhorn-system wait volumes.longhorn.io/ai-open-webui-data",
        "homelab-ai restore sd-data --namespace ai > restore-sd-data.yaml",
        "flux resume kustomization homelab-ai-apps -n flux-system",
    ]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions)


def test_drills_table_names_schedule_check_and_result(page):
    text = section(page, "Restores and upgrades")
    assert (
        "| restore-drill-open-webui-data | open-webui-data | `30 4 * * 0` | SQLite `PRAGMA integrity_check` on "
        "`webui.db` | `restore-drill-open-webui-data-result` |" in text
    )


def test_rollback_scales_the_app_down_reverts_the_snapshot_and_the_image(page):
    text = section(page, "Restores and upgrades")
    rollback = text[text.index("To go back to the previous image") :]
    order = [
        "flux suspend kustomization homelab-ai-apps -n flux-system",
        "kubectl -n ai scale deployment/open-webui --replicas=0",
        "Maintenance mode",
        "Revert",
        "git revert",
        "flux resume kustomization homelab-ai-apps -n flux-system",
    ]
    positions = [rollback.index(step) for step in order]
    assert positions == sorted(positions)
    assert re.search(r"\| open-webui-data \| `open-webui-data-pre-[0-9a-f]{8}` \|", text)
