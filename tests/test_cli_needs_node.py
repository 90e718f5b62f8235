"""Every `homelab-ai` command needs the Node.js that jsii runs cdk8s in: without it, one line that says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from homelab_ai.cli import main


def test_without_node_on_path_every_command_says_so_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder with no node in it
    monkeypatch.delenv("JSII_NODE", raising=False)
    assert main(["synth", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: homelab-ai runs cdk8s, whose constructs run in Node.js, and `node` is not on PATH.")
    assert "Fix: install Node.js" in err
    assert not (tmp_path / "dist").exists()


def test_a_jsii_node_that_is_not_a_program_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JSII_NODE", str(tmp_path / "node"))
    assert main(["docs"]) == 1
    assert capsys.readouterr().err == (
        f"error: JSII_NODE is {str(tmp_path / 'node')!r}, which is not a program. "
        "Fix: set JSII_NODE to the node binary, or unset it\n"
    )


def test_a_jsii_node_that_is_node_is_used_whatever_path_says(tmp_path, monkeypatch, capsys):
    node = shutil.which("node")
    assert node is not None, "the tests need Node.js, as make test does"
    monkeypatch.setenv("JSII_NODE", node)
    monkeypatch.setenv("PATH", str(tmp_path))  # no node here
    with pytest.raises(SystemExit) as exited:  # past the check: argparse's own --help
        main(["--help"])
    assert exited.value.code == 0
    assert "synth" in capsys.readouterr().out


@pytest.mark.slow
def test_the_command_without_node_prints_one_line_and_no_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("JSII_NODE", "PYTHONPATH")}
    env["PATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "homelab_ai.cli", "synth", str(tmp_path / "dist")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "`node` is not on PATH" in result.stderr
    assert "Traceback" not in result.stderr
