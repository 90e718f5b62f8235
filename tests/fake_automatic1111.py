"""A fake AUTOMATIC1111 web UI on loopback, shaped like the pinned release (v1.10.1).

Upstream facts it follows (AUTOMATIC1111/stable-diffusion-webui; read from the stored upstream copies
of the v1.10 line: modules/shared_state.py at commit 0103365, modules/api/api.py with
/sdapi/v1/schedulers, modules/sd_models.py with ModelType.SD3):

- modules/ui.py setup_ui_api: ``app.add_api_route("/internal/ping", lambda: {}, methods=["GET"])`` on
  the app itself, not through Api.add_api_route, so it answers ``{}`` without credentials.
- modules/api/api.py Api.add_api_route: with ``--api-auth`` every ``/sdapi/v1/...`` route gets
  ``dependencies=[Depends(self.auth)]``; Api.auth uses FastAPI's HTTPBasic, which answers 401
  "Not authenticated" when the header is missing, and Api.auth raises 401 "Incorrect username or
  password" (``WWW-Authenticate: Basic``) for wrong credentials. api_middleware's handle_exception
  turns every HTTPException into ``{"error", "detail", "body", "errors"}`` with its status.
- modules/shared_state.py State.begin (L110-127): ``job_count = -1`` (L113) until processing counts
  its jobs, ``job_timestamp = datetime.now().strftime("%Y%m%d%H%M%S")`` (L116): one-second
  resolution, so two jobs started in the same second carry the same mark. State.end (L129-136):
  ``job = ""``, ``job_count = 0``. State.dict (L95-108) is the ``state`` of /sdapi/v1/progress.
- modules/api/api.py progressapi: ``progress=0, eta_relative=0`` while ``job_count == 0``, else at
  least 0.01 (job_count -1 included).
- modules/api/api.py unloadapi -> sd_models.unload_model_weights -> send_model_to_cpu: the weights
  go to system RAM but stay the current model. text2imgapi -> processing.process_images ->
  sd_models.reload_model_weights(), which returns the current model unchanged when its checkpoint
  is the selected one: nothing moves it back to the GPU, so the next job mixes CPU weights with
  CUDA tensors and fails. reloadapi -> sd_models.send_model_to_device brings it back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs

from tests.quick_stop import QuickStopServer

DEVICE_ERROR = "Expected all tensors to be on the same device, but found at least two devices, cpu and cuda:0!"
# The routes this fake serves, with their methods (modules/api/api.py Api.__init__).
ROUTES = {
    "/sdapi/v1/progress": "GET",
    "/sdapi/v1/txt2img": "POST",
    "/sdapi/v1/unload-checkpoint": "POST",
    "/sdapi/v1/reload-checkpoint": "POST",
}


@attrs.define
class Call:
    method: str
    path: str
    authorization: str | None
    status: int
    at: float
    headers: dict[str, str] = attrs.field(factory=dict)


def _http_exception(status: int, detail: str) -> dict:
    """api_middleware.handle_exception's body for an HTTPException."""
    return {"error": "HTTPException", "detail": detail, "body": "", "errors": f"{status}: {detail}"}


