"""Synth output: validated first, written all at once, deterministic, reproducible from a clone."""

from __future__ import annotations

import filecmp
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from apps.homelab import build
from homelab_ai.base.errors import OutputError, SynthError
from homelab_ai.synth.dist import synthesize


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_two_synths_give_identical_bytes(tmp_path):
    synthesize(build, tmp_path / "a")
    synthesize(build, tmp_path / "b")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_committed_dist_is_what_the_code_produces(repo_root, tmp_path):
    synthesize(build, tmp_path / "dist")
    comparison = filecmp.dircmp(repo_root / "dist", tmp_path / "dist")
    assert _tree(repo_root / "dist") == _tree(tmp_path / "dist"), (
        f"dist/ is stale (run `make synth`): {comparison.diff_files} {comparison.left_only} {comparison.right_only}"
    )


def test_failed_synth_leaves_existing_dist_exactly_as_it_was(tmp_path):
    out = tmp_path / "dist"
    synthesize(build, out)
    (out / "operator-notes.txt").write_text("mine")
    before = _tree(out)

    def broken_build():
        app, folders = build()
        folders.pop("ai")  # a chart without a folder is a refusal, found after construction
        return app, folders

    with pytest.raises(SynthError, match="chart 'ai' has no output folder"):
        synthesize(broken_build, out)
    assert _tree(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dist.")]


def test_failed_construction_leaves_existing_dist_untouched(tmp_path):
    from homelab_ai import LoadBalancer

    out = tmp_path / "dist"
    synthesize(build, out)
    before = _tree(out)

    def bad_props():
        LoadBalancer(ip="10.10.2.300")
        raise AssertionError("unreachable")

    with pytest.raises(ValueError, match=r"LoadBalancer\.ip"):
        synthesize(bad_props, out)
    assert _tree(out) == before


def test_a_write_that_fails_half_way_leaves_existing_dist_exactly_as_it_was(tmp_path):
    """Rendering succeeded but writing broke after some files: the staging folder is dropped, dist/ kept."""
    from homelab_ai.synth.dist import RenderedFile, render, write_atomically

    out = tmp_path / "dist"
    synthesize(build, out)
    before = _tree(out)
    app, folders = build()
    files = render(app, folders)
    # A file where the next one needs a folder: the write fails after the first files are on disk.
    broken = [*files, RenderedFile("zz/clash", b"x"), RenderedFile("zz/clash/inside.yaml", b"y")]
    with pytest.raises(OutputError, match="nothing was changed"):
        write_atomically(broken, out)
    assert _tree(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dist.")]


def test_every_folder_has_a_kustomization_listing_its_files(tmp_path):
    import yaml

    synthesize(build, tmp_path / "dist")
    for folder in ("ai", "flux", "infrastructure"):
        listed = yaml.safe_load((tmp_path / "dist" / folder / "kustomization.yaml").read_text())["resources"]
        on_disk = sorted(p.name for p in (tmp_path / "dist" / folder).iterdir() if p.name != "kustomization.yaml")
        assert listed == on_disk


def test_main_reports_refusal_and_exits_non_zero(repo_root, tmp_path):
    """The CLI path prints the error (naming the field) and does not create the output."""
    env_code = (
        "import sys, apps.main as m, apps.homelab as h;"
        "from homelab_ai import LoadBalancer;"
        "h.build = lambda: LoadBalancer(ip='bad');"
        "m.build = h.build;"
        f"sys.exit(m.main([{str(tmp_path / 'out')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", env_code], cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 1
    assert "LoadBalancer.ip: 'bad' is not an IPv4 address" in result.stderr
    assert not (tmp_path / "out").exists()
