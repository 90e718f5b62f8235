"""The VRAM arbiter as its pod runs it (a bare interpreter on the script file), for tests and `make bench`.

``load_arbiter()`` imports the script (by its package name) for unit tests of its pure functions; ``ArbiterProcess``
runs it as a subprocess with a generated config, collects its JSON log lines and reads /status and
/metrics; ``call()`` is a small client that returns status, headers and every body chunk with the
time it arrived.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.ports import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
ARBITER_SCRIPT = REPO_ROOT / "homelab_ai" / "services" / "vram_arbiter" / "vram_arbiter.py"
DEADLINE = 20.0


def load_arbiter() -> ModuleType:
    """The in-pod script as a module, under its package name (standard library only, so no cdk8s is loaded;
    `make mutate` finds the functions the tests call by this name)."""
    return importlib.import_module("homelab_ai.services.vram_arbiter.vram_arbiter")


def wait_until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


def app_config(
    name: str,
    kind: str,
    upstream: str,
    *,
    envelope: tuple[float, float, float],
    max_wait_s: float = 10.0,
    **extra: Any,
) -> dict[str, Any]:
    idle, active_min, active_max = envelope
    return {
        "name": name,
        "kind": kind,
        "upstream": upstream,
        "listen_port": free_port(),
        "envelope": {"idle_gib": idle, "active_min_gib": active_min, "active_max_gib": active_max},
        "max_wait_seconds": max_wait_s,
        **extra,
    }


def rig_config(
    ollama_url: str,
    sd_url: str,
    *,
    poll_interval_s: float,
    ollama_wait_s: float,
    sd_wait_s: float,
    **sd_extra: Any,
) -> dict[str, Any]:
    """The arbiter's config for the two fakes, with the spec's envelopes: 24 GiB card, Ollama 0/8-16, SD 0/8-12."""
    return {
        "card": {"name": "simulated 24 GiB", "vram_gib": 24},
        "status_port": free_port(),
        "listen_host": "127.0.0.1",
        "poll_interval_seconds": poll_interval_s,
        "request_timeout_seconds": 5,
        "unload_timeout_seconds": 5,
        "apps": [
            app_config(
                "ollama",
                "ollama",
                ollama_url,
                envelope=(0, 8, 16),
                max_wait_s=ollama_wait_s,
                keep_alive_cap_seconds=300,
            ),
            app_config(
                "stable-diffusion", "automatic1111", sd_url, envelope=(0, 8, 12), max_wait_s=sd_wait_s, **sd_extra
            ),
        ],
    }


class PortTaken(Exception):
    """The arbiter could not listen on a port of its config: something else took it first."""


class ArbiterProcess:
    """``python -I vram_arbiter.py --config FILE`` with its stdout parsed line by line."""

    def __init__(self, config: dict[str, Any], env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = env or {}
        handle, path = tempfile.mkstemp(prefix="vram-arbiter-", suffix=".json")
        with os.fdopen(handle, "w") as out:
            json.dump(config, out)
        self.config_path = Path(path)
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.stderr = ""
        self._starts_before = 0

    @property
    def status_url(self) -> tuple[str, int]:
        return ("127.0.0.1", self.config["status_port"])

    def port(self, app: str) -> int:
        return next(a["listen_port"] for a in self.config["apps"] if a["name"] == app)

    def start(self, wait: bool = True) -> ArbiterProcess:
        """Start the arbiter; with ``wait``, until it answers /healthz. Its ports come from free_port() and are
        bound only when it starts, so another test's process may take one first: then it starts on new ones."""
        for _ in range(3):
            self._spawn()
            if not wait:
                return self
            try:
                wait_until(self.healthy, "the arbiter's /healthz")
                return self
            except PortTaken:
                self.config["status_port"] = free_port()
                for app in self.config["apps"]:
                    app["listen_port"] = free_port()
                self.config_path.write_text(json.dumps(self.config))
        raise AssertionError("the arbiter found a port of its config taken three times")

    def _spawn(self) -> None:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **self.env}
        self._starts_before = len(self.events("start"))
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(ARBITER_SCRIPT), "--config", str(self.config_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def healthy(self) -> bool:
        """This process answers /healthz: it has logged its start (it listens on every port of its config by
        then), so the answer is not from another test's server on a port it has not bound yet."""
        assert self.proc is not None and self.proc.stderr is not None
        if self.proc.poll() is not None:
            stderr = self.proc.stderr.read()
            if "vram-arbiter: cannot listen:" in stderr:
                raise PortTaken(stderr)
            raise AssertionError(f"the arbiter exited with {self.proc.returncode}: {stderr}")
        if len(self.events("start")) <= self._starts_before:
            return False
        try:
            return get(*self.status_url, "/healthz")[0] == 200
        except OSError:
            return False

    def events(self, event: str) -> list[dict[str, Any]]:
        return [record for record in map(json.loads, list(self.lines)) if record.get("event") == event]

    def status(self) -> dict[str, Any]:
        return json.loads(get(*self.status_url, "/status")[1])

    def app_status(self, app: str) -> dict[str, Any]:
        return next(a for a in self.status()["apps"] if a["name"] == app)

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of /metrics (0 when absent)."""
        text = get(*self.status_url, "/metrics")[1].decode()
        for line in text.splitlines():
            match = re.fullmatch(r"(\w+)\{(.*)\} (\S+)", line)
            if not match or match.group(1) != name:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(3))
        return 0.0

    def wait_exit(self) -> int:
        """Wait for the process to end by itself; its exit code."""
        assert self.proc is not None and self.proc.stderr is not None
        code = self.proc.wait(timeout=DEADLINE)
        self.stderr = self.proc.stderr.read()
        return code

    def kill(self) -> None:
        """SIGKILL: the pod's container dies without any chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=DEADLINE)
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        return code

    def cleanup(self) -> None:
        self.kill()
        self.config_path.unlink(missing_ok=True)


def get(host: str, port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Answer:
    """What a client got: status, headers, and each piece of the body with when it arrived."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[tuple[float, bytes]] = []
        self.error: str | None = None
        self.done = threading.Event()

    @property
    def body(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)

    def json(self) -> Any:
        return json.loads(self.body)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


def call(
    port: int,
    method: str,
    path: str,
    payload: Any = None,
    *,
    headers: dict[str, str] | None = None,
    answer: Answer | None = None,
    timeout: float = DEADLINE,
) -> Answer:
    """One request to 127.0.0.1:``port``; reads the body as it streams in (read1: no waiting for more)."""
    answer = answer or Answer()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = None if payload is None else json.dumps(payload).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        answer.status = response.status
        answer.headers = {k.lower(): v for k, v in response.getheaders()}
        while True:
            data = response.read1(65536)
            if not data:
                break
            answer.chunks.append((time.monotonic(), data))
    except (OSError, http.client.HTTPException) as exc:
        answer.error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
        answer.done.set()
    return answer


def call_in_background(port: int, method: str, path: str, payload: Any = None, **kwargs: Any) -> Answer:
    """``call()`` in a daemon thread; wait on ``answer.done``."""
    answer = Answer()
    threading.Thread(
        target=call, args=(port, method, path, payload), kwargs={**kwargs, "answer": answer}, daemon=True
    ).start()
    return answer
