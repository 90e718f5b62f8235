"""`homelab-ai budget`: the VRAM table on the terminal, non-zero on an error verdict."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_cli_in_process

OVERBOOKED_APP = """
import cdk8s
from homelab_ai import GpuTimeSlicedApp, GpuTimeSlicedAppProps, SharedGpu, SharedGpuProps
from tests.factories import app_props, charts, vram


def build():
    app, infra, ai = charts()
    gpu = SharedGpu(infra, "Gpu", SharedGpuProps(card="Tiny GPU", vram_gib=8, replicas=4))
    GpuTimeSlicedApp(ai, "Big", GpuTimeSlicedAppProps(app=app_props("big"), gpu=gpu, vram=vram(0, 8, 12)))
    return app, {"infrastructure": "infrastructure", "ai": "ai"}
"""


def _run(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """`homelab-ai ARGS` (in this process: tests/helpers.py), with ``pythonpath`` importable."""
    return run_cli_in_process(cwd, *args, python_path=[pythonpath] if pythonpath else [])


@pytest.mark.stack
def test_budget_prints_the_spec_table_and_the_pair_the_arbiter_serializes_and_exits_zero(repo_root):
    result = _run("budget", cwd=repo_root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "GPU NVIDIA RTX 4000 SFF: 24 GiB VRAM, 4 time-slicing slices"
    assert any(line.split()[:3] == ["ollama", "0", "GiB"] and "8-16 GiB" in line for line in lines)
    assert any(line.startswith("stable-diffusion") and "8-12 GiB" in line for line in lines)
    assert any(line.startswith("total") and "16-28 GiB" in line for line in lines)
    [note] = [line for line in lines if line.startswith("note: VRAM over-booked")]
    assert "the VRAM arbiter 'vram-arbiter' serializes ollama + stable-diffusion" in note
    assert not [line for line in lines if line.startswith("warning: VRAM over-booked")]


@pytest.mark.stack
def test_budget_strict_passes_when_the_arbiter_serializes_the_over_booked_pair(repo_root):
    assert _run("budget", "--strict", cwd=repo_root).returncode == 0


@pytest.mark.stack
def test_budget_markdown_is_the_docs_table(repo_root):
    result = _run("budget", "--markdown", cwd=repo_root)
    assert result.returncode == 0, result.stderr
    assert "| App | Idle | Active | Unloads when idle |" in result.stdout
    assert "- **Note**: VRAM over-booked" in result.stdout


def test_budget_exits_non_zero_on_an_error_verdict(repo_root, tmp_path):
    (tmp_path / "overbooked.py").write_text(OVERBOOKED_APP)
    result = _run("--app", "overbooked:build", "budget", cwd=repo_root, pythonpath=tmp_path)
    assert result.returncode == 1
    assert "error: big: max active VRAM 12 GiB exceeds the card 'Tiny GPU' (8 GiB) by 4 GiB" in result.stdout
