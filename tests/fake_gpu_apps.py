"""A fake Ollama and a fake AUTOMATIC1111 on 127.0.0.1 that share one simulated card.

The card is the point: each fake asks it for VRAM the way the real app allocates (Ollama a model's
whole size at load; AUTOMATIC1111 its checkpoint at start, more while sampling, its peak at the end
of a job when the VAE decodes), and an allocation past the card's size is a simulated CUDA
out-of-memory: the allocating request fails with the app's own error shape and ``card.ooms`` counts
it. Both fakes can be stopped and started again on the same port (a restart frees the process's
VRAM; AUTOMATIC1111 loads its checkpoint again at start), and both can hold a stream or a job open
until a test releases it, so tests and the benchmark control overlaps instead of sleeping on them.

API shapes follow the upstream source (cited per handler): Ollama v0.6.8 (this chart's pin; same
shapes at v0.32.15) and AUTOMATIC1111 v1.10.1.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.quick_stop import QuickStopServer

GIB = 1024**3
DEFAULT_DEADLINE = 30.0


class SimulatedCard:
    """One GPU's memory shared by every fake; an allocation past ``total`` is an out-of-memory."""

    def __init__(self, total_gib: float = 24.0) -> None:
        self.total = int(total_gib * GIB)
        self.lock = threading.Lock()
        self.held: dict[str, int] = {}
        self.ooms: list[tuple[str, int, int]] = []  # (owner, bytes it wanted, bytes the others held)
        self.peak = 0

    def set(self, owner: str, nbytes: int) -> bool:
        """Make ``owner`` hold ``nbytes``; False (and an OOM recorded) when that would not fit."""
        with self.lock:
            others = sum(v for k, v in self.held.items() if k != owner)
            if nbytes > self.held.get(owner, 0) and others + nbytes > self.total:
                self.ooms.append((owner, nbytes, others))
                return False
            self.held[owner] = nbytes
            self.peak = max(self.peak, others + nbytes)
            return True

    def holding(self, owner: str) -> int:
        with self.lock:
            return self.held.get(owner, 0)

    @property
    def used(self) -> int:
        with self.lock:
            return sum(self.held.values())

    @property
    def oom_count(self) -> int:
        with self.lock:
            return len(self.ooms)


