"""Small HTTP servers on 127.0.0.1 that the in-cluster scripts talk to in tests, and a way to run those scripts."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from homelab_ai.base.pod_scripts import script_path
from tests.quick_stop import QuickStopServer

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


def stop_server(server: ThreadingHTTPServer, within: float = 10.0) -> None:
    """shutdown() and close ``server`` without waiting out serve_forever's poll (0.5 s unless set): a connection
    wakes the loop, which then sees the request to stop. Raises if it has not stopped ``within`` seconds."""
    stopper = threading.Thread(target=server.shutdown, daemon=True)
    stopper.start()
    port, end = server.server_address[1], time.monotonic() + within
    while stopper.is_alive():
        if time.monotonic() > end:
            raise AssertionError(f"the server on port {port} did not stop within {within} s")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        stopper.join(0.005)
    server.server_close()


class _Server:
    """A ThreadingHTTPServer in a daemon thread; records (method, path, body) and the headers of every request."""

    def __init__(self, port: int = 0) -> None:
        owner = self
        self.requests: list[tuple[str, str, bytes]] = []
        self.headers: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.headers.append(dict(self.headers))
                owner.requests.append(("GET", self.path, b""))
                owner.handle(self)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.headers.append(dict(self.headers))
                owner.requests.append((self.command, self.path, body))
                owner.handle(self, body)

            do_PUT = do_DELETE = do_PATCH = do_POST

            def do_HEAD(self) -> None:
                owner.requests.append(("HEAD", self.path, b""))
                owner.handle(self)

            def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
                pass

        self.httpd = QuickStopServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def handle(self, request: BaseHTTPRequestHandler, body: bytes = b"") -> None:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def send_json(request: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    send(request, status, json.dumps(payload).encode(), "application/json")


# Names Ollama refuses before streaming (server/routes.go@v0.32.15 PullHandler L1119-1123 ->
# writeModelRefParseError L66-75: HTTP 400 {"error": errtypes.InvalidModelNameErrMsg}).
_VALID_NAME = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*){0,2}(:[A-Za-z0-9_][A-Za-z0-9._-]*)?$"
)
_ROUTES = {"/": {"GET", "HEAD"}, "/api/version": {"GET", "HEAD"}, "/api/tags": {"GET", "HEAD"}, "/api/pull": {"POST"}}


class FakeOllama(_Server):
    """/api/version, /api/tags and a streaming /api/pull, shaped like ollama/ollama at v0.32.15.

    ``present``: models it has (full names such as 'llama3.2:latest'); ``pullable``: name -> sizes of
    the layers it streams; ``unreachable``: names whose registry fails; ``cut``: names whose stream
    stops after the layers with neither ``success`` nor ``error`` (a dropped connection). Anything
    else is unknown to the registry.

    Upstream behaviour it follows (ollama/ollama, tag v0.32.15):
    - server/routes.go L1870 ``r.HandleMethodNotAllowed = true``: a known path with another method
      gets gin's 405 "405 method not allowed" (text/plain); an unknown path 404 "404 page not found".
    - routes.go PullHandler L1102-1161 + streamResponse L2097-2142: NDJSON, one object per line, HTTP
      200 once the first line is out; PullModel (server/images.go L998-1030) always sends
      ``{"status": "pulling manifest"}`` first, so a registry failure or an unknown model arrives as an
      ``{"error": ...}`` line inside the 200 stream, which then ends.
    - an invalid name is refused before streaming: HTTP 400 ``{"error": "invalid model name"}``.
    - api/types.go L777-782 ProgressResponse: ``digest``, ``total``, ``completed`` are ``omitempty``,
      so a layer's first line has no ``completed`` and a status line has neither.
    - a model is several layers (model, template, license, params), each ``pulling <digest[:12]>``.
    """

    VERSION = "0.32.15"

    def __init__(self, present=(), pullable=None, unreachable=(), cut=(), port: int = 0) -> None:
        super().__init__(port)
        self.present = list(present)
        self.pullable = {
            name: list(sizes) if isinstance(sizes, list | tuple) else [sizes]
            for name, sizes in (pullable or {}).items()
        }
        self.unreachable = set(unreachable)
        self.cut = set(cut)

    def pulls(self) -> list[dict]:
        return [json.loads(body) for method, path, body in self.requests if (method, path) == ("POST", "/api/pull")]

    def handle(self, request: BaseHTTPRequestHandler, body: bytes = b"") -> None:
        path = request.path.split("?")[0]
        methods = _ROUTES.get(path)
        if methods is None:
            send(request, 404, b"404 page not found", "text/plain")
        elif request.command not in methods:
            send(request, 405, b"405 method not allowed", "text/plain")
        elif path == "/":
            send(request, 200, b"Ollama is running", "text/plain; charset=utf-8")
        elif path == "/api/version":
            send_json(request, 200, {"version": self.VERSION})
        elif path == "/api/tags":
            send_json(request, 200, {"models": [self._listed(n) for n in self.present]})
        else:
            request_body = json.loads(body or b"{}")
            self._pull(request, str(request_body.get("model") or request_body.get("name") or ""))

    @staticmethod
    def _listed(name: str) -> dict:
        """A ListModelResponse (api/types.go@v0.32.15 L822-832)."""
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
        if not _VALID_NAME.match(model):
            send_json(request, 400, {"error": "invalid model name"})
            return
        start_ndjson(request)

        def line(event: dict) -> None:
            send_chunk(request, json.dumps(event).encode() + b"\n")

        line({"status": "pulling manifest"})
        if model in self.unreachable:
            line({"error": 'pull model manifest: Get "https://registry.ollama.ai/v2/library/x/manifests/latest": '
                           "dial tcp: lookup registry.ollama.ai: no such host"})  # fmt: skip
        elif model not in self.pullable:
            line({"error": "pull model manifest: file does not exist"})
        else:
            for index, total in enumerate(self.pullable[model]):
                digest = f"{index:02d}" + "6a0746a1ec1aa" * 5
                status = {"status": f"pulling {digest[:12]}", "digest": f"sha256:{digest[:64]}"}
                line({**status, "total": total})  # completed 0 is omitted
                for completed in (total // 2, total):
                    line(
                        {**status, "total": total, "completed": completed} if completed else {**status, "total": total}
                    )
            if model not in self.cut:
                for status_text in ("verifying sha256 digest", "writing manifest", "success"):
                    line({"status": status_text})
                self.present.append(model if ":" in model else f"{model}:latest")
        end_chunks(request)


def start_ndjson(request: BaseHTTPRequestHandler) -> None:
    """The head of Ollama's streamed answer (routes.go@v0.32.15 streamResponse L2097-2142): 200, NDJSON, chunked."""
    request.send_response(200)
    request.send_header("Content-Type", "application/x-ndjson")
    request.send_header("Transfer-Encoding", "chunked")
    request.end_headers()


