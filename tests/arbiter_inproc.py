"""The VRAM arbiter in this process, in front of the fake apps, for tests that `make mutate` can attribute.

``Harness`` builds the spec's rig (a 24 GiB card; Ollama 0 / 8-16 GiB, Stable Diffusion 0 / 8-12 GiB)
from the fakes in tests/fake_gpu_apps.py, an ``Arbiter`` on a clock the test moves, and on demand the
arbiter's own proxy and status servers on 127.0.0.1 (port 0) in threads. Every HTTP call has a short
timeout, so a mutant that hangs ends its test fast.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
from typing import Any

from tests.arbiter_rig import load_arbiter
from tests.fake_gpu_apps import FakeAutomatic1111, FakeOllama, SimulatedCard
from tests.ports import free_port
from tests.quick_stop import QuickStop, QuickStopServer

arb = load_arbiter()

GIB = 1024**3
SD = "stable-diffusion"
TIMEOUT = 3.0
CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello"}]}


class _ProxyServer(QuickStop, arb.ProxyServer):
    """The arbiter's proxy server, stopped at once at the end of a test (its own serve_forever polls)."""


class _StatusServer(QuickStop, arb.StatusServer):
    """The arbiter's status server, stopped at once at the end of a test."""


class Clock:
    """The arbiter's wall clock (epoch seconds), moved by the test.

    A watchdog: ``hang_after_s`` real seconds after it was made, it jumps a day ahead, so a request that
    a broken arbiter would leave waiting forever on this still clock runs out of its wait and the test
    fails at once (no test here runs that long).
    """

    def __init__(self, now: float = 1_767_225_600.0, hang_after_s: float = 3.0) -> None:  # 2026-01-01T00:00:00Z
        import time

        self.now = now
        self._monotonic = time.monotonic
        self._give_up_at = time.monotonic() + hang_after_s

    def __call__(self) -> float:
        return self.now + (86_400.0 if self._monotonic() > self._give_up_at else 0.0)


def raw_config(ollama_url: str, sd_url: str, **top: Any) -> dict[str, Any]:
    """The config the chart generates, for the two fakes, with the spec's envelopes."""
    sd_extra = top.pop("sd_extra", {})
    ollama_extra = top.pop("ollama_extra", {})
    return {
        "card": {"name": "simulated 24 GiB", "vram_gib": 24},
        "status_port": free_port(),
        "listen_host": "127.0.0.1",
        "poll_interval_seconds": 0.02,
        "request_timeout_seconds": TIMEOUT,
        "unload_timeout_seconds": 1,
        "upstream_timeout_seconds": TIMEOUT,
        "apps": [
            {
                "name": "ollama",
                "kind": "ollama",
                "upstream": ollama_url,
                "listen_port": free_port(),
                "envelope": {"idle_gib": 0, "active_min_gib": 8, "active_max_gib": 16},
                "max_wait_seconds": 30,
                "keep_alive_cap_seconds": 300,
                **ollama_extra,
            },
            {
                "name": SD,
                "kind": "automatic1111",
                "upstream": sd_url,
                "listen_port": free_port(),
                "envelope": {"idle_gib": 0, "active_min_gib": 8, "active_max_gib": 12},
                "max_wait_seconds": 20,
                **sd_extra,
            },
        ],
        **top,
    }