class _QuietServer(QuickStopServer):
    """Clients that hang up (the arbiter killed mid-stream) are part of the tests, not errors."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class _FakeServer:
    """A restartable ThreadingHTTPServer on a fixed port; ``generation`` changes at every (re)start.

    Without a port, the first start takes one from the kernel (a port picked earlier and bound later can be
    taken in between by another test's connection) and every restart comes back on it.
    """

    name = "fake"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or 0
        self.lock = threading.Condition()
        self.generation = 0
        self._server: ThreadingHTTPServer | None = None
        self.requests: list[tuple[str, str, Any]] = []
        self._gate: threading.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def on_start(self) -> None:
        """What the real app does when its process starts."""

    def on_stop(self) -> None:
        """What dies with the real app's process."""

    def start(self) -> _FakeServer:
        with self.lock:
            self.generation += 1
            self.lock.notify_all()
        self.on_start()
        server = _QuietServer(("127.0.0.1", self.port), self.handler())
        self._server, self.port = server, server.server_address[1]
        threading.Thread(target=server.serve_forever, name=f"{self.name}-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self.lock:
            self.generation += 1  # streams and jobs of the old process end
            self.lock.notify_all()
        self.on_stop()

    def record(self, method: str, path: str, payload: Any) -> None:
        with self.lock:
            self.requests.append((method, path, payload))

    def pause(self) -> None:
        """Hold every stream (Ollama: after its first line) or job (A1111: while sampling) until resume()."""
        with self.lock:
            self._gate = threading.Event()

    def resume(self) -> None:
        with self.lock:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def wait_for(self, condition: Callable[[], bool], what: str, deadline: float = DEFAULT_DEADLINE) -> None:
        """Wait (with a deadline) until ``condition``, read under the fake's lock, holds."""
        end = time.monotonic() + deadline
        with self.lock:
            while not condition():
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {deadline}s waiting for {what}")
                self.lock.wait(min(left, 0.05))

    def posts_to(self, path: str) -> list[Any]:
        with self.lock:
            return [payload for method, p, payload in self.requests if method == "POST" and p == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: Any

    def log_message(self, format: str, *args: object) -> None:
        return

    def body_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            return None

    def answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


# -----------------------------------------------------------------------------------------------------
# Ollama
# -----------------------------------------------------------------------------------------------------


def ollama_keep_alive(value: Any, default_s: float) -> float:
    """api/types.go Duration.UnmarshalJSON (v0.6.8 L692-720): number = seconds, string = Go duration,
    negative = forever (math.inf here); absent = OLLAMA_KEEP_ALIVE."""
    if value is None:
        return default_s
    if isinstance(value, int | float):
        return math.inf if value < 0 else float(int(value))
    text = str(value).strip()
    units = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    if text in ("0", "-0"):
        return 0.0
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    total, number = 0.0, ""
    i = 0
    while i < len(text):
        if text[i].isdigit() or text[i] == ".":
            number += text[i]
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else text[i]
        if unit not in units or not number:
            raise ValueError(f"time: invalid duration {value!r}")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise ValueError(f'time: missing unit in duration "{value}"')
    return math.inf if sign < 0 else total


class _Runner:
    def __init__(self, size: int, session_s: float) -> None:
        self.size = size
        self.refs = 0
        self.session_s = session_s
        self.expires_at: float | None = None  # monotonic; None while in use or forever
        self.loaded_at = time.time()


class FakeOllama(_FakeServer):
    """``models``: name -> GiB it takes on the card when loaded (KV cache included, as Ollama estimates).

    Streams ``tokens`` NDJSON lines ``token_delay_s`` apart. ``pause_streams()`` holds every stream
    after its first line until ``resume_streams()``.
    """

    name = "fake-ollama"

    def __init__(
        self,
        card: SimulatedCard,
        models: dict[str, float] | None = None,
        *,
        port: int | None = None,
        tokens: int = 5,
        token_delay_s: float = 0.0,
        load_s: float = 0.0,
        keep_alive_s: float = 300.0,
        max_loaded_models: int = 1,
    ) -> None:
        super().__init__(port)
        self.card = card
        self.models = {self.normalize(k): int(v * GIB) for k, v in (models or {"llama3.2": 16.0}).items()}
        self.tokens = tokens
        self.token_delay_s = token_delay_s
        self.load_s = load_s
        self.keep_alive_s = keep_alive_s
        self.max_loaded_models = max_loaded_models
        self.loaded: dict[str, _Runner] = {}
        self.active_streams = 0
        self.completed = 0
        self.failed_loads = 0
        self.keep_alives: list[Any] = []
        self._reaper: threading.Thread | None = None

    @staticmethod
    def normalize(name: str) -> str:
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

    # -- lifecycle ------------------------------------------------------------------------------------

    def on_start(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="fake-ollama-reaper", daemon=True)
            self._reaper.start()

    def on_stop(self) -> None:
        with self.lock:
            self._reaper = None  # the process's timers die with it (and the thread ends: tests make many fakes)
            self.loaded.clear()
            self.active_streams = 0
            self._sync_card()

    def _reap(self) -> None:
        """Ollama's expire timers (server/sched.go): an idle runner past its keep_alive unloads."""
        me = threading.current_thread()
        while True:
            time.sleep(0.01)
            with self.lock:
                if self._reaper is not me:
                    return
                now = time.monotonic()
                expired = [
                    n
                    for n, r in self.loaded.items()
                    if r.refs == 0 and r.expires_at is not None and now >= r.expires_at
                ]
                for name in expired:
                    del self.loaded[name]
                if expired:
                    self._sync_card()
                    self.lock.notify_all()

    def _sync_card(self) -> None:
        self.card.set("ollama", sum(r.size for r in self.loaded.values()))

    # -- what tests do --------------------------------------------------------------------------------

    pause_streams = _FakeServer.pause
    resume_streams = _FakeServer.resume

    def loaded_names(self) -> list[str]:
        with self.lock:
            return list(self.loaded)

    # -- the API --------------------------------------------------------------------------------------

    def ps(self) -> dict[str, Any]:
        """GET /api/ps: server/routes.go PsHandler (v0.6.8 L1395-1434), api/types.go ProcessModelResponse
        (v0.6.8 L464-472): name, model, size, digest, details, expires_at, size_vram; longest-lived first."""
        with self.lock:
            models = []
            for name, runner in self.loaded.items():
                if runner.expires_at is None:
                    expires = datetime.now(UTC) + (
                        timedelta(days=365 * 200)
                        if math.isinf(runner.session_s)
                        else timedelta(seconds=runner.session_s)
                    )
                else:
                    expires = datetime.now(UTC) + timedelta(seconds=max(0.0, runner.expires_at - time.monotonic()))
                models.append(
                    {
                        "name": name,
                        "model": name,
                        "size": runner.size,
                        "digest": "sha256:" + "0" * 64,
                        "details": {"format": "gguf", "family": "llama"},
                        "expires_at": expires.isoformat(),
                        "size_vram": runner.size,
                    }
                )
            models.sort(key=lambda m: m["expires_at"], reverse=True)
            return {"models": models}

    def _expire(self, name: str) -> None:
        """sched.go expireRunner (v0.6.8 L844-861): unload now if idle, else as soon as its requests end."""
        runner = self.loaded.get(name)
        if runner is None:
            return
        runner.session_s = 0.0
        runner.expires_at = time.monotonic()
        if runner.refs == 0:
            del self.loaded[name]
            self._sync_card()
            self.lock.notify_all()

    def _acquire(self, name: str, session_s: float) -> tuple[_Runner | None, str | None]:
        """Load ``name`` if needed (evicting idle runners past max_loaded_models), take a reference."""
        gen = self.generation
        with self.lock:
            runner = self.loaded.get(name)
            if runner is None:
                # sched.go: at the limit, wait for an idle runner to evict (it never cuts a request short).
                end = time.monotonic() + DEFAULT_DEADLINE
                while len(self.loaded) >= self.max_loaded_models:
                    idle = [n for n, r in self.loaded.items() if r.refs == 0]
                    if idle:
                        del self.loaded[idle[0]]
                        self._sync_card()
                        continue
                    if time.monotonic() > end or gen != self.generation:
                        return None, "timed out waiting for a runner"
                    self.lock.wait(0.05)
                size = self.models[name]
                wanted = sum(r.size for r in self.loaded.values()) + size
                if not self.card.set("ollama", wanted):
                    self.failed_loads += 1
                    # llm/server.go surfaces a runner that died loading as this error (HTTP 500).
                    return None, "llama runner process has terminated: cudaMalloc failed: out of memory"
                runner = _Runner(size, session_s)
                self.loaded[name] = runner
            runner.refs += 1
            runner.session_s = session_s
            runner.expires_at = None
            return runner, None

    def _release(self, name: str, runner: _Runner) -> None:
        with self.lock:
            runner.refs -= 1
            if self.loaded.get(name) is runner and runner.refs == 0:
                if runner.session_s <= 0:
                    del self.loaded[name]
                    self._sync_card()
                elif not math.isinf(runner.session_s):
                    runner.expires_at = time.monotonic() + runner.session_s
            self.lock.notify_all()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(_Handler):
            def do_GET(self) -> None:
                fake.record("GET", self.path, None)
                if self.path == "/api/ps":
                    self.answer(200, fake.ps())
                elif self.path == "/api/version":
                    self.answer(200, {"version": "0.6.8"})
                elif self.path == "/api/tags":
                    self.answer(200, {"models": [{"name": n, "model": n, "size": s} for n, s in fake.models.items()]})
                else:
                    self.answer(404, {"error": "not found"})

            def do_POST(self) -> None:
                payload = self.body_json()
                fake.record("POST", self.path, payload)
                if self.path not in ("/api/generate", "/api/chat"):
                    self.answer(404, {"error": "not found"})
                    return
                if not isinstance(payload, dict):
                    self.answer(400, {"error": "invalid character in request body"})
                    return
                self.generate(self.path == "/api/chat", payload)

            def generate(self, chat: bool, payload: dict[str, Any]) -> None:
                # server/routes.go GenerateHandler (v0.6.8 L121-185) and ChatHandler (L1436-1490).
                name = fake.normalize(str(payload.get("model") or ""))
                if name not in fake.models:
                    self.answer(404, {"error": f"model '{payload.get('model')}' not found"})
                    return
                if "keep_alive" in payload:
                    with fake.lock:
                        fake.keep_alives.append(payload["keep_alive"])
                try:
                    session = ollama_keep_alive(payload.get("keep_alive"), fake.keep_alive_s)
                except ValueError as exc:
                    self.answer(400, {"error": str(exc)})
                    return
                empty = not payload.get("messages") if chat else not payload.get("prompt")
                if empty and "keep_alive" in payload and session == 0:
                    with fake.lock:
                        fake._expire(name)
                    # routes.go v0.6.8 L162-173 (generate) / L1449-1470 (chat): done_reason "unload".
                    self.answer(
                        200,
                        {
                            "model": payload["model"],
                            "created_at": _now(),
                            "response": "",
                            "done": True,
                            "done_reason": "unload",
                        },
                    )
                    return
                if fake.load_s and name not in fake.loaded_names():
                    time.sleep(fake.load_s)
                runner, error = fake._acquire(name, session)
                if runner is None:
                    self.answer(500, {"error": error})
                    return
                gen = fake.generation
                try:
                    if payload.get("stream") is False:
                        self.answer(
                            200,
                            self.line(chat, payload["model"], "".join(f"t{i} " for i in range(fake.tokens)), done=True),
                        )
                    else:
                        self.stream(chat, payload["model"], gen)
                finally:
                    fake._release(name, runner)

            def line(self, chat: bool, model: str, text: str, done: bool) -> dict[str, Any]:
                event: dict[str, Any] = {"model": model, "created_at": _now(), "done": done}
                if chat:
                    event["message"] = {"role": "assistant", "content": text}
                else:
                    event["response"] = text
                if done:
                    event.update({"done_reason": "stop", "total_duration": 1, "eval_count": fake.tokens})
                return event

            def stream(self, chat: bool, model: str, gen: int) -> None:
                # routes.go streamResponse (v0.6.8 L1370-1393): application/x-ndjson, one JSON object a line.
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                with fake.lock:
                    fake.active_streams += 1
                    fake.lock.notify_all()
                try:
                    for i in range(fake.tokens):
                        self.chunk(self.line(chat, model, f"t{i} ", done=False))
                        if i == 0:
                            with fake.lock:
                                gate = fake._gate
                            if gate is not None:
                                while not gate.wait(0.05):
                                    if gen != fake.generation:
                                        raise ConnectionAbortedError("the fake Ollama restarted")
                        if fake.token_delay_s:
                            time.sleep(fake.token_delay_s)
                        if gen != fake.generation:
                            raise ConnectionAbortedError("the fake Ollama restarted")
                    self.chunk(self.line(chat, model, "", done=True))
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    with fake.lock:
                        fake.completed += 1
                except OSError:  # the client went away (Ollama cancels the request), or we "died"
                    self.close_connection = True
                finally:
                    with fake.lock:
                        fake.active_streams -= 1
                        fake.lock.notify_all()

            def chunk(self, event: dict[str, Any]) -> None:
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler


# -----------------------------------------------------------------------------------------------------
# AUTOMATIC1111
# -----------------------------------------------------------------------------------------------------


class FakeAutomatic1111(_FakeServer):
    """AUTOMATIC1111 v1.10.1's API as far as VRAM goes.

    At rest it holds ``checkpoint_gib``; a job holds ``sampling_gib`` while sampling and
    ``peak_gib`` from ``peak_at_s`` into the job until it ends (the VAE decode). Jobs run one at a
    time (the API's queue lock). ``pause_jobs()`` holds running jobs (after their sampling
    allocation) until ``resume_jobs()``. ``authorization`` ('Basic ...') makes every /sdapi route
    answer 401 without it, as ``--api-auth`` does.
    """

    name = "fake-automatic1111"

    def __init__(
        self,
        card: SimulatedCard,
        *,
        port: int | None = None,
        checkpoint_gib: float = 7.0,
        sampling_gib: float = 8.0,
        peak_gib: float = 12.0,
        job_s: float = 0.3,
        peak_at_s: float | None = None,
        authorization: str | None = None,
        load_at_start: bool = True,
    ) -> None:
        super().__init__(port)
        self.card = card
        self.checkpoint = int(checkpoint_gib * GIB)
        self.sampling = int(sampling_gib * GIB)
        self.peak = int(peak_gib * GIB)
        self.job_s = job_s
        self.peak_at_s = job_s * 0.8 if peak_at_s is None else peak_at_s
        self.authorization = authorization
        self.load_at_start = load_at_start
        self.weights_on_gpu = False
        self.job = ""
        self.job_count = 0
        self.job_timestamp = "0"
        self.jobs_started = 0
        self.completed = 0
        self.failed_jobs: list[str] = []
        self.unloads_during_job = 0
        self.queue_lock = threading.Lock()
        self.peak_reserved = 0

    @staticmethod
    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    # -- lifecycle ------------------------------------------------------------------------------------

    def on_start(self) -> None:
        with self.lock:
            self.job, self.job_count = "", 0
            # webui.py loads the selected checkpoint at start (modules/initialize.py -> load_model).
            self.weights_on_gpu = self.load_at_start and self._hold(self.checkpoint)

    def on_stop(self) -> None:
        with self.lock:
            self.weights_on_gpu = False
            self.job, self.job_count = "", 0
            self.card.set("sd", 0)
            self.lock.notify_all()

    def _hold(self, nbytes: int) -> bool:
        ok = self.card.set("sd", nbytes)
        if ok:
            self.peak_reserved = max(self.peak_reserved, nbytes)
        return ok

    # -- what tests do --------------------------------------------------------------------------------

    pause_jobs = _FakeServer.pause
    resume_jobs = _FakeServer.resume

    @property
    def busy(self) -> bool:
        with self.lock:
            return self.job_count != 0

    # -- the API --------------------------------------------------------------------------------------

    def progress(self) -> dict[str, Any]:
        """modules/api/api.py progressapi: progress 0 and eta 0 when job_count == 0, state = State.dict()
        (modules/shared_state.py: skipped, interrupted, stopping_generation, job, job_count,
        job_timestamp, job_no, sampling_step, sampling_steps)."""
        with self.lock:
            busy = self.job_count != 0
            return {
                "progress": 0.5 if busy else 0,
                "eta_relative": 1.0 if busy else 0,
                "state": {
                    "skipped": False,
                    "interrupted": False,
                    "stopping_generation": False,
                    "job": self.job,
                    "job_count": self.job_count,
                    "job_timestamp": self.job_timestamp,
                    "job_no": 0,
                    "sampling_step": 10 if busy else 0,
                    "sampling_steps": 20 if busy else 0,
                },
                "current_image": None,
                "textinfo": None,
                "current_task": None,
            }

    def memory(self) -> dict[str, Any]:
        """modules/api/api.py get_memory: ram from psutil; cuda.system from torch.cuda.mem_get_info()
        (the whole card: used = total - free), the rest from torch.cuda.memory_stats() of this process."""
        held = self.card.holding("sd")
        free = self.card.total - self.card.used
        stat = {"current": held, "peak": self.peak_reserved}
        return {
            "ram": {"free": 8 * GIB, "used": 4 * GIB, "total": 12 * GIB},
            "cuda": {
                "system": {"free": free, "used": self.card.total - free, "total": self.card.total},
                "active": stat,
                "allocated": stat,
                "reserved": stat,
                "inactive": {"current": 0, "peak": 0},
                "events": {"retries": 0, "oom": sum(1 for o in self.card.ooms if o[0] == "sd")},
            },
        }

    def run_job(self, kind: str) -> tuple[int, dict[str, Any]]:
        """A txt2img/img2img call: the queue lock, State.begin/end, the device and memory failures."""
        with self.queue_lock:
            gen = self.generation
            with self.lock:
                self.jobs_started += 1
                # shared_state.State.begin: job_count -1 until processing counts its jobs; timestamp at 1 s.
                self.job, self.job_count = f"scripts_{kind}", -1
                self.job_timestamp = datetime.now().strftime("%Y%m%d%H%M%S")
                self.lock.notify_all()
            try:
                with self.lock:
                    on_gpu = self.weights_on_gpu
                if not on_gpu:
                    # unload-checkpoint left the weights in RAM; reload_model_weights() does not move them
                    # back, so sampling mixes CPU weights with CUDA tensors.
                    self.failed_jobs.append("device")
                    return 500, _a1111_error(
                        "RuntimeError",
                        "Expected all tensors to be on the same device, but found at least two devices, "
                        "cpu and cuda:0!",
                    )
                with self.lock:
                    self.job_count = 1
                if not self._hold(self.sampling):
                    self.failed_jobs.append("oom")
                    return 500, _a1111_error("OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB")
                with self.lock:
                    gate = self._gate
                if gate is not None:
                    while not gate.wait(0.05):
                        if gen != self.generation:
                            return 500, _a1111_error("RuntimeError", "the web UI restarted")
                time.sleep(min(self.peak_at_s, self.job_s))
                with self.lock:
                    pulled = not self.weights_on_gpu
                if pulled:
                    self.failed_jobs.append("unloaded during the job")
                    return 500, _a1111_error("RuntimeError", "Expected all tensors to be on the same device")
                if not self._hold(self.peak):
                    self.failed_jobs.append("oom")
                    self._hold(self.checkpoint)
                    return 500, _a1111_error("OutOfMemoryError", "CUDA out of memory. Tried to allocate 3.00 GiB")
                time.sleep(max(0.0, self.job_s - self.peak_at_s))
                if gen != self.generation:
                    return 500, _a1111_error("RuntimeError", "the web UI restarted")
                self._hold(self.checkpoint)
                with self.lock:
                    self.completed += 1
                return 200, {"images": ["aW1hZ2U="], "parameters": {}, "info": "{}"}
            finally:
                with self.lock:
                    if gen == self.generation:
                        self.job, self.job_count = "", 0
                    self.lock.notify_all()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(_Handler):
            def authorized(self) -> bool:
                # api.py Api.add_api_route + Api.auth: every /sdapi route needs Basic auth with --api-auth.
                if fake.authorization and self.headers.get("Authorization") != fake.authorization:
                    self.answer(401, {"detail": "Incorrect username or password"}, {"WWW-Authenticate": "Basic"})
                    return False
                return True

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                fake.record("GET", path, None)
                if not self.authorized():
                    return
                if path == "/sdapi/v1/progress":
                    self.answer(200, fake.progress())
                elif path == "/sdapi/v1/memory":
                    self.answer(200, fake.memory())
                else:
                    self.answer(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                payload = self.body_json()
                path = self.path.split("?")[0]
                fake.record("POST", path, payload)
                if not self.authorized():
                    return
                if path == "/sdapi/v1/unload-checkpoint":
                    # unloadapi -> unload_model_weights -> send_model_to_cpu; no queue lock.
                    with fake.lock:
                        if fake.job_count != 0:
                            fake.unloads_during_job += 1
                        fake.weights_on_gpu = False
                        fake.card.set("sd", 0)
                    self.answer(200, {})
                elif path == "/sdapi/v1/reload-checkpoint":
                    # reloadapi -> send_model_to_device(shared.sd_model).
                    with fake.lock:
                        if not fake.weights_on_gpu:
                            if not fake._hold(fake.checkpoint):
                                self.answer(500, _a1111_error("OutOfMemoryError", "CUDA out of memory"))
                                return
                            fake.weights_on_gpu = True
                    self.answer(200, {})
                elif path in ("/sdapi/v1/txt2img", "/sdapi/v1/img2img"):
                    status, body = fake.run_job(path.rsplit("/", 1)[1])
                    self.answer(status, body)
                else:
                    self.answer(404, {"detail": "Not Found"})

        return Handler


def _a1111_error(error: str, message: str) -> dict[str, Any]:
    """api.py api_middleware handle_exception: {error, detail, body, errors}."""
    return {"error": error, "detail": "", "body": "", "errors": message}


def _now() -> str:
    return datetime.now(UTC).isoformat()