class FakeAutomatic1111:
    """Thread-served fake; ``authorization`` (e.g. 'Basic ...') plays ``--api-auth``."""

    def __init__(
        self, port: int | None = None, authorization: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.port = port or 0  # 0: the kernel picks one at start()
        self.authorization = authorization
        self.clock = clock
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        # State's class defaults (shared_state.py L16-20): no job, timestamp '0'.
        self.job = ""
        self.job_count = 0
        self.job_timestamp = "0"
        self.checkpoint_on_gpu = True  # loaded at start
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # The HTTP side -------------------------------------------------------------------------------

    def start(self) -> FakeAutomatic1111:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, code: int, payload: object, headers: dict[str, str] | None = None) -> None:
                body = json.dumps(payload).encode()
                # Recorded before the answer goes out: a client that has its answer finds its call here.
                path, auth = self.path.split("?")[0], self.headers.get("Authorization")
                with fake.lock:
                    fake.calls.append(Call(self.command, path, auth, code, time.monotonic(), dict(self.headers)))
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _route(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                if path == "/internal/ping" and self.command == "GET":
                    self._answer(200, {})
                    return
                if path not in ROUTES:
                    self._answer(404, {"detail": "Not Found"})
                    return
                if ROUTES[path] != self.command:
                    self._answer(405, {"detail": "Method Not Allowed"})
                    return
                if fake.authorization is not None:
                    given = self.headers.get("Authorization")
                    if given is None:
                        self._answer(401, _http_exception(401, "Not authenticated"), {"WWW-Authenticate": "Basic"})
                        return
                    if given != fake.authorization:
                        detail = "Incorrect username or password"
                        self._answer(401, _http_exception(401, detail), {"WWW-Authenticate": "Basic"})
                        return
                status, payload = fake.handle(path)
                self._answer(status, payload)

            do_GET = do_POST = do_PUT = do_DELETE = _route

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = QuickStopServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str) -> tuple[int, object]:
        if path == "/sdapi/v1/progress":
            return 200, self.progress()
        if path == "/sdapi/v1/unload-checkpoint":
            with self.lock:
                self.checkpoint_on_gpu = False
            return 200, {}
        if path == "/sdapi/v1/reload-checkpoint":
            with self.lock:
                self.checkpoint_on_gpu = True
            return 200, {}
        return self.txt2img()

    def txt2img(self) -> tuple[int, object]:
        """One generation: State.begin, process_images, State.end (api.py text2imgapi)."""
        self.start_job("scripts_txt2img")
        try:
            with self.lock:
                on_gpu = self.checkpoint_on_gpu
            if not on_gpu:
                return 500, {"error": "RuntimeError", "detail": "", "body": "", "errors": DEVICE_ERROR}
            return 200, {"images": ["aW1hZ2U="], "parameters": {}, "info": "{}"}
        finally:
            self.end_job()

    # What a test does -----------------------------------------------------------------------------

    def start_job(self, job: str = "scripts_txt2img") -> None:
        """State.begin: job_count -1 and a timestamp of the current second."""
        with self.lock:
            self.job = job
            self.job_count = -1
            self.job_timestamp = datetime.fromtimestamp(self.clock()).strftime("%Y%m%d%H%M%S")

    def count_jobs(self, count: int = 1) -> None:
        """processing.process_images_inner sets job_count to n_iter once it knows it."""
        with self.lock:
            self.job_count = count

    def end_job(self) -> float:
        with self.lock:
            self.job = ""
            self.job_count = 0
        return time.monotonic()

    def instant_job(self) -> float:
        """A job that starts and ends between two polls: only its timestamp shows it happened."""
        self.start_job()
        return self.end_job()

    # What a test reads --------------------------------------------------------------------------

    def progress(self) -> dict:
        with self.lock:
            busy = self.job_count != 0
            return {
                "progress": 0.01 if busy else 0,
                "eta_relative": 1.0 if busy else 0,
                "state": {
                    "skipped": False,
                    "interrupted": False,
                    "stopping_generation": False,
                    "job": self.job,
                    "job_count": self.job_count,
                    "job_timestamp": self.job_timestamp,
                    "job_no": 0,
                    "sampling_step": 0,
                    "sampling_steps": 0,
                },
                "current_image": None,
                "textinfo": None,
                "current_task": None,
            }

    def calls_to(self, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    @property
    def unloads(self) -> list[Call]:
        return self.calls_to("/sdapi/v1/unload-checkpoint")

    @property
    def reloads(self) -> list[Call]:
        return self.calls_to("/sdapi/v1/reload-checkpoint")

    @property
    def polls(self) -> list[Call]:
        return self.calls_to("/sdapi/v1/progress")
