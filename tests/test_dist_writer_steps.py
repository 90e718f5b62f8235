"""The atomic dist/ writer (homelab_ai.synth.dist_writer) in this process, step by step: a crash or a
file-system error at any step leaves the old tree or the new one, complete, and the next run removes
what it left beside the output; two writers take turns; refusals name the path and the fix.

A crash is the writer's fault hook (HOMELAB_AI_FAULT=<step>) reaching ``os._exit``, which these tests
turn into an exception that no ``except OSError`` catches: no cleanup of the writer runs, as after a
power cut. tests/test_dist_faults.py kills real processes at the same steps (the end-to-end check);
these need no cdk8s and no process, so `make mutate` can tell which step a mutant breaks.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import io
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from homelab_ai.base.errors import OutputError
from homelab_ai.synth import dist_writer
from homelab_ai.synth.dist_writer import FAULT_ENV, FAULT_EXIT_CODE, MARKER, MARKER_TEXT, SWAP_ENV

OLD = {
    "ai/kustomization.yaml": b"resources: [old.yaml]\n",
    "ai/old.yaml": b"old: 1\n",
    "infra/ns.yaml": b"ns: 1\n",
    "longhorn/job.yaml": b"job: 1\n",
}
NEW = {
    "ai/kustomization.yaml": b"resources: [new.yaml]\n",
    "ai/new.yaml": b"new: " + b"x" * 70000 + b"\n",  # more than one write() may take at once on a pipe-sized buffer
    "ai/deep/er/file.yaml": b"deep: true\n",
}
STEPS_BEFORE_SWAP = ["locked", "staging-created", "file-written", "files-written", "synced"]


class Crashed(BaseException):
    """What the fault hook's ``os._exit`` raises here: not an OSError, so the writer cleans nothing up."""


def files(tree: dict[str, bytes]) -> list[SimpleNamespace]:
    return [SimpleNamespace(path=path, content=content) for path, content in tree.items()]


def written(tree: dict[str, bytes]) -> dict[str, bytes]:
    """What the output holds after writing ``tree``: its files and the marker."""
    return {**tree, MARKER: MARKER_TEXT}


def tree_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def beside(out: Path) -> list[str]:
    """Names in the output's parent other than the output."""
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


def leftover(out: Path, kind: str) -> Path:
    """The one staging (``new``) or old (``old``) folder beside ``out``: ``.<name>.<kind>-`` and 8 hex digits."""
    [path] = [out.parent / name for name in beside(out) if re.fullmatch(rf"\.{out.name}\.{kind}-[0-9a-f]{{8}}", name)]
    return path


@pytest.fixture
def old_dist(tmp_path: Path) -> Path:
    """dist/ as a previous run wrote it."""
    out = tmp_path / "dist"
    dist_writer.write_tree(files(OLD), out)
    assert tree_of(out) == written(OLD)
    return out


@pytest.fixture(autouse=True)
def _crashes_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fault from outside, and the writer's ``os._exit`` raises Crashed (the test process goes on)."""

    def exit_(code: int) -> None:
        raise Crashed(code)

    monkeypatch.setattr(os, "_exit", exit_)
    monkeypatch.delenv(FAULT_ENV, raising=False)
    monkeypatch.delenv(SWAP_ENV, raising=False)


