"""Small HTTP servers on 127.0.0.1 that the in-cluster scripts talk to in tests, and a way to run those scripts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from homelab_ai.base.pod_scripts import script_path

# Each in-pod script, by file name, where it lives beside the construct that ships it.
SCRIPTS = {
    "ollama_pull.py": script_path("homelab_ai.services.ollama", "ollama_pull.py"),
    "sd_fetch_models.py": script_path("homelab_ai.services.stable_diffusion", "sd_fetch_models.py"),
}
SCRIPT_TIMEOUT = 60  # seconds; a hung script fails the test instead of the suite


def run_script(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the in-pod script ``name`` the way its container does: a bare interpreter, no homelab_ai import."""
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPTS[name]), *args],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        env=env,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    """A ThreadingHTTPServer in a daemon thread; records (method, path, body) of every request."""

    def __init__(self, port: int = 0) -> None:
        owner = self
        self.requests: list[tuple[str, str, bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.requests.append(("GET", self.path, b""))
                owner.handle(self)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append(("POST", self.path, body))
                owner.handle(self, body)

            def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def handle(self, request: BaseHTTPRequestHandler, body: bytes = b"") -> None:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def _send_json(request: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    _send(request, status, json.dumps(payload).encode(), "application/json")


class FakeOllama(_Server):
    """/api/version, /api/tags and a streaming /api/pull, shaped like Ollama 0.32.15's.

    Shapes from ollama/ollama@v0.32.15: routes server/routes.go L1870-1887 (a known path with another
    method answers 405), ListModelResponse api/types.go L822-832, ProgressResponse L777-782 (total
    and completed omitted when 0), pull errors after the first line as an ``error`` line in the
    200 stream (routes.go L2097-2126, server/images.go L1021-1026).

    ``present``: models it has (full names such as 'llama3.2:latest'); ``pullable``: name -> size
    of the one layer it streams; ``broken``: names it answers with HTTP 500; anything else is
    unknown and answered the way Ollama does, with an ``error`` line in a 200 stream.
    """

    def __init__(self, present=(), pullable=None, broken=(), port: int = 0) -> None:
        super().__init__(port)
        self.present = list(present)
        self.pullable = dict(pullable or {})
        self.broken = set(broken)

    def pulls(self) -> list[dict]:
        return [json.loads(body) for method, path, body in self.requests if (method, path) == ("POST", "/api/pull")]

    VERSION = "0.32.15"
    ROUTES: ClassVar[dict[str, str]] = {"/api/version": "GET", "/api/tags": "GET", "/api/pull": "POST"}

    def handle(self, request: BaseHTTPRequestHandler, body: bytes = b"") -> None:
        method = self.ROUTES.get(request.path)
        if method is None:
            _send(request, 404, b"404 page not found", "text/plain")
        elif request.command != method:
            _send(request, 405, b"405 method not allowed", "text/plain")
        elif request.path == "/api/version":
            _send_json(request, 200, {"version": self.VERSION})
        elif request.path == "/api/tags":
            _send_json(request, 200, {"models": [self._listed(n) for n in self.present]})
        else:
            self._pull(request, json.loads(body)["model"])

    @staticmethod
    def _listed(name: str) -> dict:
        family = name.split(":", 1)[0]
        return {
            "name": name,
            "model": name,
            "modified_at": "2026-08-19T10:00:00Z",
            "size": 2019393189,
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": family,
                "families": [family],
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            },
            "capabilities": ["completion", "tools"],
        }

    def _pull(self, request: BaseHTTPRequestHandler, model: str) -> None:
        if model in self.broken:
            _send_json(request, 500, {"error": f"registry unreachable while pulling {model}"})
            return
        request.send_response(200)
        request.send_header("Content-Type", "application/x-ndjson")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()

        def line(event: dict) -> None:
            data = json.dumps(event).encode() + b"\n"
            request.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            request.wfile.flush()

        line({"status": "pulling manifest"})
        if model not in self.pullable:
            line({"error": "pull model manifest: file does not exist"})
        else:
            total = self.pullable[model]
            for completed in (0, total // 4, total // 2, total):
                line(
                    {"status": "pulling 6a0746a1ec1a", "digest": "sha256:6a07", "total": total, "completed": completed}
                )
            for status in ("verifying sha256 digest", "writing manifest", "success"):
                line({"status": status})
            self.present.append(model if ":" in model else f"{model}:latest")
        request.wfile.write(b"0\r\n\r\n")


class FileServer(_Server):
    """Serves ``files`` (path -> bytes) with a Content-Length; 404 for anything else."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = dict(files)

    def handle(self, request: BaseHTTPRequestHandler, body: bytes = b"") -> None:
        content = self.files.get(request.path.split("?")[0])
        if content is None:
            _send(request, 404, b"no such file", "text/plain")
        else:
            _send(request, 200, content, "application/octet-stream")
