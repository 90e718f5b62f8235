"""Synth output: validated first, written all at once, deterministic, reproducible from a clone."""

from __future__ import annotations

import filecmp
import hashlib
import shutil
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


def test_two_synths_give_identical_bytes(tmp_path, homelab_dist):
    synthesize(build, tmp_path / "again")
    assert _tree(tmp_path / "again") == _tree(homelab_dist)


@pytest.mark.golden
def test_committed_dist_is_what_the_code_produces(repo_root, homelab_dist):
    """Drift check (golden): committed dist/ equals a fresh synth; behaviour is held by the other tests."""
    comparison = filecmp.dircmp(repo_root / "dist", homelab_dist)
    assert _tree(repo_root / "dist") == _tree(homelab_dist), (
        f"dist/ is stale (run `make synth`): {comparison.diff_files} {comparison.left_only} {comparison.right_only}"
    )


def test_failed_synth_leaves_existing_dist_exactly_as_it_was(tmp_path, homelab_dist):
    out = tmp_path / "dist"
    shutil.copytree(homelab_dist, out)  # a dist/ from an earlier good synth
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


def test_failed_construction_leaves_existing_dist_untouched(tmp_path, homelab_dist):
    from homelab_ai import LoadBalancer

    out = tmp_path / "dist"
    shutil.copytree(homelab_dist, out)
    before = _tree(out)

    def bad_props():
        LoadBalancer(ip="10.10.2.300")
        raise AssertionError("unreachable")

    with pytest.raises(ValueError, match=r"LoadBalancer\.ip"):
        synthesize(bad_props, out)
    assert _tree(out) == before


def test_a_write_that_fails_half_way_leaves_existing_dist_exactly_as_it_was(tmp_path, homelab_dist):
    """Rendering succeeded but writing broke after some files: the staging folder is dropped, dist/ kept."""
    from homelab_ai.synth.dist import RenderedFile, render, write_atomically

    out = tmp_path / "dist"
    shutil.copytree(homelab_dist, out)
    before = _tree(out)
    app, folders = build()
    files = render(app, folders)
    # A file where the next one needs a folder: the write fails after the first files are on disk.
    broken = [*files, RenderedFile("zz/clash", b"x"), RenderedFile("zz/clash/inside.yaml", b"y")]
    with pytest.raises(OutputError, match="nothing was changed"):
        write_atomically(broken, out)
    assert _tree(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dist.")]


def test_every_folder_has_a_kustomization_listing_its_files(homelab_dist):
    import yaml

    for folder in ("ai", "flux", "infrastructure"):
        listed = yaml.safe_load((homelab_dist / folder / "kustomization.yaml").read_text())["resources"]
        on_disk = sorted(p.name for p in (homelab_dist / folder).iterdir() if p.name != "kustomization.yaml")
        assert listed == on_disk


def test_main_reports_refusal_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    """apps/main.py (what `cdk8s synth` runs) prints the error naming the field and creates no output;
    tests/test_bad_input.py runs it as its own process."""
    import apps.main
    from homelab_ai import LoadBalancer

    monkeypatch.setattr(apps.main, "build", lambda: LoadBalancer(ip="bad"))
    assert apps.main.main([str(tmp_path / "out")]) == 1
    assert "LoadBalancer.ip: 'bad' is not an IPv4 address" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
