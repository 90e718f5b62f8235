"""What the probes read: the live cluster through read-only kubectl (each read once per run), and the repo's git."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from homelab_ai.ops.kubectl import Kubectl, KubectlError


class Cluster:
    """Cached ``kubectl get`` results (several checks read the same list), plus the clock and the repo."""

    def __init__(self, kubectl: Kubectl, repo: Path | None = None, now: datetime | None = None) -> None:
        self.kubectl = kubectl
        self.repo = repo
        self.now = now or datetime.now(UTC)
        self._cache: dict[tuple[Any, ...], dict[str, Any] | KubectlError] = {}

    def get(
        self,
        resource: str,
        name: str | None = None,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        selector: str | None = None,
    ) -> dict[str, Any]:
        """The object or list; raises KubectlError (cached too, so a missing kind is asked about once)."""
        key = (resource, name, namespace, all_namespaces, selector)
        if key not in self._cache:
            try:
                self._cache[key] = self.kubectl.get(
                    resource, name, namespace=namespace, all_namespaces=all_namespaces, selector=selector
                )
            except KubectlError as exc:
                self._cache[key] = exc
        cached = self._cache[key]
        if isinstance(cached, KubectlError):
            raise cached
        return cached

    def find(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when the API server says it does not exist."""
        try:
            return self.get(resource, name, namespace=namespace)
        except KubectlError as exc:
            if exc.not_found:
                return None
            raise

    def items(self, resource: str, **kwargs: Any) -> list[dict[str, Any]]:
        return list(self.get(resource, **kwargs).get("items") or [])

    def raw(self, path: str) -> str:
        return self.kubectl.raw(path)

    # --- the repo ---------------------------------------------------------------------------------

    def git(self, *args: str) -> str | None:
        """``git -C REPO ARGS`` (read-only: rev-parse, log, status), its output, or None when it fails."""
        if self.repo is None:
            return None
        try:
            done = subprocess.run(
                ["git", "-C", str(self.repo), *args], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time from the API (``2026-11-28T03:00:12Z``), or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The ``status.conditions`` entry of type ``kind``."""
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return entry
    return None
