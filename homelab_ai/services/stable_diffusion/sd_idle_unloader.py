"""sd-idle-unloader: give an idle AUTOMATIC1111 web UI's GPU memory back to the other apps.

AUTOMATIC1111 keeps its checkpoint in VRAM forever. This sidecar polls ``GET /sdapi/v1/progress``,
treats any job (running, or started since the last poll) as activity, and once the web UI has been
idle for the timeout calls ``POST /sdapi/v1/unload-checkpoint`` a single time. A web UI that
restarts loads its checkpoint at start, so coming back after being unreachable counts as activity.

The web UI does NOT load the checkpoint back by itself (v1.10.1: unloadapi -> unload_model_weights
-> send_model_to_cpu keeps the weights as the current model, in system RAM; the next txt2img goes
through process_images -> reload_model_weights(), which returns early for the selected checkpoint,
and fails mixing CPU weights with CUDA tensors). So the sidecar puts it back
(``POST /sdapi/v1/reload-checkpoint`` -> send_model_to_device): before forwarding a generation that
comes through its API gate (``SD_GATE_PORT``: clients such as Open WebUI call the web UI's API
there), and, for a job that did not come through the gate (the web page on the LAN), as soon as it
sees one: that first job fails on the CPU weights, the next one works. In this homelab Open WebUI goes
through the VRAM arbiter, which reloads the same way before it forwards.

Standard library only: it runs as ``python sd_idle_unloader.py`` in a stock Python image.
Configuration, from the environment:

  SD_URL                      the web UI (default http://127.0.0.1:7860)
  SD_IDLE_TIMEOUT_SECONDS     idle time before unloading (default 600)
  SD_POLL_INTERVAL_SECONDS    time between polls (default 15)
  SD_MAX_BACKOFF_SECONDS      longest wait between retries while the web UI is down (default 120)
  SD_REQUEST_TIMEOUT_SECONDS  per-request timeout (default 30)
  SD_API_USER, SD_API_PASSWORD  HTTP basic auth, as given to the web UI's --api-auth (both or neither)
  SD_HEALTH_PORT              serve GET /healthz on this port for the kubelet's probes (default: off)
  SD_GATE_PORT                serve the web UI's API on this port, reloading the checkpoint before a
                              generation when it was unloaded (default: off)
  SD_GATE_TIMEOUT_SECONDS     how long the gate waits for the web UI's answer (default 900)
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

PROGRESS_PATH = "/sdapi/v1/progress?skip_current_image=true"
UNLOAD_PATH = "/sdapi/v1/unload-checkpoint"
RELOAD_PATH = "/sdapi/v1/reload-checkpoint"
# Requests that run a job with the checkpoint (modules/api/api.py text2imgapi, img2imgapi).
GENERATION_PATHS = ("/sdapi/v1/txt2img", "/sdapi/v1/img2img")
# Hop-by-hop headers (RFC 9110 7.6.1) and the ones the gate sets itself.
_NOT_FORWARDED = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host"}


class ConfigError(Exception):
    """A setting the sidecar cannot run with."""


def log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} sd-idle-unloader: {message}", flush=True)


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero")
    return value


class Config:
    """The sidecar's settings, read and checked once at start."""

    def __init__(self, env: dict[str, str]) -> None:
        self.url = (env.get("SD_URL") or "http://127.0.0.1:7860").rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"SD_URL={self.url!r} must start with http:// or https://")
        self.idle_timeout = _seconds(env, "SD_IDLE_TIMEOUT_SECONDS", 600)
        self.poll_interval = _seconds(env, "SD_POLL_INTERVAL_SECONDS", 15)
        self.max_backoff = max(self.poll_interval, _seconds(env, "SD_MAX_BACKOFF_SECONDS", 120))
        self.request_timeout = _seconds(env, "SD_REQUEST_TIMEOUT_SECONDS", 30)
        user = env.get("SD_API_USER", "")
        password = env.get("SD_API_PASSWORD", "")
        if bool(user) != bool(password):
            raise ConfigError("set both SD_API_USER and SD_API_PASSWORD, or neither")
        self.authorization = None
        if user:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.authorization = f"Basic {token}"
        self.user = user
        self.health_port = _port(env, "SD_HEALTH_PORT")
        self.gate_port = _port(env, "SD_GATE_PORT")
        self.gate_timeout = _seconds(env, "SD_GATE_TIMEOUT_SECONDS", 900)


