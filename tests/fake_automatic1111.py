"""A fake AUTOMATIC1111 API on loopback: /sdapi/v1/progress and /sdapi/v1/unload-checkpoint only.

Shapes from AUTOMATIC1111/stable-diffusion-webui modules/api/api.py (``progressapi``, ``unloadapi``,
and ``auth``: 401 ``Incorrect username or password`` under --api-auth) as read in stored copies of
upstream's file; v1.10.1 itself could not be read (homelab_ai/services/stable_diffusion/contract.py).

It records every call (with its Authorization header and when it came), lets a test start and end
jobs, and can be stopped and started again on the same port to play a restarting web UI.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@attrs.define
class Call:
    path: str
    authorization: str | None
    at: float


class FakeAutomatic1111:
    """Thread-served fake; ``authorization`` (e.g. 'Basic ...') makes every call without it a 401."""

    def __init__(self, port: int | None = None, authorization: str | None = None) -> None:
        self.port = port or free_port()
        self.authorization = authorization
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.job_count = 0
        self.job_timestamp = "20250101000000"
        self._jobs_started = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # What a test does -----------------------------------------------------------------------------

    def start(self) -> FakeAutomatic1111:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self) -> bool:
                auth = self.headers.get("Authorization")
                with fake.lock:
                    fake.calls.append(Call(self.path.split("?")[0], auth, time.monotonic()))
                if fake.authorization and auth != fake.authorization:
                    self._answer(401, {"detail": "Incorrect username or password"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._record():
                    return
                if self.path.startswith("/sdapi/v1/progress"):
                    self._answer(200, fake.progress())
                else:
                    self._answer(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if not self._record():
                    return
                if self.path == "/sdapi/v1/unload-checkpoint":
                    self._answer(200, {})
                else:
                    self._answer(404, {"detail": "Not Found"})

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def start_job(self) -> None:
        with self.lock:
            self._jobs_started += 1
            self.job_count = 1
            self.job_timestamp = f"2025010100{self._jobs_started:04d}"

    def end_job(self) -> float:
        with self.lock:
            self.job_count = 0
        return time.monotonic()

    def instant_job(self) -> float:
        """A job that starts and ends between two polls: only its timestamp shows it happened."""
        self.start_job()
        return self.end_job()

    # What a test reads --------------------------------------------------------------------------

    def progress(self) -> dict:
        with self.lock:
            busy = self.job_count > 0
            return {
                "progress": 0.5 if busy else 0.0,
                "eta_relative": 3.0 if busy else 0.0,
                "state": {
                    "skipped": False,
                    "interrupted": False,
                    "job": "txt2img" if busy else "",
                    "job_count": self.job_count,
                    "job_timestamp": self.job_timestamp,
                    "job_no": 0,
                    "sampling_step": 5 if busy else 0,
                    "sampling_steps": 20 if busy else 0,
                },
                "current_image": None,
                "textinfo": None,
            }

    def calls_to(self, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    @property
    def unloads(self) -> list[Call]:
        return self.calls_to("/sdapi/v1/unload-checkpoint")

    @property
    def polls(self) -> list[Call]:
        return self.calls_to("/sdapi/v1/progress")
