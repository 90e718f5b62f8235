"""The dist/ swap under faults: a synth killed at any step of the write, two synths at once, and
file-system errors leave the old tree or the new one, complete, and nothing beside it.

Each killed write is a real process stopped by the writer's fault hook (HOMELAB_AI_FAULT=<step>,
homelab_ai.synth.dist_writer) with ``os._exit``: no cleanup code runs, as after a power cut or a
SIGKILL. Every step is killed in a process that runs the writer alone on a rendered tree
(tests/dist_writer_process.py: no jsii start, a tenth of the cost); a kill before and one after
the swap, two synths at once and a real permission error run whole `homelab-ai synth` processes.
The chart is tests/small_chart.py: two variants write two different trees ("old" and "new").
tests/test_dist_writer_steps.py checks the same steps in one process (what `make mutate` can attribute);
these stay as the end-to-end check.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import constructs
import jsii
import pytest

from homelab_ai.base.errors import OutputError
from homelab_ai.cli import main
from homelab_ai.synth import dist_writer
from homelab_ai.synth.dist_writer import FAULT_ENV, FAULT_EXIT_CODE, MARKER, SWAP_ENV

# The slow tier (`make test-fast` leaves it out): kills and races `homelab-ai synth` processes.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
APP = "tests.small_chart:build"
# Steps of the exchange path, and what the output folder holds right after a crash there.
BEFORE_SWAP = ["locked", "staging-created", "file-written", "files-written", "synced"]
AFTER_SWAP = ["swapped", "old-half-removed", "done"]


@jsii.implements(constructs.IValidation)
class _Refuse:
    """A validation that always fails: the next run is a refused synth."""

    def validate(self) -> list[str]:
        return ["refused on purpose"]


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def _beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p != out)


def _env(variant: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, SWAP_ENV)}
    env.update(SMALL_CHART_VARIANT=variant, PYTHONPATH=str(REPO), JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    env.update(extra)
    return env


def _synth_process(out: Path, variant: str, **extra: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "homelab_ai.cli", "--app", APP, "synth", str(out)]
    return subprocess.run(argv, cwd=REPO, env=_env(variant, **extra), capture_output=True, text=True, timeout=300)


def _synth_in_process(out: Path, variant: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("SMALL_CHART_VARIANT", variant)
    monkeypatch.chdir(REPO)
    return main(["--app", APP, "synth", *args, str(out)])


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, dict[str, str] | str]:
    """The complete old and new trees, as a clean synth writes them, where they are, and their files as JSON."""
    result = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for variant in ("old", "new"):
            out = tmp_path_factory.mktemp(variant) / "dist"
            assert _synth_in_process(out, variant, monkeypatch) == 0
            result[variant] = _tree(out)
            result[f"{variant}-dist"] = str(out)
            files = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file() and p.name != MARKER}
            (out.parent / "files.json").write_text(json.dumps(files))
            result[f"{variant}-json"] = str(out.parent / "files.json")
    assert result["old"] != result["new"]
    assert MARKER in result["old"]
    return result


def _writer_process(out: Path, files_json: str, **extra: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "tests.dist_writer_process", str(out), files_json]
    return subprocess.run(argv, cwd=REPO, env=_env("new", **extra), capture_output=True, text=True, timeout=300)


@pytest.fixture
def old_dist(tmp_path, trees) -> Path:
    """The old tree as a clean synth wrote it: this test's own copy of the one the trees fixture synthesized."""
    out = shutil.copytree(trees["old-dist"], tmp_path / "dist", symlinks=True)
    assert _tree(out) == trees["old"]
    return out


def test_the_writer_process_writes_what_the_synth_writes(tmp_path, trees):
    """The stand-in the step tests kill is the synth's own writer: unharmed, it writes the same tree."""
    out = tmp_path / "dist"
    assert _writer_process(out, trees["new-json"]).returncode == 0
    assert _tree(out) == trees["new"]


@pytest.mark.parametrize("step", BEFORE_SWAP + AFTER_SWAP)
def test_a_write_killed_at_any_step_leaves_the_old_or_the_new_tree(old_dist, trees, monkeypatch, step):
    killed = _writer_process(old_dist, trees["new-json"], **{FAULT_ENV: step})
    assert killed.returncode == FAULT_EXIT_CODE, killed.stderr
    assert _tree(old_dist) == (trees["old"] if step in BEFORE_SWAP else trees["new"])
    # The next run, even one that is refused, removes what the killed run left beside dist/.
    monkeypatch.setattr("tests.small_chart.CASE", lambda infra, ai: ai.node.add_validation(_Refuse()))
    assert _synth_in_process(old_dist, "new", monkeypatch) == 1
    assert _beside(old_dist) == []
    assert _tree(old_dist) == (trees["old"] if step in BEFORE_SWAP else trees["new"])