def _port(env: dict[str, str], name: str) -> int:
    """A TCP port from the environment, 0 when unset (the server is off)."""
    raw = env.get(name, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{name}={raw!r} is not a port number (1-65535)")
    return int(raw)


def is_busy(progress: dict[str, Any]) -> bool:
    """A job is running: State.begin sets job_count to -1 until it is counted, State.end back to 0."""
    state = progress.get("state") or {}
    job_count = state.get("job_count") or 0
    return bool(job_count != 0 or state.get("job") or (progress.get("progress") or 0) > 0)


def job_mark(progress: dict[str, Any]) -> str | None:
    """Changes whenever a job starts, so a job that began and ended between two polls is still seen."""
    state = progress.get("state") or {}
    mark = state.get("job_timestamp")
    return None if mark is None else str(mark)


class WebUI:
    """The two API calls the sidecar makes, with basic auth when configured."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def _request(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.config.url}{path}", method=method)
        request.add_header("Accept", "application/json")
        if method == "POST":
            request.add_header("Content-Type", "application/json")
            request.data = b"{}"
        if self.config.authorization:
            request.add_header("Authorization", self.config.authorization)
        with urllib.request.urlopen(request, timeout=self.config.request_timeout) as response:
            body = response.read()
        return json.loads(body) if body.strip() else {}

    def progress(self) -> dict[str, Any]:
        result = self._request("GET", PROGRESS_PATH)
        if not isinstance(result, dict):
            raise ValueError(f"unexpected progress answer: {result!r}")
        return result

    def unload(self) -> None:
        self._request("POST", UNLOAD_PATH)

    def reload(self) -> None:
        self._request("POST", RELOAD_PATH)

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Pass one request to the web UI as it came (the client's own credentials included)."""
        parts = urlsplit(self.config.url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=self.config.gate_timeout)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _NOT_FORWARDED}
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _NOT_FORWARDED | {"content-length"}]
            return response.status, kept, data
        finally:
            connection.close()