def send_chunk(request: BaseHTTPRequestHandler, data: bytes) -> None:
    request.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    request.wfile.flush()


def end_chunks(request: BaseHTTPRequestHandler) -> None:
    request.wfile.write(b"0\r\n\r\n")


class FileServer(_Server):
    """Serves ``files`` (path -> bytes) with a Content-Length, or chunked without one for the paths in
    ``chunked`` (as a server that streams a file of unknown size does); 404 for anything else."""

    def __init__(self, files: dict[str, bytes], chunked: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.files = dict(files)
        self.chunked = set(chunked)

    def handle(self, request: BaseHTTPRequestHandler, body: bytes = b"") -> None:
        path = request.path.split("?")[0]
        content = self.files.get(path)
        if content is None:
            send(request, 404, b"no such file", "text/plain")
        elif path in self.chunked:
            request.send_response(200)
            request.send_header("Content-Type", "application/octet-stream")
            request.send_header("Transfer-Encoding", "chunked")
            request.end_headers()
            if content:
                send_chunk(request, content)
            end_chunks(request)
        else:
            send(request, 200, content, "application/octet-stream")


class SilentServer:
    """Accepts TCP connections and never answers: a hung server, for timeouts.

    It hangs up on each connection after ``hold`` seconds, so a client that set no timeout fails
    (with "Remote end closed connection") instead of hanging the test; tests of timeouts assert "timed out".
    """

    def __init__(self, hold: float = 3.0) -> None:
        self.hold = hold

    def __enter__(self) -> SilentServer:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:  # closed: the test is over
                return
            timer = threading.Timer(self.hold, connection.close)
            timer.daemon = True
            timer.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        self.sock.close()
