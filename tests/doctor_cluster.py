"""A cluster for the doctor's tests: tests/fake_kubectl.py on PATH as ``kubectl``, the recorded fixtures, a git repo.

The fixtures (tests/fixtures/cluster/, described in its README.md) are kubectl's ``-o json`` output
of a healthy cluster running this chart, and one small overlay per broken state. Values that depend
on the chart or the clock (the device plugin's config checksum, hashed Job names, how old a backup
is) are ``${NAME}``s filled in here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homelab_ai.base.expectations import Expectation
from homelab_ai.ops.cluster import Cluster
from homelab_ai.ops.kubectl import Kubectl
from tests import fake_kubectl

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cluster"
FAKE_KUBECTL = Path(__file__).resolve().parent / "fake_kubectl.py"
CONTEXT = "homelab"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_repo(path: Path) -> dict[str, str]:
    """A repo like the user's: commit A writes dist/, B changes dist/ai, C touches only the README (HEAD)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "dist/infrastructure").mkdir(parents=True)
    (path / "dist/ai").mkdir(parents=True)
    (path / "dist/infrastructure/runtimeclass-nvidia.yaml").write_text("kind: RuntimeClass\n")
    (path / "dist/ai/service-open-webui.yaml").write_text("kind: Service\nport: 80\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "A: dist")
    commits = {"A": git(path, "rev-parse", "HEAD")}
    (path / "dist/ai/service-open-webui.yaml").write_text("kind: Service\nport: 8080\n")
    git(path, "commit", "-q", "-am", "B: change dist/ai")
    commits["B"] = git(path, "rev-parse", "HEAD")
    (path / "README.md").write_text("notes\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "C: docs only")
    commits["C"] = git(path, "rev-parse", "HEAD")
    return commits


def chart_values(expectations: tuple[Expectation, ...]) -> dict[str, str]:
    """The ``${NAME}``s the fixtures take from the chart."""

    def one(kind: str, key: str) -> str:
        (value,) = {str(e.data[key]) for e in expectations if e.kind.id == kind}
        return value

    return {
        "DEVICE_PLUGIN_CHECKSUM": one("device-plugin", "checksum"),
        "MODEL_PULL_JOB": one("model-pull", "job"),
        "PRE_UPGRADE_JOB": one("pre-upgrade-snapshot", "job"),
    }


def clock_values(now: datetime) -> dict[str, str]:
    return {
        "CLAIM_CREATED": rfc3339(now - timedelta(days=30)),
        "BACKUP_RECENT": rfc3339(now - timedelta(hours=5)),
        "BACKUP_OLDER": rfc3339(now - timedelta(hours=29)),
        "BACKUP_STALE": rfc3339(now - timedelta(days=4)),
        "DRILL_STARTED": rfc3339(now - timedelta(days=2, minutes=9)),
        "DRILL_FINISHED": rfc3339(now - timedelta(days=2)),
    }


class FakeCluster:
    """Serves fixture overlays through the fake kubectl; ``calls()`` is every argv it was run with."""

    def __init__(self, tmp: Path, repo: Path, commits: dict[str, str], chart: dict[str, str]) -> None:
        self.bin = tmp / "bin"
        self.bin.mkdir()
        shim = self.bin / "kubectl"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_KUBECTL}" "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.log = tmp / "kubectl-calls.jsonl"
        self.repo = repo
        self.commits = commits
        self.now = datetime.now(UTC)
        self.values = {
            **chart,
            **clock_values(self.now),
            "APPS_REVISION": f"main@sha1:{commits['C']}",
            "INFRA_REVISION": f"main@sha1:{commits['A']}",
            "PREVIOUS_REVISION": f"main@sha1:{commits['A']}",
        }

    def env(self, *overlays: str, **values: str) -> dict[str, str]:
        folders = [FIXTURES / "broken" / o for o in overlays] + [FIXTURES / "healthy"]
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_KUBECTL_FIXTURES": ":".join(str(f) for f in folders),
            "FAKE_KUBECTL_LOG": str(self.log),
            "FAKE_KUBECTL_VARS": json.dumps({**self.values, **values}),
        }

    def cluster(self) -> Cluster:
        return Cluster(Kubectl(context=CONTEXT), repo=self.repo, now=self.now)

    def answer_in_process(self, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        """Answer the doctor's kubectl calls in this process: the same program and fixtures, without a Python per call.

        Everything of the doctor's kubectl wrapper still runs (finding ``kubectl`` on PATH, the argv, exit codes
        and stderr into errors); only the process boundary is skipped. A few tests keep the real process.
        """
        shim, run = str(self.bin / "kubectl"), subprocess.run

        def answered(argv, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not (isinstance(argv, list) and argv and argv[0] == shim):
                return run(argv, *args, **kwargs)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = fake_kubectl.main([str(a) for a in argv[1:]])
            return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

        monkeypatch.setattr(subprocess, "run", answered)

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]