def describe_error(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        hint = {
            401: " (check SD_API_USER/SD_API_PASSWORD against the web UI's --api-auth)",
            404: " (is the web UI started with --api?)",
        }.get(exc.code, "")
        return f"HTTP {exc.code} {exc.reason}{hint}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


class IdleUnloader:
    """The poll loop: tracks the last activity and unloads once per idle period."""

    def __init__(
        self, config: Config, web_ui: WebUI, stop: threading.Event, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.web_ui = web_ui
        self.stop = stop
        self.clock = clock
        # The poll loop and the gate's threads both read and change the state below.
        self.lock = threading.RLock()
        self.generating = 0  # generations the gate is forwarding right now
        now = clock()
        # The web UI loads a checkpoint when it starts: count our own start as activity.
        self.last_activity = now
        self.last_tick = now
        self.last_mark: str | None = None
        self.unloaded = False
        self.failures = 0
        self.reached = False

    def run(self) -> None:
        c = self.config
        auth = f"as {c.user!r}" if c.authorization else "without auth"
        log(
            f"watching {c.url} {auth}: unload after {c.idle_timeout:g}s idle, "
            f"poll every {c.poll_interval:g}s, retry backoff up to {c.max_backoff:g}s"
        )
        while not self.stop.is_set():
            self.stop.wait(self.step())
        log("stopping")

    def step(self) -> float:
        """One poll; returns how long to wait before the next."""
        self.last_tick = self.clock()
        try:
            progress = self.web_ui.progress()
        except Exception as exc:  # every failure is retried: the web UI restarts, networks blip
            self.failures += 1
            wait = min(self.config.poll_interval * 2 ** (self.failures - 1), self.config.max_backoff)
            log(f"cannot read progress ({describe_error(exc)}); retry {self.failures} in {wait:g}s")
            return wait
        with self.lock:
            return self._judge(progress)

    def _judge(self, progress: dict[str, Any]) -> float:
        """What one answered poll means: activity, or idle long enough to unload."""
        now = self.clock()
        if self.failures:
            log(f"web UI answers again after {self.failures} failed poll(s); counting that as activity")
            self.failures = 0
            self.last_mark = None
            self._activity(now)
        elif not self.reached:
            log("web UI reachable; idle timer running")
        self.reached = True
        mark = job_mark(progress)
        changed = mark is not None and self.last_mark is not None and mark != self.last_mark
        if mark is not None:
            self.last_mark = mark
        if is_busy(progress) or changed or self.generating:
            self._activity(now)
            return self.config.poll_interval
        idle = now - self.last_activity
        if not self.unloaded and idle >= self.config.idle_timeout:
            log(f"idle for {idle:.0f}s (timeout {self.config.idle_timeout:g}s): unloading the checkpoint")
            try:
                self.web_ui.unload()
            except Exception as exc:
                log(f"unload failed ({describe_error(exc)}); trying again at the next poll")
            else:
                self.unloaded = True
                log("checkpoint unloaded; it is reloaded before the next generation")
        return self.config.poll_interval

    def _activity(self, now: float) -> None:
        if self.unloaded:
            self._reload("a job started after the unload")
        self.last_activity = now

    def _reload(self, why: str) -> None:
        """Put the checkpoint back on the GPU (reload-checkpoint); on failure stay 'unloaded' to retry."""
        try:
            self.web_ui.reload()
        except Exception as exc:
            log(f"{why}, but reloading the checkpoint failed ({describe_error(exc)}); trying again")
            return
        self.unloaded = False
        log(f"{why}: checkpoint reloaded; idle timer restarted")

    def before_generation(self) -> None:
        """Called by the gate before it forwards a generation: the checkpoint must be on the GPU."""
        with self.lock:
            self.generating += 1
            if self.unloaded:
                self._reload("generation request through the gate")
            self.last_activity = self.clock()

    def after_generation(self) -> None:
        with self.lock:
            self.generating -= 1
            self.last_activity = self.clock()

    def healthy(self) -> bool:
        """The loop is alive: it polled within a few of its longest waits."""
        stale_after = 3 * self.config.max_backoff + 2 * self.config.request_timeout
        return self.clock() - self.last_tick < stale_after


def serve_health(unloader: IdleUnloader, port: int) -> ThreadingHTTPServer:
    """GET /healthz: 200 while the poll loop runs. It never reports on the web UI itself."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/healthz" and unloader.healthy()
            code = 200 if ok else (503 if self.path == "/healthz" else 404)
            body = b"ok\n" if ok else b"not ok\n"
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: no log lines
            return

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def serve_gate(unloader: IdleUnloader, port: int) -> ThreadingHTTPServer:
    """The web UI's API on ``port``: requests pass through; a generation first gets its checkpoint back."""

    class Gate(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            generation = self.command == "POST" and self.path.split("?")[0] in GENERATION_PATHS
            if generation:
                unloader.before_generation()
            try:
                status, headers, data = unloader.web_ui.forward(self.command, self.path, dict(self.headers), body)
            except OSError as exc:
                status, headers = 502, [("Content-Type", "application/json")]
                data = json.dumps({"detail": f"sd-idle-unloader gate: the web UI did not answer ({exc})"}).encode()
            finally:
                if generation:
                    unloader.after_generation()
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("0.0.0.0", port), Gate)
    threading.Thread(target=server.serve_forever, name="gate", daemon=True).start()
    return server


def main(env: dict[str, str] | None = None) -> int:
    try:
        config = Config(dict(os.environ if env is None else env))
    except ConfigError as exc:
        print(f"sd-idle-unloader: configuration error: {exc}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    unloader = IdleUnloader(config, WebUI(config), stop)
    if config.health_port:
        serve_health(unloader, config.health_port)
    if config.gate_port:
        serve_gate(unloader, config.gate_port)
    unloader.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
