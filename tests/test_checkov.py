"""checkov on the synthesized manifests: 0 failed checks, and every skip is written down and still needed.

checkov runs twice on a fresh synth (once per session): with the repo's .checkov.yaml, as
`checkov -d dist --framework kubernetes` does from the repo root, and with no skips at all. Each
skip in .checkov.yaml carries one line of reason whose first words name the objects it is for.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tools import require_tool

# The slow tier (`make test-fast` leaves it out): runs checkov twice.
pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG = REPO_ROOT / ".checkov.yaml"
SKIP_LINE = re.compile(r"^\s*-\s*(?P<check>CKV2?_K8S_\d+)\s*#\s*(?P<scope>[^:]+):\s*(?P<reason>\S.{15,})$")


def _start_checkov(dist: Path, cwd: Path, *args: str) -> subprocess.Popen:
    command = [
        require_tool("checkov"),
        "-d",
        str(dist),
        "--framework",
        "kubernetes",
        "--skip-download",
        "--output",
        "json",
        *args,
    ]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode in (0, 1), stderr[-3000:]
    report = json.loads(stdout)
    reports = report if isinstance(report, list) else [report]
    (kubernetes,) = [r for r in reports if r.get("check_type") == "kubernetes"]
    return kubernetes


def _skips() -> dict[str, tuple[str, ...]]:
    """check id -> names of the objects its reason line says it is for ("all" for every object)."""
    skips: dict[str, tuple[str, ...]] = {}
    in_list = False
    for line in CONFIG.read_text().splitlines():
        if line.startswith("skip-check:"):
            in_list = True
            continue
        if in_list and line.startswith("  -"):
            match = SKIP_LINE.match(line)
            assert match, f".checkov.yaml: skip without '# <objects>: <reason>' line: {line!r}"
            skips[match["check"]] = tuple(s.strip() for s in match["scope"].split(","))
        elif in_list and line.strip() and not line.startswith(" "):
            in_list = False
    return skips


def _failed(report: dict) -> list[tuple[str, str]]:
    return sorted((c["check_id"], c["resource"]) for c in report["results"]["failed_checks"])


def _covers(scope: tuple[str, ...], resource: str) -> bool:
    # A name also covers its "<name>-<8 hex>" Jobs (a new hash per image or model list).
    return "all" in scope or any(re.search(rf"\.{re.escape(name)}(-[0-9a-f]{{8}})?(\.|$)", resource) for name in scope)


def _only_under(report: dict, root: Path) -> dict:
    """The part of a report about the files under ``root`` (one run may scan several trees)."""
    results = {
        kind: [c for c in report["results"][kind] if Path(c["file_abs_path"]).is_relative_to(root)]
        for kind in ("passed_checks", "failed_checks")
    }
    return {**report, "results": {**report["results"], **results}}


@pytest.fixture(scope="session")
def checkov_runs(homelab_dist, tmp_path_factory):
    """Both runs at once (each is a few seconds of one core); the run without skips also scans the example
    repo's dist/ (examples/by_name_with_sign_in.py): one checkov start for both trees."""
    from examples.by_name_with_sign_in import build
    from homelab_ai.synth.dist import render, write_atomically
    from tests.example_charts import with_demo_secrets

    scan = tmp_path_factory.mktemp("checkov")
    shutil.copytree(homelab_dist, scan / "homelab")
    app, folders = with_demo_secrets(build, tmp_path_factory.mktemp("by-name"))
    write_atomically(render(app, folders), scan / "by-name")
    with_config = _start_checkov(homelab_dist, REPO_ROOT, "--config-file", str(CONFIG))
    without_skips = _start_checkov(scan, scan)
    both = _report(without_skips)
    return _report(with_config), _only_under(both, scan / "homelab"), _only_under(both, scan / "by-name")


def test_checkov_reports_zero_failed_checks(checkov_runs):
    with_config, _, _ = checkov_runs
    assert _failed(with_config) == []
    assert with_config["summary"]["passed"] > 0
    assert with_config["summary"]["parsing_errors"] == 0


def test_every_failure_is_skipped_for_the_objects_its_reason_names(checkov_runs):
    _, without_skips, _ = checkov_runs
    skips = _skips()
    unexplained = [(check, res) for check, res in _failed(without_skips) if not _covers(skips.get(check, ()), res)]
    assert unexplained == []


def test_no_skip_outlives_its_reason(checkov_runs):
    _, without_skips, _ = checkov_runs
    still_failing = {check for check, _ in _failed(without_skips)}
    assert set(_skips()) - still_failing == set()


def test_the_by_name_example_fails_nothing_checkov_yaml_does_not_skip_for_those_objects(checkov_runs):
    _, _, example = checkov_runs
    assert example["summary"]["parsing_errors"] == 0
    assert {c["resource"] for c in example["results"]["passed_checks"]} >= {
        "Deployment.ai.open-webui",
        "Deployment.ai.stable-diffusion-sign-in",
    }
    skips = _skips()
    assert [(c, r) for c, r in _failed(example) if not _covers(skips.get(c, ()), r)] == []


def test_skip_file_has_one_reason_line_per_skip():
    skips = _skips()
    assert skips, ".checkov.yaml lists no skip"
    text = CONFIG.read_text()
    for check in skips:
        assert text.count(check) == 1, f"{check} listed more than once"


def test_root_privilege_and_capability_checks_are_never_skipped():
    """Root (CKV_K8S_23), privileged (CKV_K8S_16), capabilities (CKV_K8S_37) are never skipped."""
    assert {"CKV_K8S_23", "CKV_K8S_16", "CKV_K8S_37", "CKV_K8S_20", "CKV_K8S_28"} & set(_skips()) == set()
