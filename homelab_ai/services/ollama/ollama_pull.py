#!/usr/bin/env python3
"""Pull the declared Ollama models through the server's HTTP API, skipping those already present.

Run by the ``<ollama>-pull-models-<hash>`` Job (standard library only, so a plain python image runs
it from a ConfigMap). It waits for the server with a bound, lists the models it has (GET /api/tags),
pulls each missing one (POST /api/pull, streamed NDJSON) with throttled progress in the log, and
exits non-zero naming every model that could not be pulled.

    ollama_pull.py --server http://ollama.ai.svc.cluster.local:11434 llama3.2 qwen2.5:14b
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable

DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"


def log(message: str) -> None:
    print(f"ollama-pull: {message}", flush=True)


def normalize(name: str) -> str:
    """The full name Ollama stores a model under: ``llama3.2`` is ``registry.ollama.ai/library/llama3.2:latest``."""
    name = name.strip().lower()
    slash, colon = name.rfind("/"), name.rfind(":")
    base, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, DEFAULT_TAG)
    parts = base.split("/")
    if len(parts) == 1:
        parts = [DEFAULT_REGISTRY, DEFAULT_NAMESPACE, *parts]
    elif len(parts) == 2:
        parts = [DEFAULT_REGISTRY, *parts]
    return f"{'/'.join(parts)}:{tag or DEFAULT_TAG}"


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """Ollama answers errors as {"error": "..."}; fall back to the raw body, then to the status's reason."""
    try:
        body = exc.read().decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):  # reset, timeout, or a body cut short (IncompleteRead)
        body = ""
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body[:500] or exc.reason


def wait_for_server(
    base: str,
    wait_seconds: float,
    poll_seconds: float,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll GET /api/version until the server answers, for at most ``wait_seconds`` on ``clock``."""
    deadline = clock() + wait_seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            with urllib.request.urlopen(f"{base}/api/version", timeout=timeout) as response:
                version = json.load(response).get("version", "unknown")
            log(f"Ollama {version} is up at {base}")
            return True
        except (OSError, ValueError) as exc:  # URLError, HTTPError, refused, timeout, bad JSON
            problem = exc
        remaining = deadline - clock()
        if remaining <= 0:
            log(f"ERROR: Ollama at {base} did not answer within {wait_seconds:g}s (last error: {problem})")
            return False
        if attempt == 1 or attempt % 12 == 0:
            log(f"waiting for Ollama at {base} ({problem}); giving up in {remaining:.0f}s")
        sleep(min(poll_seconds, remaining))


def present_models(base: str, timeout: float) -> set[str]:
    """Normalized names of the models the server already has."""
    with urllib.request.urlopen(f"{base}/api/tags", timeout=timeout) as response:
        listing = json.load(response)
    names = set()
    for entry in listing.get("models") or []:
        name = entry.get("model") or entry.get("name")
        if name:
            names.add(normalize(name))
    return names


class Progress:
    """Logs a pull's progress: every status change, each layer's completion, else once per interval."""

    def __init__(self, model: str, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.interval = interval
        self.clock = clock
        self.status: str | None = None
        self.last_logged = float("-inf")
        self.finished: set[str] = set()

    def update(self, event: dict) -> None:
        status = str(event.get("status", ""))
        # Ollama omits "completed" while it is 0 (api/types.go ProgressResponse: omitempty).
        total, completed = event.get("total"), event.get("completed", 0)
        now = self.clock()
        if isinstance(total, int | float) and total > 0 and isinstance(completed, int | float):
            percent = min(100, int(completed * 100 / total))
            text = f"{status} {percent}% ({human_bytes(completed)}/{human_bytes(total)})"
            done = completed >= total and status not in self.finished
            if done:
                self.finished.add(status)
        else:
            text, done = status, False
        if status != self.status or done or now - self.last_logged >= self.interval:
            log(f"{self.model}: {text}")
            self.last_logged = now
        self.status = status


def pull(base: str, model: str, timeout: float, progress_seconds: float) -> str | None:
    """Pull one model; None when Ollama reported success, else why it failed."""
    request = urllib.request.Request(
        f"{base}/api/pull",
        data=json.dumps({"model": model, "stream": True}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    progress = Progress(model, progress_seconds)
    succeeded = False
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            for raw in response:
                line = raw.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    return f"unreadable line from the server: {line[:200]!r}"
                if event.get("error"):
                    return str(event["error"])
                progress.update(event)
                succeeded = succeeded or event.get("status") == "success"
    except urllib.error.HTTPError as exc:
        return f"the server answered HTTP {exc.code}: {_error_detail(exc)}"
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, read timeout, stream cut mid-chunk
        return f"the request failed: {exc}"
    return None if succeeded else "the stream ended before Ollama reported success"


def unique(models: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for model in models:
        if normalize(model) not in seen:
            seen.add(normalize(model))
            result.append(model)
    return result


def main(
    argv: list[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """The Job's entry point; ``clock`` and ``sleep`` pace the wait for the server (tests pass their own)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model names, e.g. llama3.2 qwen2.5:14b")
    parser.add_argument("--server", required=True, help="Ollama base URL, e.g. http://ollama:11434")
    parser.add_argument(
        "--wait-seconds", type=float, default=1200, help="how long to wait for the server (default: %(default)g s)"
    )
    parser.add_argument(
        "--poll-seconds", type=float, default=5, help="pause between two server checks (default: %(default)g s)"
    )
    parser.add_argument(
        "--timeout-seconds", type=float, default=600, help="socket timeout of one request (default: %(default)g s)"
    )
    parser.add_argument(
        "--progress-seconds",
        type=float,
        default=10,
        help="at most one progress line per interval (default: %(default)g s)",
    )
    args = parser.parse_args(argv)
    base = args.server.rstrip("/")
    models = unique(args.models)

    if not wait_for_server(base, args.wait_seconds, args.poll_seconds, min(args.timeout_seconds, 10), clock, sleep):
        return 1
    try:
        present = present_models(base, args.timeout_seconds)
    except (OSError, ValueError) as exc:
        log(f"ERROR: could not list the models of {base} (GET /api/tags): {exc}")
        return 1
    failed = []
    for model in models:
        if normalize(model) in present:
            log(f"{model}: already present, skipped")
            continue
        log(f"{model}: pulling")
        problem = pull(base, model, args.timeout_seconds, args.progress_seconds)
        if problem is None:
            log(f"{model}: ready")
        else:
            log(f"ERROR: could not pull model {model!r}: {problem}")
            failed.append(model)
    if failed:
        log(f"FAILED: {len(failed)} of {len(models)} model(s) not pulled: {', '.join(failed)}")
        return 1
    log(f"all {len(models)} declared model(s) present: {', '.join(models)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