@pytest.mark.parametrize("step", ["synced", "swapped"])
def test_a_homelab_ai_synth_process_killed_before_or_after_the_swap(old_dist, trees, monkeypatch, step):
    killed = _synth_process(old_dist, "new", **{FAULT_ENV: step})
    assert killed.returncode == FAULT_EXIT_CODE, killed.stderr
    assert _tree(old_dist) == (trees["old"] if step == "synced" else trees["new"])
    assert _synth_in_process(old_dist, "new", monkeypatch) == 0
    assert _tree(old_dist) == trees["new"]
    assert _beside(old_dist) == []


@pytest.mark.parametrize("step", ["staging-created", "synced", "moved-away", "swapped"])
def test_the_two_rename_fallback_killed_at_any_step_is_repaired_by_the_next_run(old_dist, trees, monkeypatch, step):
    """Where the exchange is not supported: a kill between the renames leaves the old tree beside
    dist/, complete, and the next run puts it back before doing anything else."""
    killed = _writer_process(old_dist, trees["new-json"], **{FAULT_ENV: step, SWAP_ENV: "rename"})
    assert killed.returncode == FAULT_EXIT_CODE, killed.stderr
    if step == "moved-away":
        assert not old_dist.exists()
        [moved] = [old_dist.parent / name for name in _beside(old_dist) if ".old-" in name]
        assert _tree(moved) == trees["old"]
    monkeypatch.setattr("tests.small_chart.CASE", lambda infra, ai: ai.node.add_validation(_Refuse()))
    assert _synth_in_process(old_dist, "new", monkeypatch) == 1
    assert _tree(old_dist) == (trees["new"] if step == "swapped" else trees["old"])
    assert _beside(old_dist) == []


def test_the_fallback_writes_the_same_tree_as_the_exchange(old_dist, trees, monkeypatch):
    monkeypatch.setenv(SWAP_ENV, "rename")
    assert _synth_in_process(old_dist, "new", monkeypatch) == 0
    assert _tree(old_dist) == trees["new"]
    assert _beside(old_dist) == []