class Harness:
    """A card, the two fakes on it, and an arbiter (with optional proxies) in front of them."""

    def __init__(
        self,
        *,
        ollama: dict[str, Any] | None = None,
        sd: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        **top: Any,
    ) -> None:
        self.card = SimulatedCard(24)
        self.ollama = FakeOllama(self.card, {"llama3.2": 16.0, "tiny": 4.0}, **(ollama or {})).start()
        self.sd = FakeAutomatic1111(self.card, **(sd or {})).start()
        self.clock = Clock()
        self.raw = raw_config(self.ollama.url, self.sd.url, **top)
        self.config = arb.load_config(self.raw, env or {})
        clients = {a.name: arb.make_client(a, self.config.request_timeout_s) for a in self.config.apps}
        self.arbiter = arb.Arbiter(self.config, clients, clock=self.clock)
        self.servers: list[Any] = []
        # Once the clock's watchdog has jumped, wake anything waiting in the arbiter to see it.
        self._watchdog = threading.Timer(3.1, self._wake)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _wake(self) -> None:
        with self.arbiter.cond:
            self.arbiter.cond.notify_all()

    def observe(self) -> None:
        """Read every app once, as the first poll does (without its reaction and restore steps, which tests
        that need them call themselves: fewer tests reach them, so `make mutate` runs fewer per mutant)."""
        for name in self.arbiter.apps:
            self.arbiter.refresh(name)

    def app(self, name: str) -> Any:
        return next(a for a in self.config.apps if a.name == name)

    def state(self, name: str) -> Any:
        return self.arbiter.apps[name]

    def proxy(self, name: str, upstream: str | None = None, timeout: float = TIMEOUT) -> int:
        """Start the arbiter's proxy for ``name`` on a free port (optionally to another upstream); its port."""
        app = self.app(name)
        if upstream is not None:
            app = dataclasses.replace(app, upstream=upstream)
        server = _ProxyServer(("127.0.0.1", 0), self.arbiter, app, timeout)
        self._serve(server)
        return server.server_address[1]

    def status_server(self, threads: list[threading.Thread] | None = None) -> int:
        server = _StatusServer(("127.0.0.1", 0), self.arbiter, threads or [])
        self._serve(server)
        return server.server_address[1]

    def _serve(self, server: Any) -> None:
        self.servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop every server (each stops at once: see tests/quick_stop.py) and release what the fakes hold."""
        self._watchdog.cancel()
        self.ollama.resume_streams()
        self.sd.resume_jobs()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self.ollama.stop()
        self.sd.stop()


class Reply:
    """Status, headers (lower-case names) and body of one answer."""

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def json(self) -> Any:
        return json.loads(self.body)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


def request(
    port: int,
    method: str,
    path: str,
    payload: Any = None,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> Reply:
    """One request to 127.0.0.1:``port`` with a short timeout."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if body is None and payload is not None:
            body = json.dumps(payload).encode()
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, response.reason, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def records(out: str, event: str | None = None) -> list[dict[str, Any]]:
    """The JSON log lines in captured stdout, without their timestamps (optionally one event's)."""
    found = []
    for line in out.splitlines():
        record = json.loads(line)
        record.pop("time")
        if event is None or record["event"] == event:
            found.append(record)
    return found


def events(out: str) -> list[str]:
    return [record["event"] for record in records(out)]


class Scripted:
    """A server on 127.0.0.1 that answers each path with a fixed (status, body) and records what it got:
    for an app's error answers the fakes do not give (a 500 from /memory, a body that is not JSON)."""

    def __init__(self, answers: dict[str, tuple], host: str = "127.0.0.1") -> None:
        from http.server import BaseHTTPRequestHandler

        self.answers = answers
        self.got: list[tuple[str, str, dict[str, str], bytes]] = []
        self.header_lists: list[list[tuple[str, str]]] = []  # every header line, in order, repeats kept
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                scripted.got.append((self.command, self.path, dict(self.headers.items()), body))
                scripted.header_lists.append(list(self.headers.items()))
                status, data, *extra = scripted.answers.get(self.path.split("?")[0], (404, b'{"detail":"Not Found"}'))
                headers = extra[0] if extra else {}
                self.send_response(status, extra[1] if len(extra) > 1 else None)
                for key, value in headers.items():
                    if value is not None:  # None: leave the header out (an answer without a length)
                        self.send_header(key, value)
                if status not in (204, 304) and "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD" and status not in (204, 304):
                    self.wfile.write(data)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

        self.server = QuickStopServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Any, deadline: float = 3.0) -> bool:
    """Poll ``condition`` until it holds or ``deadline`` seconds pass (the proxy releases a request after
    the client has its last byte, in the proxy's thread); whether it held."""
    import time

    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.001)
    return True


def released(harness: Harness, name: str) -> bool:
    """Wait until no request the arbiter admitted for ``name`` is in flight."""
    return wait_for(lambda: not harness.state(name).inflight)


class Silent:
    """A port that accepts connections (the kernel's backlog) and never answers: an app that hangs.

    After ``hang_up_s`` it closes, resetting whatever still waits: a client without a timeout then
    fails ("Connection reset", not "timed out") instead of hanging a mutant's test for the harness's limit.
    """

    def __init__(self, hang_up_s: float = 1.5) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.timer = threading.Timer(hang_up_s, self.stop)
        self.timer.daemon = True
        self.timer.start()

    def stop(self) -> None:
        self.timer.cancel()
        self.sock.close()