@pytest.fixture
def crash(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Set the step at which the writer crashes."""
    return lambda step: monkeypatch.setenv(FAULT_ENV, step)


def crashed_write(out: Path, step: str, crash: Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    crash(step)
    with pytest.raises(Crashed) as caught:
        dist_writer.write_tree(files(NEW), out)
    assert caught.value.args == (FAULT_EXIT_CODE,)
    monkeypatch.delenv(FAULT_ENV)


# Writing ---------------------------------------------------------------------------------------------


def test_a_write_makes_the_files_and_the_marker_the_whole_output(tmp_path):
    out = tmp_path / "new" / "parents" / "dist"
    dist_writer.write_tree(files(NEW), out)
    assert tree_of(out) == written(NEW)
    assert beside(out) == []


def test_a_second_write_replaces_the_whole_tree_and_leaves_nothing_beside(old_dist):
    dist_writer.write_tree(files(NEW), old_dist)
    assert tree_of(old_dist) == written(NEW)
    assert beside(old_dist) == []


def test_files_are_readable_by_all_and_folders_are_open_to_all(tmp_path):
    """0644 and 0755 (with the usual umask 022): Flux, kustomize and other users read the tree."""
    previous = os.umask(0o022)
    try:
        dist_writer.write_tree(files(NEW), tmp_path / "dist")
    finally:
        os.umask(previous)
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "dist").rglob("*")}
    assert modes == {
        "dist/.homelab-ai-dist": 0o644,
        "dist/ai": 0o755,
        "dist/ai/kustomization.yaml": 0o644,
        "dist/ai/new.yaml": 0o644,
        "dist/ai/deep": 0o755,
        "dist/ai/deep/er": 0o755,
        "dist/ai/deep/er/file.yaml": 0o644,
    }
    assert stat.S_IMODE((tmp_path / "dist").stat().st_mode) == 0o755


def test_the_marker_is_comments_only():
    assert all(line.startswith(b"#") for line in MARKER_TEXT.splitlines())
    assert MARKER == ".homelab-ai-dist"


def test_a_relative_output_path_is_written_where_the_process_runs_and_named_in_full(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dist").write_text("notes")
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree(files(NEW), Path("dist"))
    assert caught.value.field == str(tmp_path / "dist")
    dist_writer.write_tree(files(NEW), Path("out"))
    assert tree_of(tmp_path / "out") == written(NEW)


def test_an_output_that_is_a_symlink_replaces_the_tree_it_points_to_and_keeps_the_link(tmp_path):
    real = tmp_path / "real" / "dist"
    dist_writer.write_tree(files(OLD), real)
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "dist"
    link.symlink_to(real)
    dist_writer.write_tree(files(NEW), link)
    assert link.is_symlink()
    assert tree_of(real) == written(NEW)
    assert beside(real) == []
    assert sorted(p.name for p in (tmp_path / "links").iterdir()) == ["dist"]


def test_an_output_under_a_symlinked_folder_is_inside_the_output_and_named_as_given(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    dist_writer.write_tree(files(NEW), tmp_path / "link" / "dist")
    assert tree_of(tmp_path / "real" / "dist") == written(NEW)
    (tmp_path / "real" / "notes").write_text("mine")
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree(files(NEW), tmp_path / "link" / "notes")
    assert caught.value.field == str(tmp_path / "link" / "notes")


@pytest.mark.parametrize("path", ["../escape.yaml", "ai/../../escape.yaml", "/tmp/escape.yaml"])
def test_a_file_path_outside_the_output_is_refused_and_nothing_changes(old_dist, path):
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree(files({"ai/a.yaml": b"a: 1\n", path: b"x: 1\n"}), old_dist)
    assert (caught.value.field, caught.value.problem, caught.value.fix) == (
        path,
        "points outside the output folder",
        "use a path relative to it",
    )
    assert tree_of(old_dist) == written(OLD)
    assert beside(old_dist) == []


def test_two_files_for_one_path_are_refused_and_nothing_changes(old_dist):
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree([*files(NEW), SimpleNamespace(path="ai/new.yaml", content=b"again\n")], old_dist)
    assert caught.value.problem.startswith("cannot be written: File exists (")
    assert tree_of(old_dist) == written(OLD)
    assert beside(old_dist) == []


# A crash at each step ----------------------------------------------------------------------------------


def test_a_crash_right_after_taking_the_lock_changes_nothing(old_dist, crash, monkeypatch):
    crashed_write(old_dist, "locked", crash, monkeypatch)
    assert tree_of(old_dist) == written(OLD)
    assert beside(old_dist) == []


def test_a_crash_after_creating_staging_leaves_an_empty_private_staging_folder(old_dist, crash, monkeypatch):
    crashed_write(old_dist, "staging-created", crash, monkeypatch)
    staging = leftover(old_dist, "new")
    assert tree_of(staging) == {}
    assert stat.S_IMODE(staging.stat().st_mode) == 0o700
    assert tree_of(old_dist) == written(OLD)


def test_a_crash_after_the_first_file_leaves_staging_with_that_file_only(old_dist, crash, monkeypatch):
    crashed_write(old_dist, "file-written", crash, monkeypatch)
    assert tree_of(leftover(old_dist, "new")) == {"ai/kustomization.yaml": NEW["ai/kustomization.yaml"]}
    assert tree_of(old_dist) == written(OLD)


def test_a_crash_after_the_files_leaves_every_file_and_the_marker_in_staging_not_yet_opened(
    old_dist, crash, monkeypatch
):
    crashed_write(old_dist, "files-written", crash, monkeypatch)
    staging = leftover(old_dist, "new")
    assert tree_of(staging) == written(NEW)
    assert stat.S_IMODE(staging.stat().st_mode) == 0o700
    assert tree_of(old_dist) == written(OLD)


def test_a_crash_after_syncing_leaves_the_complete_new_tree_in_staging(old_dist, crash, monkeypatch):
    crashed_write(old_dist, "synced", crash, monkeypatch)
    staging = leftover(old_dist, "new")
    assert tree_of(staging) == written(NEW)
    assert stat.S_IMODE(staging.stat().st_mode) == 0o755
    assert tree_of(old_dist) == written(OLD)
    assert beside(old_dist) == [staging.name]


def test_a_crash_right_after_the_exchange_has_the_new_tree_in_place_and_the_old_at_stagings_name(
    old_dist, crash, monkeypatch
):
    crashed_write(old_dist, "swapped", crash, monkeypatch)
    assert tree_of(old_dist) == written(NEW)
    assert tree_of(leftover(old_dist, "new")) == written(OLD)
    assert len(beside(old_dist)) == 1


def test_a_crash_while_removing_the_old_tree_leaves_the_new_tree_and_part_of_the_old(old_dist, crash, monkeypatch):
    crashed_write(old_dist, "old-half-removed", crash, monkeypatch)
    assert tree_of(old_dist) == written(NEW)
    # The old tree's entries, sorted: the marker, ai/, infra/, longhorn/; the first half went before the crash.
    assert tree_of(leftover(old_dist, "new")) == {"infra/ns.yaml": b"ns: 1\n", "longhorn/job.yaml": b"job: 1\n"}


def test_a_crash_while_removing_an_old_tree_of_one_folder_removes_the_marker_only(tmp_path, crash, monkeypatch):
    out = tmp_path / "dist"
    dist_writer.write_tree(files({"ai/a.yaml": b"a\n"}), out)
    crashed_write(out, "old-half-removed", crash, monkeypatch)
    assert tree_of(leftover(out, "new")) == {"ai/a.yaml": b"a\n"}


def test_a_crash_at_the_end_leaves_only_the_new_tree(old_dist, crash, monkeypatch):
    crashed_write(old_dist, "done", crash, monkeypatch)
    assert tree_of(old_dist) == written(NEW)
    assert beside(old_dist) == []


@pytest.mark.parametrize("step", [*STEPS_BEFORE_SWAP, "swapped", "old-half-removed", "done"])
def test_after_a_crash_at_any_step_the_next_run_removes_what_it_left_and_writes(old_dist, crash, monkeypatch, step):
    crashed_write(old_dist, step, crash, monkeypatch)
    expected = written(OLD) if step in STEPS_BEFORE_SWAP else written(NEW)
    dist_writer.recover_output(old_dist)
    assert beside(old_dist) == []
    assert tree_of(old_dist) == expected
    dist_writer.write_tree(files({"ai/third.yaml": b"third\n"}), old_dist)
    assert tree_of(old_dist) == written({"ai/third.yaml": b"third\n"})
    assert beside(old_dist) == []


def test_the_exit_of_a_crash_comes_after_stderr_is_flushed(old_dist, crash, monkeypatch):
    flushed: list[bool] = []

    class Stderr(io.StringIO):
        def flush(self) -> None:
            flushed.append(True)

    monkeypatch.setattr(sys, "stderr", Stderr())
    crashed_write(old_dist, "locked", crash, monkeypatch)
    assert flushed


# The two-rename fallback, where the exchange is not supported ------------------------------------------


@pytest.fixture
def fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SWAP_ENV, "rename")


def test_the_fallback_writes_the_same_tree(old_dist, fallback):
    dist_writer.write_tree(files(NEW), old_dist)
    assert tree_of(old_dist) == written(NEW)
    assert beside(old_dist) == []


def test_a_fallback_crash_between_its_renames_leaves_the_old_tree_complete_beside_and_the_next_run_puts_it_back(
    old_dist, fallback, crash, monkeypatch
):
    crashed_write(old_dist, "moved-away", crash, monkeypatch)
    assert not old_dist.exists()
    assert tree_of(leftover(old_dist, "old")) == written(OLD)
    assert tree_of(leftover(old_dist, "new")) == written(NEW)
    dist_writer.recover_output(old_dist)
    assert tree_of(old_dist) == written(OLD)
    assert beside(old_dist) == []


def test_a_fallback_crash_after_both_renames_has_the_new_tree_in_place_and_the_old_one_beside(
    old_dist, fallback, crash, monkeypatch
):
    crashed_write(old_dist, "swapped", crash, monkeypatch)
    assert tree_of(old_dist) == written(NEW)
    assert tree_of(leftover(old_dist, "old")) == written(OLD)
    assert len(beside(old_dist)) == 1
    dist_writer.recover_output(old_dist)
    assert tree_of(old_dist) == written(NEW)
    assert beside(old_dist) == []


def test_a_failed_second_rename_of_the_fallback_puts_the_old_tree_back(old_dist, fallback, monkeypatch):
    rename = os.rename

    def failing(src, dst):
        if Path(src).name.startswith(".dist.new-") and Path(dst) == old_dist:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        rename(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(OutputError, match="No space left on device"):
        dist_writer.write_tree(files(NEW), old_dist)
    monkeypatch.setattr(os, "rename", rename)
    assert tree_of(old_dist) == written(OLD)
    assert beside(old_dist) == []


def test_a_first_write_needs_no_exchange_and_leaves_nothing_beside(tmp_path, crash, monkeypatch):
    out = tmp_path / "dist"
    crashed_write(out, "swapped", crash, monkeypatch)
    assert tree_of(out) == written(NEW)
    assert beside(out) == []


def test_recovery_leaves_alone_what_only_looks_like_a_leftover(old_dist):
    parent = old_dist.parent
    for name in ("dist.new-1", ".dist.new", ".dist-2.new-1", ".dist.older-1", ".distx.old-1", "notes"):
        (parent / name).mkdir()
    (parent / ".dist.new-1").mkdir()
    (parent / ".dist.old-2").write_text("a crashed fallback's file")
    dist_writer.recover_output(old_dist)
    assert beside(old_dist) == sorted(
        ["dist.new-1", ".dist.new", ".dist-2.new-1", ".dist.older-1", ".distx.old-1", "notes"]
    )
    assert tree_of(old_dist) == written(OLD)


def test_recovery_renames_back_only_a_single_old_tree(tmp_path):
    out = tmp_path / "dist"
    (tmp_path / ".dist.old-a").mkdir()
    (tmp_path / ".dist.old-a" / "x").write_text("a")
    dist_writer.recover_output(out)
    assert tree_of(out) == {"x": b"a"}
    assert beside(out) == []


def test_recovery_with_no_parent_folder_does_nothing(tmp_path):
    dist_writer.recover_output(tmp_path / "missing" / "dist")
    assert not (tmp_path / "missing").exists()


def test_a_recovery_that_cannot_write_is_one_message(tmp_path, monkeypatch):
    out = tmp_path / "dist"
    (tmp_path / ".dist.old-a").mkdir()

    def denied(src, dst):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(src))

    monkeypatch.setattr(os, "rename", denied)
    with pytest.raises(OutputError) as caught:
        dist_writer.recover_output(out)
    assert str(caught.value) == (
        f"{out}: cannot be written: Permission denied ({tmp_path / '.dist.old-a'}); nothing was changed. "
        f"Fix: make {tmp_path} writable for you (or pick another output folder)"
    )


# File-system errors ----------------------------------------------------------------------------------

FIXES = {
    "EROFS": "{parent} is on a read-only file system: pick an output folder on a writable one",
    "EACCES": "make {parent} writable for you (or pick another output folder)",
    "EPERM": "make {parent} writable for you (or pick another output folder)",
    "ENOSPC": "free space on the disk that holds {parent}",
    "EDQUOT": "free space within your disk quota for {parent}",
    "ENOTDIR": "a part of the path {outdir} is a file: move it away or pick another output folder",
    "ENAMETOOLONG": "use a shorter output path",
    "EIO": "check the folder {parent} and try again",
}


@pytest.mark.parametrize("name", FIXES)
def test_a_file_system_error_names_the_output_the_reason_and_the_fix_and_changes_nothing(old_dist, monkeypatch, name):
    monkeypatch.setenv(FAULT_ENV, f"file-written:{name}")
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree(files(NEW), old_dist)
    code = getattr(errno, name)
    assert caught.value.field == str(old_dist)
    assert caught.value.problem == (
        f"cannot be written: {os.strerror(code)} ((fault injected at file-written)); nothing was changed"
    )
    assert caught.value.fix == FIXES[name].format(parent=old_dist.parent, outdir=old_dist)
    assert tree_of(old_dist) == written(OLD)
    assert beside(old_dist) == []


@pytest.mark.parametrize("step", STEPS_BEFORE_SWAP)
def test_an_error_at_any_step_before_the_swap_removes_staging_and_keeps_the_old_tree(old_dist, monkeypatch, step):
    monkeypatch.setenv(FAULT_ENV, f"{step}:ENOSPC")
    with pytest.raises(OutputError, match="No space left on device"):
        dist_writer.write_tree(files(NEW), old_dist)
    assert tree_of(old_dist) == written(OLD)
    assert beside(old_dist) == []


def test_an_error_without_a_reason_or_a_path_names_the_output(old_dist, monkeypatch):
    def broken(files, staging):
        raise OSError("the disk went away")

    monkeypatch.setattr(dist_writer, "_write_tree", broken)
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree(files(NEW), old_dist)
    assert caught.value.problem == f"cannot be written: the disk went away ({old_dist}); nothing was changed"
    assert caught.value.fix == f"check the folder {old_dist.parent} and try again"
    assert beside(old_dist) == []


def test_an_error_while_removing_the_old_tree_is_a_warning_the_new_tree_stays(old_dist, monkeypatch, capsys):
    monkeypatch.setenv(FAULT_ENV, "old-half-removed:EACCES")
    dist_writer.write_tree(files(NEW), old_dist)
    assert tree_of(old_dist) == written(NEW)
    old = leftover(old_dist, "new")
    assert tree_of(old) == {"infra/ns.yaml": b"ns: 1\n", "longhorn/job.yaml": b"job: 1\n"}
    assert capsys.readouterr().err == (
        f"warning: could not remove the old tree at {old}: [Errno 13] Permission denied: "
        "'(fault injected at old-half-removed)'\n"
    )
    monkeypatch.delenv(FAULT_ENV)
    dist_writer.recover_output(old_dist)
    assert beside(old_dist) == []


def test_an_error_after_the_new_tree_is_in_place_is_a_warning(old_dist, monkeypatch, capsys):
    monkeypatch.setenv(FAULT_ENV, "done:EIO")
    dist_writer.write_tree(files(NEW), old_dist)
    assert tree_of(old_dist) == written(NEW)
    assert capsys.readouterr().err.startswith("warning: could not remove the old tree at ")


def test_an_unknown_fault_step_changes_nothing_in_the_write(tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "no-such-step")
    dist_writer.write_tree(files(NEW), tmp_path / "dist")
    assert tree_of(tmp_path / "dist") == written(NEW)


def test_a_paused_step_says_so_and_goes_on_when_its_input_closes(tmp_path, monkeypatch, capsys):
    read: list[bool] = []

    class Stdin(io.StringIO):
        def read(self, *args) -> str:
            read.append(True)
            return ""

    monkeypatch.setattr(sys, "stdin", Stdin())
    monkeypatch.setenv(FAULT_ENV, "synced:pause")
    dist_writer.write_tree(files(NEW), tmp_path / "dist")
    assert capsys.readouterr().err == "paused at synced\n"
    assert read == [True]
    assert tree_of(tmp_path / "dist") == written(NEW)


# Refusals --------------------------------------------------------------------------------------------


def test_a_plain_file_where_the_output_goes_is_refused_unless_overwritten(tmp_path):
    out = tmp_path / "dist"
    out.write_text("my notes")
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree(files(NEW), out)
    assert str(caught.value) == (
        f"{out}: is a file, not a folder the synth wrote; replacing it would lose it. "
        "Fix: move it away, pick another output folder, or pass --force (overwrite=True) to replace it"
    )
    assert out.read_text() == "my notes"
    assert beside(out) == []
    dist_writer.write_tree(files(NEW), out, overwrite=True)
    assert tree_of(out) == written(NEW)
    assert beside(out) == []


def test_a_folder_of_other_files_is_refused_unless_overwritten(tmp_path):
    out = tmp_path / "site"
    (out / "img").mkdir(parents=True)
    (out / "index.html").write_text("<h1>mine</h1>")
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree(files(NEW), out)
    assert str(caught.value) == (
        f"{out}: holds files the synth did not write (no .homelab-ai-dist marker, not a tree of kustomization "
        "folders); replacing it would delete them. "
        "Fix: pick an empty or new output folder, or pass --force (overwrite=True) to replace it"
    )
    assert tree_of(out) == {"index.html": b"<h1>mine</h1>"}
    dist_writer.write_tree(files(NEW), out, overwrite=True)
    assert tree_of(out) == written(NEW)


@pytest.mark.parametrize(
    "layout",
    [
        {"ai/kustomization.yaml": "x", "notes.txt": "mine"},  # a loose file beside kustomization folders
        {"ai/kustomization.yaml": "x", "photos/cat.jpg": "mine"},  # a folder without a kustomization
        {"ai/kustomization.yaml/oops": "x"},  # kustomization.yaml is a folder, not a file
        {".homelab-ai-dist/oops": "x"},  # the marker is a folder, not a file
    ],
)
def test_a_tree_that_is_not_all_kustomization_folders_is_refused(tmp_path, layout):
    out = tmp_path / "dist"
    for path, text in layout.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text)
    with pytest.raises(OutputError, match="holds files the synth did not write"):
        dist_writer.write_tree(files(NEW), out)


def test_an_empty_folder_a_marked_folder_and_a_tree_from_before_the_marker_are_replaced(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    marked = tmp_path / "marked"
    (marked / "anything").mkdir(parents=True)
    (marked / MARKER).write_bytes(MARKER_TEXT)
    legacy = tmp_path / "legacy"
    for folder in ("ai", "infra"):
        (legacy / folder).mkdir(parents=True)
        (legacy / folder / "kustomization.yaml").write_text("resources: []\n")
    for out in (empty, marked, legacy):
        dist_writer.write_tree(files(NEW), out)
        assert tree_of(out) == written(NEW)


def test_a_dangling_symlink_is_no_folder_of_the_synth(tmp_path):
    link = tmp_path / "dist"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="is a file, not a folder the synth wrote"):
        dist_writer.check_target(link, overwrite=False)
    dist_writer.check_target(link, overwrite=True)
    dist_writer.check_target(tmp_path / "absent", overwrite=False)


# One writer at a time ----------------------------------------------------------------------------------


class _Lines(io.StringIO):
    """A stderr that tells when a line containing ``text`` was written (from any thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()

    def write(self, s: str) -> int:
        if self.text in s:
            self.seen.set()
        return super().write(s)


def test_a_second_writer_says_it_waits_and_writes_after_the_first_releases_the_lock(old_dist, monkeypatch):
    stderr = _Lines("waiting for another synth")
    monkeypatch.setattr(sys, "stderr", stderr)
    failures: list[BaseException] = []

    def second() -> None:
        try:
            dist_writer.write_tree(files(NEW), old_dist)
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    with dist_writer._locked(old_dist.parent, old_dist):
        writer = threading.Thread(target=second, daemon=True)
        writer.start()
        assert stderr.seen.wait(timeout=20), "the second writer did not say it waits"
        assert tree_of(old_dist) == written(OLD)
        assert writer.is_alive()
    writer.join(timeout=20)
    assert not writer.is_alive()
    assert failures == []
    assert stderr.getvalue() == f"waiting for another synth to finish writing {old_dist} ...\n"
    assert tree_of(old_dist) == written(NEW)
    assert beside(old_dist) == []


def assert_unlocked(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if someone still holds it
    finally:
        os.close(fd)


def test_the_lock_is_released_when_the_writer_is_done(old_dist):
    dist_writer.write_tree(files(NEW), old_dist)
    assert_unlocked(old_dist.parent)


def test_the_lock_is_released_after_a_refusal(tmp_path):
    out = tmp_path / "dist"
    out.write_text("notes")
    with pytest.raises(OutputError):
        dist_writer.write_tree(files(NEW), out)
    assert_unlocked(tmp_path)


# The exchange ------------------------------------------------------------------------------------------


def _two_folders(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from-a").write_text("a")
    (b / "from-b").write_text("b")
    return a, b


def test_the_exchange_swaps_two_folders_in_one_call(tmp_path):
    a, b = _two_folders(tmp_path)
    assert dist_writer.exchange(a, b) is True
    assert [p.name for p in a.iterdir()] == ["from-b"]
    assert [p.name for p in b.iterdir()] == ["from-a"]


def test_the_exchange_can_be_turned_off_for_the_fallback(tmp_path, monkeypatch):
    a, b = _two_folders(tmp_path)
    monkeypatch.setenv(SWAP_ENV, "rename")
    assert dist_writer.exchange(a, b) is False
    assert [p.name for p in a.iterdir()] == ["from-a"]
    monkeypatch.setenv(SWAP_ENV, "exchange")
    assert dist_writer.exchange(a, b) is True


def test_without_renameat2_the_exchange_says_it_cannot(tmp_path, monkeypatch):
    a, b = _two_folders(tmp_path)
    monkeypatch.setattr(dist_writer, "_RENAMEAT2", None)
    assert dist_writer.exchange(a, b) is False
    assert [p.name for p in a.iterdir()] == ["from-a"]


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP])
def test_a_system_that_refuses_the_exchange_falls_back(tmp_path, monkeypatch, code):
    a, b = _two_folders(tmp_path)

    def refusing(*args) -> int:
        ctypes.set_errno(code)
        return -1

    monkeypatch.setattr(dist_writer, "_RENAMEAT2", refusing)
    assert dist_writer.exchange(a, b) is False
    dist_writer.write_tree(files(OLD), tmp_path / "dist")
    dist_writer.write_tree(files(NEW), tmp_path / "dist")
    assert tree_of(tmp_path / "dist") == written(NEW)
    assert beside(tmp_path / "dist") == ["a", "b"]


def test_an_exchange_that_fails_otherwise_is_an_error_naming_both_paths(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    with pytest.raises(OSError) as caught:
        dist_writer.exchange(a, tmp_path / "missing")
    assert (caught.value.errno, caught.value.strerror) == (errno.ENOENT, "No such file or directory")
    assert (caught.value.filename, caught.value.filename2) == (str(a), str(tmp_path / "missing"))
    assert a.is_dir()


def test_renameat2_reports_why_it_failed(tmp_path, monkeypatch):
    """The libc function is loaded with errno kept, so a failure says why (here: no such folder)."""
    a = tmp_path / "a"
    a.mkdir()
    monkeypatch.setattr(dist_writer, "_RENAMEAT2", dist_writer._renameat2_exchange())
    ctypes.set_errno(0)  # no errno left over from an earlier call
    with pytest.raises(FileNotFoundError):
        dist_writer.exchange(a, tmp_path / "missing")


def test_renameat2_is_found_in_libc_on_linux():
    function = dist_writer._renameat2_exchange()
    assert function is not None
    assert function.restype is ctypes.c_int
    assert function.argtypes == [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]


def test_renameat2_is_not_looked_for_outside_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert dist_writer._renameat2_exchange() is None


@pytest.mark.parametrize("error", [AttributeError, OSError])
def test_a_libc_without_renameat2_means_no_exchange(monkeypatch, error):
    def cdll(*args, **kwargs):
        raise error("no renameat2")

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    assert dist_writer._renameat2_exchange() is None


# Permissions, as a user who is not root -----------------------------------------------------------------

_SYS_SETGROUPS, _SYS_SETRESGID, _SYS_SETRESUID = 116, 119, 117  # x86_64
NOBODY = 65534


def as_unprivileged(action: Callable[[], None]) -> BaseException | None:
    """Run ``action`` as an unprivileged user (nobody) in a thread of this process; what it raised, or None.

    Root ignores file modes. Credentials on Linux belong to each thread, and the raw system calls (unlike
    libc's setuid, which changes every thread) drop them for this thread only, for good.
    """
    outcome: list[BaseException | None] = []

    def run() -> None:
        if os.geteuid() == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            for call, args in ((_SYS_SETGROUPS, (0, None)), (_SYS_SETRESGID, (NOBODY,) * 3)):
                assert libc.syscall(call, *args) == 0, os.strerror(ctypes.get_errno())
            assert libc.syscall(_SYS_SETRESUID, *(NOBODY,) * 3) == 0, os.strerror(ctypes.get_errno())
        try:
            action()
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert outcome, "the unprivileged writer did not finish"
    return outcome[0]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every user can reach (the test's own tmp_path is root's alone)."""
    if os.uname().machine != "x86_64" and os.geteuid() == 0:
        pytest.fail("as_unprivileged knows the system call numbers of x86_64 only: add this machine's")
    folder = Path(tempfile.mkdtemp(prefix="homelab-ai-writer-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_a_parent_the_user_may_not_write_is_refused_with_the_fix_and_nothing_left(shared_tmp):
    parent = shared_tmp / "shared"
    out = parent / "dist"
    dist_writer.write_tree(files(OLD), out)
    parent.chmod(0o755 if os.geteuid() == 0 else 0o555)
    error = as_unprivileged(lambda: dist_writer.write_tree(files(NEW), out))
    assert isinstance(error, OutputError), error
    assert error.problem.startswith(f"cannot be written: Permission denied ({parent}/.dist.new-")
    assert error.fix == f"make {parent} writable for you (or pick another output folder)"
    assert tree_of(out) == written(OLD)
    assert beside(out) == []


def test_an_old_tree_with_read_only_folders_of_the_users_own_is_replaced(shared_tmp):
    parent = shared_tmp / "mine"
    out = parent / "dist"
    dist_writer.write_tree(files(OLD), out)
    if os.geteuid() == 0:
        for path in [parent, *parent.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
    (out / "ai").chmod(0o555)  # e.g. `chmod -R a-w dist` to keep hands off it
    assert as_unprivileged(lambda: dist_writer.write_tree(files(NEW), out)) is None
    assert tree_of(out) == written(NEW)
    assert beside(out) == []


def test_a_recovery_waits_for_a_writer_and_says_for_which_output(old_dist, monkeypatch):
    stderr = _Lines("waiting for another synth")
    monkeypatch.setattr(sys, "stderr", stderr)
    done = threading.Event()

    def recover() -> None:
        dist_writer.recover_output(old_dist)
        done.set()

    with dist_writer._locked(old_dist.parent, old_dist):
        threading.Thread(target=recover, daemon=True).start()
        assert stderr.seen.wait(timeout=20), "the recovery did not say it waits"
        assert not done.is_set()
    assert done.wait(timeout=20)
    assert stderr.getvalue() == f"waiting for another synth to finish writing {old_dist} ...\n"


def test_a_staging_folder_that_cannot_be_removed_does_not_hide_the_first_error(old_dist, monkeypatch):
    def stuck(path: Path) -> None:
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(path))

    monkeypatch.setattr(dist_writer, "_remove_tree", stuck)
    monkeypatch.setenv(FAULT_ENV, "files-written:ENOSPC")
    with pytest.raises(OutputError) as caught:
        dist_writer.write_tree(files(NEW), old_dist)
    assert caught.value.problem == (
        "cannot be written: No space left on device ((fault injected at files-written)); nothing was changed"
    )
    assert tree_of(old_dist) == written(OLD)