def test_the_exchange_is_one_renameat2_call_on_this_system(tmp_path):
    """The atomic path is the one in use here (Linux, a local file system), not the fallback."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from-a").write_text("a")
    (b / "from-b").write_text("b")
    assert dist_writer.exchange(a, b) is True
    assert [p.name for p in a.iterdir()] == ["from-b"]
    assert [p.name for p in b.iterdir()] == ["from-a"]


def _read_until(stream, text: str, deadline_s: float = 120) -> str:
    """Lines of ``stream`` up to one containing ``text`` (a guard against a hang, not a timing check)."""
    seen = ""
    end = time.monotonic() + deadline_s
    while text not in seen:
        ready, _, _ = select.select([stream], [], [], max(0.0, end - time.monotonic()))
        assert ready, f"no {text!r} in: {seen}"
        line = stream.readline()
        assert line, f"stream closed before {text!r}: {seen}"
        seen += line
    return seen


def test_two_synths_at_once_take_turns_and_the_last_tree_is_complete(old_dist, trees):
    """A holds the lock (paused by the hook right after taking it); B waits for it, says so, and
    writes after A. No sleeps: each side's progress is read from its own output."""
    argv = [sys.executable, "-m", "homelab_ai.cli", "--app", APP, "synth", str(old_dist)]
    first = subprocess.Popen(
        argv,
        cwd=REPO,
        env=_env("old", **{FAULT_ENV: "locked:pause"}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    second = None
    try:
        _read_until(first.stderr, "paused at locked")
        second = subprocess.Popen(
            argv, cwd=REPO, env=_env("new"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _read_until(second.stderr, "waiting for another synth")
        assert _tree(old_dist) == trees["old"]
        first.stdin.close()
        assert first.wait(timeout=300) == 0
        assert second.wait(timeout=300) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
    assert _tree(old_dist) == trees["new"]
    assert _beside(old_dist) == []


@pytest.mark.parametrize(
    ("step", "error", "says"),
    [
        ("staging-created", "EROFS", "read-only file system"),
        ("file-written", "ENOSPC", "free space on the disk"),
        ("synced", "EACCES", "writable for you"),
        ("locked", "EDQUOT", "disk quota"),
    ],
)
def test_a_file_system_error_is_one_message_and_changes_nothing(
    old_dist, trees, monkeypatch, capsys, step, error, says
):
    monkeypatch.setenv(FAULT_ENV, f"{step}:{error}")
    assert _synth_in_process(old_dist, "new", monkeypatch) == 1
    err = capsys.readouterr().err
    assert f"error: {old_dist}: cannot be written" in err
    assert says in err
    assert "Traceback" not in err
    assert _tree(old_dist) == trees["old"]
    assert _beside(old_dist) == []


def _as_nobody(argv: list[str]) -> list[str]:
    """Run as an unprivileged user when the tests run as root (root ignores file modes)."""
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv] if os.geteuid() == 0 else argv


def test_a_parent_the_user_may_not_write_is_refused_with_the_fix_and_nothing_left(trees):
    """The real thing, no hook: dist/ in a folder of another user's (mode 0755, owned by root)."""
    parent = Path(tempfile.mkdtemp(prefix="homelab-ai-shared-"))
    try:
        parent.chmod(0o755)
        out = shutil.copytree(trees["old-dist"], parent / "dist", symlinks=True)  # as a clean synth wrote it
        home = parent / "home"
        home.mkdir(mode=0o777)
        home.chmod(0o777)
        argv = [sys.executable, "-m", "homelab_ai.cli", "--app", APP, "synth", str(out)]
        env = _env("new", HOME=str(home), JSII_RUNTIME_PACKAGE_CACHE="disabled")
        if os.geteuid() != 0:  # not root: make the folder read-only for ourselves
            parent.chmod(0o555)
        result = subprocess.run(_as_nobody(argv), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        parent.chmod(0o755)
        home.rmdir()
        assert result.returncode == 1, result.stderr
        assert f"error: {out}: cannot be written: Permission denied" in result.stderr
        assert f"make {parent} writable for you" in result.stderr
        assert "Traceback" not in result.stderr
        assert _tree(out) == trees["old"]
        assert _beside(out) == []
    finally:
        parent.chmod(0o755)
        shutil.rmtree(parent)


def test_a_plain_file_where_dist_goes_is_refused_unless_forced(tmp_path, trees, monkeypatch, capsys):
    out = tmp_path / "dist"
    out.write_text("my notes")
    assert _synth_in_process(out, "new", monkeypatch) == 1
    err = capsys.readouterr().err
    assert f"error: {out}: is a file, not a folder the synth wrote" in err
    assert "--force" in err
    assert out.read_text() == "my notes"
    assert _beside(out) == []
    assert _synth_in_process(out, "new", monkeypatch, "--force") == 0
    assert _tree(out) == trees["new"]


def test_a_folder_of_other_files_is_refused_unless_forced(tmp_path, trees, monkeypatch, capsys):
    out = tmp_path / "site"
    (out / "img").mkdir(parents=True)
    (out / "index.html").write_text("<h1>mine</h1>")
    assert _synth_in_process(out, "new", monkeypatch) == 1
    assert "holds files the synth did not write" in capsys.readouterr().err
    assert (out / "index.html").read_text() == "<h1>mine</h1>"
    assert _synth_in_process(out, "new", monkeypatch, "--force") == 0
    assert _tree(out) == trees["new"]


def test_an_empty_folder_and_a_tree_from_before_the_marker_are_replaced(tmp_path, trees, monkeypatch):
    """The cdk8s CLI hands the app an empty folder; a dist/ from before the marker is all kustomization folders."""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _synth_in_process(empty, "new", monkeypatch) == 0
    assert _tree(empty) == trees["new"]
    legacy = tmp_path / "legacy"
    (legacy / "ai").mkdir(parents=True)
    (legacy / "ai" / "kustomization.yaml").write_text("resources: []\n")
    assert _synth_in_process(legacy, "new", monkeypatch) == 0
    assert _tree(legacy) == trees["new"]


def test_write_tree_refuses_a_foreign_folder_in_process_too(tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    with pytest.raises(OutputError, match="holds files the synth did not write"):
        dist_writer.write_tree([], out)
    dist_writer.write_tree([], out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]


def test_an_output_path_through_a_symlinked_folder_is_written(tmp_path, trees, monkeypatch):
    """A parent reached through a symlink (e.g. a repo under a linked home) is still inside the output."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    out = tmp_path / "link" / "dist"
    assert _synth_in_process(out, "new", monkeypatch) == 0
    assert _tree(real / "dist") == trees["new"]
    assert _beside(real / "dist") == []
