"""kubectl, read-only: the only way homelab_ai.ops touches a cluster.

Every call is ``kubectl [--context C] get ...``: objects with ``-o json``, or a GET of a raw API
path (``get --raw``, which kubectl sends as a GET). Anything else is refused before a process
starts, so no code path here can write to a cluster. The user's kubeconfig decides who we are.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

# kubectl's messages (staging/src/k8s.io/kubectl and apimachinery StatusError strings).
_NOT_FOUND = ("(NotFound)", "not found")
_NO_KIND = ("the server doesn't have a resource type", "no matches for kind", "couldn't find resource for")


class KubectlError(Exception):
    """kubectl exited non-zero (or could not run); ``message`` is its stderr, trimmed."""

    def __init__(self, argv: Sequence[str], message: str, returncode: int | None = None) -> None:
        super().__init__(message)
        self.argv = list(argv)
        self.message = message
        self.returncode = returncode

    @property
    def not_found(self) -> bool:
        return any(marker in self.message for marker in _NOT_FOUND) and not self.unknown_kind

    @property
    def unknown_kind(self) -> bool:
        """The API server has no such resource type: its CRD (MetalLB, Longhorn, Flux...) is not installed."""
        return any(marker in self.message for marker in _NO_KIND)


class Kubectl:
    """Runs ``kubectl get`` with the user's kubeconfig; ``calls`` keeps every argv, for the record."""

    def __init__(self, context: str | None = None, binary: str = "kubectl", timeout: float = 30) -> None:
        self.context = context
        self.binary = binary
        self.timeout = timeout
        self.calls: list[list[str]] = []

    def get(
        self,
        resource: str,
        name: str | None = None,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        selector: str | None = None,
    ) -> dict[str, Any]:
        """``kubectl get RESOURCE [NAME] [-n NS | -A] [-l SELECTOR] -o json``, parsed."""
        args = ["get", resource]
        if name:
            args.append(name)
        if all_namespaces:
            args.append("--all-namespaces")
        elif namespace:
            args += ["--namespace", namespace]
        if selector:
            args += ["--selector", selector]
        args += ["--output", "json"]
        text = self._run(args)
        try:
            return json.loads(text)
        except ValueError:
            raise KubectlError(args, f"kubectl printed no JSON: {text[:200]!r}") from None

    def raw(self, path: str) -> str:
        """``kubectl get --raw PATH``: a GET of an API path (e.g. a Service proxy), the body as text."""
        if not path.startswith("/"):
            raise ValueError(f"raw API paths start with '/': {path!r}")
        return self._run(["get", "--raw", path])

    def _run(self, args: list[str]) -> str:
        if not args or args[0] != "get":
            raise ValueError(f"homelab-ai only reads from clusters; refusing `kubectl {' '.join(args)}`")
        binary = shutil.which(self.binary) or self.binary
        argv = [binary, *(["--context", self.context] if self.context else []), *args]
        self.calls.append(argv)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise KubectlError(argv, f"`{self.binary}` not found on PATH: install kubectl") from None
        except subprocess.TimeoutExpired:
            raise KubectlError(argv, f"no answer within {self.timeout:g}s (is the cluster reachable?)") from None
        if done.returncode != 0:
            message = " ".join(done.stderr.split()) or f"exit code {done.returncode}"
            raise KubectlError(argv, message[:500], done.returncode)
        return done.stdout
