"""vram-arbiter: one GPU, two hungry apps; admit work only when it fits the card.

Time-slicing gives every pod the whole card and no memory isolation, so an LLM server (Ollama) and
an image generator (AUTOMATIC1111) that are both busy at their maximum can exceed the card, and the
last one to allocate gets a CUDA out-of-memory error. This program sits between the clients (Open
WebUI) and the apps as a streaming reverse proxy, one port per app, and before it forwards a request
that puts an app to work it checks that the apps together still fit the card:

1. it fits: forward it;
2. it fits once idle apps give their VRAM back: unload them (Ollama: ``keep_alive: 0`` per loaded
   model; AUTOMATIC1111: ``POST /sdapi/v1/unload-checkpoint``), then forward;
3. a busy app is in the way: wait for it to finish, up to the app's ``max_wait_seconds``;
4. the wait ran out: answer 503 naming the app that holds the card and for how long.

It never interrupts a running job. Work that does not pass through it (the AUTOMATIC1111 web page on
the LAN) is seen in ``/sdapi/v1/progress``: when such a job starts while Ollama holds a model that no
longer fits, Ollama's models are unloaded as soon as no request through the arbiter uses them, and
the overlap is counted. Everything it knows it reads from the apps' own APIs every poll, so a restart
of either app or of the arbiter itself loses nothing that matters.

Standard library only: it runs as ``python -I vram_arbiter.py`` in a stock Python image, its config
(a JSON file, see ``load_config``) generated from the chart's SharedGpu and VramEnvelopes.

Endpoints on ``status_port``: ``/healthz`` (the poll loop is alive), ``/status`` (JSON: per app the
declared envelope, observed VRAM, state, last unload), ``/metrics`` (Prometheus text format).
Every decision is logged as one JSON line on stdout.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GIB = 1024**3
# Below this much VRAM above its idle envelope an app counts as "nothing loaded" (CUDA context, caches).
LOADED_MARGIN_GIB = 0.5
FIT_EPSILON_GIB = 1e-6


# =====================================================================================================
# Policy: pure functions of the card, what each app holds, and the request. No I/O, no clock.
# =====================================================================================================


@dataclass(frozen=True)
class Envelope:
    """An app's declared VRAM in GiB: when idle, and when busy somewhere between active_min and active_max."""

    idle_gib: float
    active_min_gib: float
    active_max_gib: float


@dataclass(frozen=True)
class AppView:
    """What the policy knows about one app at one instant.

    ``observed_gib`` is what the app's API says it holds (None: not known). ``grows_when_busy`` is
    True for apps whose working memory comes on top of what they hold at rest (AUTOMATIC1111: the
    checkpoint, then activations during a job); False for Ollama, which allocates a model's whole
    VRAM, KV cache included, when it loads it. ``reserved_gib`` is the largest need of requests the
    arbiter admitted that are still running; ``foreign_busy``: busy with work that did not come
    through the arbiter.
    """

    name: str
    envelope: Envelope
    reachable: bool = True
    observed_gib: float | None = None
    loaded: bool = False
    busy: bool = False
    busy_since: float | None = None
    loaded_since: float | None = None
    reserved_gib: float = 0.0
    grows_when_busy: bool = False
    foreign_busy: bool = False


def claim_gib(app: AppView) -> float:
    """VRAM the app may use while it is left alone: what it holds, or can grow to without asking.

    An app that does not answer holds nothing (a dead process's memory is freed). Unknown VRAM is
    the declared ``active_max``. An app that grows when busy claims its ``active_max`` as soon as it
    is loaded or busy: a job from a client that bypasses the arbiter may start at any moment.
    """
    if not app.reachable:
        held = app.envelope.idle_gib
    elif app.observed_gib is None:
        held = app.envelope.active_max_gib
    elif app.grows_when_busy and (app.loaded or app.busy):
        held = max(app.observed_gib, app.envelope.active_max_gib)
    else:
        held = app.observed_gib
    return max(held, app.reserved_gib)


def _freeable(app: AppView) -> bool:
    return app.reachable and app.loaded and not app.busy and app.reserved_gib == 0


def _after_unload_gib(app: AppView) -> float:
    return app.envelope.idle_gib


@dataclass(frozen=True)
class Request:
    """A request for ``app`` that makes it hold ``need_gib`` while it runs, and how long it has waited."""

    app: str
    need_gib: float
    waited_s: float = 0.0
    max_wait_s: float = 0.0


@dataclass(frozen=True)
class Admit:
    """Forward the request now."""


@dataclass(frozen=True)
class Unload:
    """Unload these idle apps, then decide again (they will fit)."""

    apps: tuple[str, ...]


@dataclass(frozen=True)
class Wait:
    """Busy apps hold the VRAM the request needs: wait for them."""

    holders: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Refuse:
    """Answer the client with ``message``: the card is not coming free in time (or never can)."""

    message: str
    holder: str | None = None
    held_for_s: float | None = None


Decision = Admit | Unload | Wait | Refuse


def _gib(value: float) -> str:
    return f"{value:.1f} GiB"


def _held_for(app: AppView, now: float) -> float | None:
    since = app.busy_since if app.busy and app.busy_since is not None else app.loaded_since
    return None if since is None else max(0.0, now - since)


def decide(card_gib: float, apps: Sequence[AppView], request: Request, now: float) -> Decision:
    """Admit, unload idle apps then admit, wait for busy ones, or refuse once the wait has run out."""
    me = next((a for a in apps if a.name == request.app), None)
    if me is None:
        return Refuse(f"{request.app} is not an app this arbiter knows")
    if request.need_gib > card_gib + FIT_EPSILON_GIB:
        return Refuse(
            f"{request.app} needs {_gib(request.need_gib)} but the card has {_gib(card_gib)}: "
            f"it cannot run on this card at all"
        )
    others = [a for a in apps if a.name != request.app]
    total = request.need_gib + sum(claim_gib(a) for a in others)
    if total <= card_gib + FIT_EPSILON_GIB:
        return Admit()
    unload: list[str] = []
    remaining = total
    for app in sorted((a for a in others if _freeable(a)), key=claim_gib, reverse=True):
        if remaining <= card_gib + FIT_EPSILON_GIB:
            break
        freed = claim_gib(app) - _after_unload_gib(app)
        if freed > 0:
            unload.append(app.name)
            remaining -= freed
    if remaining <= card_gib + FIT_EPSILON_GIB:
        return Unload(tuple(unload))
    # Who is in the way: busy apps first, then whatever holds the most.
    blocking = sorted(
        (a for a in others if claim_gib(a) > _after_unload_gib(a)),
        key=lambda a: (not a.busy, -claim_gib(a)),
    )
    holder = blocking[0] if blocking else None
    if holder is None:  # nothing else holds anything: need alone fits (checked above), so unreachable
        return Admit()
    held = _held_for(holder, now)
    what = "busy with a job" if holder.busy else "holding VRAM it cannot give back now"
    if holder.foreign_busy:
        what = "busy with a job that did not come through the arbiter"
    if request.waited_s >= request.max_wait_s:
        since = f" for {held:.0f} s" if held is not None else ""
        return Refuse(
            f"the GPU is busy: {holder.name} has held {_gib(claim_gib(holder))} of the {_gib(card_gib)} card{since} "
            f"({what}), and {request.app} needs {_gib(request.need_gib)}; waited {request.waited_s:.0f} s "
            f"(limit {request.max_wait_s:g} s). Try again when {holder.name} is done.",
            holder=holder.name,
            held_for_s=held,
        )
    return Wait(
        holders=tuple(a.name for a in blocking if a.busy) or (holder.name,),
        reason=f"{holder.name} is {what}; {_gib(total)} would not fit the {_gib(card_gib)} card",
    )


@dataclass(frozen=True)
class Reaction:
    """What to do about work that bypassed the arbiter: unload these idle apps now; ``blocked`` are
    over-claiming apps still busy with admitted requests (unloaded as soon as they are idle)."""

    unload: tuple[str, ...] = ()
    overlap: bool = False
    blocked: tuple[str, ...] = ()


def react(card_gib: float, apps: Sequence[AppView]) -> Reaction:
    """A job the arbiter did not admit is running and the apps no longer fit: free what is idle."""
    if not any(a.foreign_busy for a in apps):
        return Reaction()
    total = sum(claim_gib(a) for a in apps)
    if total <= card_gib + FIT_EPSILON_GIB:
        return Reaction()
    unload: list[str] = []
    remaining = total
    candidates = [a for a in apps if not a.foreign_busy and _freeable(a)]
    for app in sorted(candidates, key=claim_gib, reverse=True):
        if remaining <= card_gib + FIT_EPSILON_GIB:
            break
        unload.append(app.name)
        remaining -= claim_gib(app) - _after_unload_gib(app)
    blocked = tuple(
        a.name
        for a in apps
        if not a.foreign_busy and a.name not in unload and a.busy and claim_gib(a) > _after_unload_gib(a)
    )
    return Reaction(unload=tuple(unload), overlap=True, blocked=blocked if remaining > card_gib else ())


# Ollama's keep_alive: api/types.go Duration.UnmarshalJSON (v0.6.8 L692-720; v0.32.15 L1243-1270):
# a JSON number is seconds, a string is a Go duration; any negative value means "forever".
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go duration string ('5m', '1h30m', '-1s', '0'); None when Go would reject it."""
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        return None
    total, pos = 0.0, 0
    while pos < len(body):
        match = _GO_PART.match(body, pos)
        if match is None:
            return None
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def keep_alive_seconds(value: Any) -> float | None:
    """A client's keep_alive in seconds, ``math.inf`` for "forever" (negative); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        parsed = parse_go_duration(value)
        if parsed is None:
            return None
        seconds = parsed
    else:
        return None
    return math.inf if seconds < 0 else seconds


def cap_keep_alive(value: Any, cap_s: float) -> tuple[Any, bool]:
    """The keep_alive to forward and whether it was capped: at most ``cap_s`` seconds, never forever."""
    seconds = keep_alive_seconds(value)
    if seconds is None or seconds <= cap_s:
        return value, False
    return (int(cap_s) if float(cap_s).is_integer() else cap_s), True


# =====================================================================================================
# Configuration: a JSON file generated from the chart. Every problem names the field and the fix.
# =====================================================================================================

KINDS = ("ollama", "automatic1111")


class ConfigError(Exception):
    """A setting the arbiter cannot run with: ``field: problem. Fix: how``."""

    def __init__(self, path: str, problem: str, fix: str) -> None:
        super().__init__(f"{path}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class AppConfig:
    name: str
    kind: str
    upstream: str
    listen_port: int
    envelope: Envelope
    max_wait_s: float
    keep_alive_cap_s: float | None = None
    max_loaded_models: int = 1
    authorization: str | None = None
    auth_user: str | None = None


@dataclass(frozen=True)
class Config:
    card_name: str
    card_gib: float
    apps: tuple[AppConfig, ...]
    status_port: int = 9400
    listen_host: str = "0.0.0.0"
    poll_interval_s: float = 2.0
    request_timeout_s: float = 10.0
    unload_timeout_s: float = 60.0
    upstream_timeout_s: float = 900.0


def _number(raw: dict[str, Any], key: str, path: str, *, default: float | None = None, minimum: float = 0.0) -> float:
    value = raw.get(key, default)
    if value is None:
        raise ConfigError(f"{path}.{key}", "is missing", f"set {key} to a number")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}.{key}", f"{value!r} is not a finite number", f"set {key} to a number")
    if value < minimum:
        raise ConfigError(f"{path}.{key}", f"{value!r} is too small", f"use a value of at least {minimum:g}")
    return float(value)


def _positive(raw: dict[str, Any], key: str, path: str, default: float | None = None) -> float:
    value = _number(raw, key, path, default=default)
    if value <= 0:
        raise ConfigError(f"{path}.{key}", f"{value:g} is not more than zero", f"give {key} a positive value")
    return value


def _port(raw: dict[str, Any], key: str, path: str, default: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{path}.{key}", f"{value!r} is not a TCP port", "use a whole number from 1 to 65535")
    return value


def _text(raw: dict[str, Any], key: str, path: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}.{key}", f"{value!r} is not a non-empty string", f"set {key}")
    return value


def _app(raw: Any, index: int, card_gib: float, env: dict[str, str]) -> AppConfig:
    path = f"apps[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(path, "is not an object", "give each app as an object with name, kind, upstream, ...")
    name = _text(raw, "name", path)
    path = f"apps[{index}] ({name})"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{path}.kind", f"{kind!r} is not a kind the arbiter knows", f"use one of {', '.join(KINDS)}")
    upstream = _text(raw, "upstream", path).rstrip("/")
    parsed = urllib.parse.urlsplit(upstream)
    if parsed.scheme != "http" or not parsed.hostname:
        raise ConfigError(f"{path}.upstream", f"{upstream!r} is not an http:// URL", "use http://host:port")
    env_raw = raw.get("envelope")
    if not isinstance(env_raw, dict):
        raise ConfigError(f"{path}.envelope", "is missing", "give idle_gib, active_min_gib and active_max_gib")
    envelope = Envelope(
        idle_gib=_number(env_raw, "idle_gib", f"{path}.envelope"),
        active_min_gib=_number(env_raw, "active_min_gib", f"{path}.envelope"),
        active_max_gib=_number(env_raw, "active_max_gib", f"{path}.envelope"),
    )
    if not envelope.idle_gib <= envelope.active_min_gib <= envelope.active_max_gib:
        raise ConfigError(f"{path}.envelope", "is not ordered", "use idle_gib <= active_min_gib <= active_max_gib")
    if envelope.active_max_gib > card_gib:
        raise ConfigError(
            f"{path}.envelope.active_max_gib",
            f"{envelope.active_max_gib:g} GiB is more than the card's {card_gib:g} GiB",
            "lower it, or run the app on a bigger card",
        )
    keep_alive_cap = None
    max_loaded = 1
    authorization = None
    user = None
    if kind == "ollama":
        keep_alive_cap = _positive(raw, "keep_alive_cap_seconds", path, default=300)
        max_loaded = raw.get("max_loaded_models", 1)
        if isinstance(max_loaded, bool) or not isinstance(max_loaded, int) or max_loaded < 1:
            raise ConfigError(f"{path}.max_loaded_models", f"{max_loaded!r} is not a whole number >= 1", "use 1")
    auth = raw.get("auth")
    if auth is not None:
        if kind != "automatic1111" or not isinstance(auth, dict):
            raise ConfigError(f"{path}.auth", "is only for automatic1111 apps", "remove it")
        user_env = _text(auth, "user_env", f"{path}.auth")
        password_env = _text(auth, "password_env", f"{path}.auth")
        user = env.get(user_env, "")
        password = env.get(password_env, "")
        if not user or not password:
            missing = user_env if not user else password_env
            raise ConfigError(
                f"{path}.auth",
                f"environment variable {missing} is empty",
                "set both from the web UI's --api-auth (the password from its Secret)",
            )
        authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return AppConfig(
        name=name,
        kind=kind,
        upstream=upstream,
        listen_port=_port(raw, "listen_port", path),
        envelope=envelope,
        max_wait_s=_number(raw, "max_wait_seconds", path, default=120),
        keep_alive_cap_s=keep_alive_cap,
        max_loaded_models=max_loaded,
        authorization=authorization,
        auth_user=user,
    )


def load_config(raw: Any, env: dict[str, str]) -> Config:
    """Check the generated config; ``env`` supplies AUTOMATIC1111's API credentials (secretKeyRef)."""
    if not isinstance(raw, dict):
        raise ConfigError("config", "is not a JSON object", "generate it with homelab-ai")
    card = raw.get("card")
    if not isinstance(card, dict):
        raise ConfigError("card", "is missing", "give the card's name and vram_gib")
    card_gib = _positive(card, "vram_gib", "card")
    apps_raw = raw.get("apps")
    if not isinstance(apps_raw, list) or not apps_raw:
        raise ConfigError("apps", "is empty", "list the GPU apps that share the card")
    apps = tuple(_app(a, i, card_gib, env) for i, a in enumerate(apps_raw))
    status_port = _port(raw, "status_port", "config", default=9400)
    seen_names: set[str] = set()
    seen_ports = {status_port: "status_port"}
    for app in apps:
        if app.name in seen_names:
            raise ConfigError(f"apps ({app.name}).name", "is used twice", "give each app its own name")
        seen_names.add(app.name)
        if app.listen_port in seen_ports:
            raise ConfigError(
                f"apps ({app.name}).listen_port",
                f"{app.listen_port} is also {seen_ports[app.listen_port]}",
                "give each app and the status endpoint its own port",
            )
        seen_ports[app.listen_port] = f"the port of {app.name}"
    return Config(
        card_name=str(card.get("name") or "GPU"),
        card_gib=card_gib,
        apps=apps,
        status_port=status_port,
        listen_host=str(raw.get("listen_host") or "0.0.0.0"),
        poll_interval_s=_positive(raw, "poll_interval_seconds", "config", default=2.0),
        request_timeout_s=_positive(raw, "request_timeout_seconds", "config", default=10.0),
        unload_timeout_s=_positive(raw, "unload_timeout_seconds", "config", default=60.0),
        upstream_timeout_s=_positive(raw, "upstream_timeout_seconds", "config", default=900.0),
    )


# =====================================================================================================
# Logging: one JSON object per line, one line per decision.
# =====================================================================================================

_log_lock = threading.Lock()


def log(event: str, **fields: Any) -> None:
    """Write one structured log line (``event`` says which decision or observation)."""
    record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, **fields}
    line = json.dumps(record, default=str, sort_keys=False)
    with _log_lock:
        print(line, flush=True)


# =====================================================================================================
# Observer: what each app holds and does, read from its own API.
# =====================================================================================================


@dataclass
class Observation:
    """One poll of one app. ``models`` (Ollama): name -> VRAM bytes; ``job_mark`` (A1111): changes per job."""

    reachable: bool
    observed_gib: float | None = None
    loaded: bool = False
    busy: bool = False
    job_mark: str | None = None
    models: dict[str, int] = field(default_factory=dict)
    card_total_bytes: int | None = None
    card_free_bytes: int | None = None
    error: str | None = None


class UpstreamError(Exception):
    """An app's API answered with an error status or not at all."""


def _http_json(
    base: str,
    method: str,
    path: str,
    timeout: float,
    payload: Any = None,
    authorization: str | None = None,
) -> Any:
    parsed = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=timeout)
    try:
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if authorization:
            headers["Authorization"] = authorization
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise UpstreamError(f"cannot reach {base}: {exc}") from None
    finally:
        conn.close()
    if response.status >= 400:
        hint = " (check the API credentials against the web UI's --api-auth)" if response.status == 401 else ""
        raise UpstreamError(f"{method} {path} answered HTTP {response.status}{hint}: {data[:200]!r}")
    try:
        return json.loads(data) if data.strip() else {}
    except ValueError:
        raise UpstreamError(f"{method} {path} answered something that is not JSON: {data[:200]!r}") from None


def normalize_model(name: str) -> str:
    """Ollama's display name for a model reference: 'llama3.2' is 'llama3.2:latest'."""
    name = name.strip()
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


class OllamaClient:
    """Reads ``GET /api/ps``; unloads with ``POST /api/generate {model, keep_alive: 0}``.

    /api/ps (server/routes.go PsHandler, v0.6.8 L1395-1434; v0.32.15 L2271-2300) lists each loaded
    model with ``name``, ``model``, ``size``, ``size_vram`` (bytes on the GPU) and ``expires_at``
    (api/types.go ProcessModelResponse, v0.6.8 L464-472; v0.32.15 L835-844). A generate request with
    an empty prompt and keep_alive 0 expires the runner (routes.go v0.6.8 L161-173; v0.32.15
    L402-415); a runner still serving a request is unloaded only when that request ends
    (server/sched.go expireRunner v0.6.8 L844-861 and the expired-event retry L362-372), so this
    never cuts a running chat short.
    """

    kind = "ollama"

    def __init__(self, config: AppConfig, timeout: float) -> None:
        self.config = config
        self.timeout = timeout

    def observe(self) -> Observation:
        ps = _http_json(self.config.upstream, "GET", "/api/ps", self.timeout)
        models: dict[str, int] = {}
        for entry in ps.get("models") or []:
            name = entry.get("name") or entry.get("model")
            if isinstance(name, str):
                models[normalize_model(name)] = int(entry.get("size_vram") or 0)
        vram = sum(models.values()) / GIB
        return Observation(reachable=True, observed_gib=vram, loaded=bool(models), models=models)

    def unload(self, observation: Observation) -> list[str]:
        unloaded = []
        for name in observation.models:
            _http_json(self.config.upstream, "POST", "/api/generate", self.timeout, {"model": name, "keep_alive": 0})
            unloaded.append(name)
        return unloaded

    def busy_now(self) -> bool:
        return False  # Ollama defers an unload of a model in use by itself (see the class docstring)


def is_busy(progress: dict[str, Any]) -> bool:
    """AUTOMATIC1111 runs a job: shared_state.State.begin sets job_count to -1 and job to its name,
    end() sets them back to 0 and "" (modules/shared_state.py); progressapi returns state.dict()."""
    state = progress.get("state") or {}
    return bool((state.get("job_count") or 0) != 0 or state.get("job"))


class Automatic1111Client:
    """Reads ``/sdapi/v1/progress`` (busy, job_timestamp) and ``/sdapi/v1/memory`` (this process's VRAM).

    At v1.10.1 (modules/api/api.py): ``progressapi`` returns ``progress``, ``eta_relative`` and
    ``state`` = shared.state.dict() (job, job_count, job_timestamp '%Y%m%d%H%M%S', job_no, sampling
    steps); ``get_memory`` returns ``ram`` and ``cuda`` with ``system`` {free, used, total} from
    torch.cuda.mem_get_info() (the whole card, every process) and ``allocated``/``reserved``/``active``
    {current, peak} from torch.cuda.memory_stats() (this process). Observed VRAM is
    ``cuda.reserved.current``: what PyTorch's allocator holds from the card. Every /sdapi route
    requires HTTP Basic auth when --api-auth is set (Api.add_api_route + Api.auth: 401 without).

    ``unload-checkpoint`` (Api.unloadapi -> sd_models.unload_model_weights -> send_model_to_cpu) moves
    the weights to system RAM but leaves them assigned; the next txt2img goes through
    processing.process_images -> sd_models.reload_model_weights(), which returns early when the
    selected checkpoint is the one assigned, so it does NOT move the weights back to the GPU. The
    arbiter therefore calls ``reload-checkpoint`` (Api.reloadapi -> send_model_to_device) before it
    forwards a generation to a web UI whose checkpoint is off the GPU. unloadapi does not take the
    queue lock a job holds, so an unload during a job would pull the weights from under it: the
    arbiter asks /progress right before it unloads and never unloads a busy web UI.
    """

    kind = "automatic1111"
    progress_path = "/sdapi/v1/progress?skip_current_image=true"

    def __init__(self, config: AppConfig, timeout: float) -> None:
        self.config = config
        self.timeout = timeout

    def _get(self, path: str) -> Any:
        return _http_json(self.config.upstream, "GET", path, self.timeout, authorization=self.config.authorization)

    def _post(self, path: str) -> Any:
        return _http_json(self.config.upstream, "POST", path, self.timeout, {}, self.config.authorization)

    def observe(self) -> Observation:
        progress = self._get(self.progress_path)
        state = progress.get("state") or {}
        mark = state.get("job_timestamp")
        observation = Observation(reachable=True, busy=is_busy(progress), job_mark=None if mark is None else str(mark))
        try:
            memory = self._get("/sdapi/v1/memory")
        except UpstreamError as exc:
            observation.error = f"memory: {exc}"
            return observation  # observed VRAM unknown: the policy assumes active_max
        cuda = memory.get("cuda") or {}
        reserved = (cuda.get("reserved") or {}).get("current")
        if reserved is None:
            reserved = (cuda.get("allocated") or {}).get("current")
        if isinstance(reserved, int | float):
            observation.observed_gib = reserved / GIB
            observation.loaded = observation.observed_gib > self.config.envelope.idle_gib + LOADED_MARGIN_GIB
        system = cuda.get("system") or {}
        if isinstance(system.get("total"), int | float) and isinstance(system.get("free"), int | float):
            observation.card_total_bytes = int(system["total"])
            observation.card_free_bytes = int(system["free"])
        return observation

    def busy_now(self) -> bool:
        return is_busy(self._get(self.progress_path))

    def unload(self, observation: Observation) -> list[str]:
        self._post("/sdapi/v1/unload-checkpoint")
        return ["checkpoint"]

    def reload(self) -> None:
        self._post("/sdapi/v1/reload-checkpoint")


AppClient = OllamaClient | Automatic1111Client


# =====================================================================================================
# The arbiter: state per app, admission (policy + waiting + unloading), reaction, counters.
# =====================================================================================================


@dataclass
class AppState:
    """Everything the arbiter keeps about one app; rebuilt from the app's API after any restart."""

    config: AppConfig
    client: Any
    reachable: bool = False
    polled: bool = False
    observed_gib: float | None = None
    loaded: bool = False
    observed_busy: bool = False
    busy_since: float | None = None
    loaded_since: float | None = None
    job_mark: str | None = None
    models: dict[str, int] = field(default_factory=dict)
    known_sizes: dict[str, int] = field(default_factory=dict)
    inflight: dict[int, float] = field(default_factory=dict)
    unloading: bool = False
    last_unload: dict[str, Any] | None = None
    last_error: str | None = None
    overlap_mark: str | None = None
    restore_pending: bool = False
    card_total_bytes: int | None = None
    card_free_bytes: int | None = None

    @property
    def busy(self) -> bool:
        return self.observed_busy or bool(self.inflight)

    @property
    def foreign_busy(self) -> bool:
        return self.observed_busy and not self.inflight

    def view(self) -> AppView:
        return AppView(
            name=self.config.name,
            envelope=self.config.envelope,
            reachable=self.reachable,
            observed_gib=self.observed_gib if self.polled else None,
            loaded=self.loaded,
            busy=self.busy,
            busy_since=self.busy_since,
            loaded_since=self.loaded_since,
            reserved_gib=max(self.inflight.values(), default=0.0),
            grows_when_busy=self.config.kind == "automatic1111",
            foreign_busy=self.foreign_busy,
        )


class Refused(Exception):
    """The request was refused; ``decision`` says why and who holds the card."""

    def __init__(self, decision: Refuse) -> None:
        super().__init__(decision.message)
        self.decision = decision


@dataclass
class Ticket:
    """An admitted request: holds its app's reservation until released."""

    number: int
    app: str
    need_gib: float
    waited_s: float


class Counters:
    """Prometheus counters keyed by (name, app[, reason])."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def add(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self.values[key] = self.values.get(key, 0.0) + amount

    def get(self, name: str, **labels: str) -> float:
        return self.values.get((name, tuple(sorted(labels.items()))), 0.0)


class Arbiter:
    """Admission, waiting, unloading and reaction around one card, under one condition variable."""

    def __init__(self, config: Config, clients: dict[str, Any], clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.cond = threading.Condition(threading.Lock())
        self.apps = {app.name: AppState(config=app, client=clients[app.name]) for app in config.apps}
        self.counters = Counters()
        self.waiters: list[tuple[int, str]] = []
        self._next_ticket = 0
        self.last_poll: float | None = None

    # -- observation -----------------------------------------------------------------------------

    def poll_once(self) -> None:
        """Poll every app, then react to work that bypassed the arbiter."""
        for name in self.apps:
            self.refresh(name)
        with self.cond:
            self.last_poll = time.monotonic()
        self.react_now()
        self.restore_now()

    def refresh(self, name: str) -> Observation:
        state = self.apps[name]
        try:
            observation = state.client.observe()
        except UpstreamError as exc:
            observation = Observation(reachable=False, error=str(exc))
        self.apply(name, observation)
        return observation

    def apply(self, name: str, obs: Observation) -> None:
        now = self.clock()
        with self.cond:
            state = self.apps[name]
            if obs.reachable != state.reachable or not state.polled:
                if obs.reachable:
                    log("app_up", app=name, after_restart=state.polled, observed_gib=obs.observed_gib)
                else:
                    log("app_down", app=name, error=obs.error)
                    self.counters.add("poll_errors", app=name)
            if not obs.reachable:
                state.reachable = False
                state.polled = True
                state.observed_gib = None
                state.loaded = False
                state.observed_busy = False
                state.models = {}
                state.last_error = obs.error
                state.busy_since = now if state.inflight else None
                state.loaded_since = None
                self.cond.notify_all()
                return
            was_busy, was_loaded = state.busy, state.loaded
            state.reachable = True
            state.polled = True
            state.last_error = obs.error
            state.observed_gib = obs.observed_gib
            state.loaded = obs.loaded if obs.observed_gib is not None else True
            state.models = dict(obs.models)
            state.known_sizes.update({m: s for m, s in obs.models.items() if s > 0})
            if obs.card_total_bytes is not None:
                state.card_total_bytes, state.card_free_bytes = obs.card_total_bytes, obs.card_free_bytes
            state.job_mark = obs.job_mark
            state.observed_busy = obs.busy
            if state.busy and not was_busy:
                state.busy_since = now
            elif not state.busy:
                state.busy_since = None
            if state.loaded and not was_loaded:
                state.loaded_since = now
                state.restore_pending = False
            elif not state.loaded:
                state.loaded_since = None
            self.cond.notify_all()

    def react_now(self, background: bool = False) -> None:
        """Unload idle apps that a job from outside no longer leaves room for; count the overlap once per job.

        ``background``: unload in a thread of its own (the caller is a request that is finishing).
        """
        with self.cond:
            reaction = react(self.config.card_gib, [s.view() for s in self.apps.values()])
            if not reaction.overlap:
                return
            for state in self.apps.values():
                # One count per job: A1111's job_timestamp changes with every job (1 s resolution).
                mark = state.job_mark or "busy"
                if state.foreign_busy and state.overlap_mark != mark:
                    state.overlap_mark = mark
                    self.counters.add("overlaps", app=state.config.name)
                    log(
                        "overlap",
                        app=state.config.name,
                        detail=f"a {state.config.name} job that did not come through the arbiter runs while "
                        f"the apps claim more than the {self.config.card_gib:g} GiB card",
                        unload=list(reaction.unload),
                        blocked=list(reaction.blocked),
                        claims={n: round(claim_gib(s.view()), 2) for n, s in self.apps.items()},
                    )
            targets = [n for n in reaction.unload if not self.apps[n].unloading]
            for name in targets:
                self.apps[name].unloading = True
        if not targets:
            return
        if background:
            threading.Thread(target=self._unload_all, args=(targets, "reactive"), daemon=True).start()
        else:
            self._unload_all(targets, "reactive")

    def _unload_all(self, names: Sequence[str], reason: str) -> bool:
        return all([self._unload(name, reason) for name in names])

    # -- unloading -------------------------------------------------------------------------------

    def _unload(self, name: str, reason: str, for_app: str | None = None) -> bool:
        """Unload ``name`` (already marked ``unloading``) and wait until its VRAM shows as freed."""
        state = self.apps[name]
        deadline = time.monotonic() + self.config.unload_timeout_s
        freed = False
        try:
            if state.client.busy_now():
                log("unload_skipped", app=name, reason=reason, detail="a job started: never unload a busy app")
                self.refresh(name)
                return False
            with self.cond:
                observation = Observation(reachable=True, models=dict(state.models))
            what = state.client.unload(observation)
            log("unload", app=name, reason=reason, for_app=for_app, unloaded=what)
            with self.cond:
                self.counters.add("unloads", app=name, reason=reason)
                # AUTOMATIC1111 does not reload by itself (see Automatic1111Client): give it back later.
                state.restore_pending = state.config.kind == "automatic1111"
                state.last_unload = {"at": iso(self.clock()), "reason": reason, "for": for_app, "what": what}
            while time.monotonic() < deadline:
                obs = self.refresh(name)
                if not obs.reachable or not obs.loaded:
                    freed = True
                    break
                time.sleep(min(0.05, self.config.poll_interval_s))
            if not freed:
                log("unload_slow", app=name, detail=f"VRAM not freed after {self.config.unload_timeout_s:g} s")
            return freed
        except UpstreamError as exc:
            log("unload_failed", app=name, reason=reason, error=str(exc))
            return False
        finally:
            with self.cond:
                state.unloading = False
                self.cond.notify_all()

    def restore_now(self) -> None:
        """Reload a checkpoint the arbiter unloaded once it fits again, so the LAN web page works.

        AUTOMATIC1111 v1.10.1 does not move unloaded weights back to the GPU by itself, so a job from
        its own web page would fail until someone reloads. The reload runs under a reservation of
        the app's ``active_max``, like an admitted request, and only while nobody waits for the card.
        """
        now = self.clock()
        with self.cond:
            if self.waiters:
                return
            views = [s.view() for s in self.apps.values()]
            due = []
            for name, state in self.apps.items():
                if not (state.restore_pending and state.reachable and not state.loaded and not state.busy):
                    continue
                if state.unloading:
                    continue
                request = Request(name, state.config.envelope.active_max_gib)
                if isinstance(decide(self.config.card_gib, views, request, now), Admit):
                    self._next_ticket += 1
                    state.inflight[-self._next_ticket] = request.need_gib
                    state.busy_since = now
                    due.append((name, -self._next_ticket))
        for name, number in due:
            state = self.apps[name]
            try:
                state.client.reload()
                with self.cond:
                    state.restore_pending = False
                    self.counters.add("reloads", app=name, reason="restore")
                log("restore", app=name, detail="the card has room again: checkpoint reloaded for the web page")
            except UpstreamError as exc:
                log("restore_failed", app=name, error=str(exc))
            finally:
                self.refresh(name)
                with self.cond:
                    state.inflight.pop(number, None)
                    if not state.busy:
                        state.busy_since = None
                    self.cond.notify_all()

    # -- admission -------------------------------------------------------------------------------

    def need_gib(self, name: str, model: str | None = None) -> float:
        """VRAM ``name`` holds while serving a request (for Ollama: for ``model``)."""
        with self.cond:
            state = self.apps[name]
            envelope = state.config.envelope
            if state.config.kind != "ollama":
                return envelope.active_max_gib
            loaded_total = sum(state.models.values()) / GIB
            if model is None:
                return max(loaded_total, envelope.active_max_gib)
            key = normalize_model(model)
            if key in state.models:
                return max(loaded_total, state.models[key] / GIB)
            size = state.known_sizes.get(key)
            new = size / GIB if size else envelope.active_max_gib
            if state.config.max_loaded_models <= 1:
                return max(new, 0.0)  # Ollama evicts the idle model it holds before loading another
            return loaded_total + new

    def admit(self, name: str, need_gib: float, label: str = "") -> Ticket:
        """Block until the request fits the card (unloading idle apps), or raise Refused."""
        app = self.apps[name].config
        start = self.clock()
        waited_logged = False
        with self.cond:
            self._next_ticket += 1
            number = self._next_ticket
            self.waiters.append((number, name))
            try:
                while True:
                    now = self.clock()
                    waited = now - start
                    # First come, first served across apps: a request never overtakes an earlier one for
                    # another app, so a stream of images cannot starve a chat (or the other way round).
                    ahead = self._earlier_waiter_for_another_app(number, name)
                    decision: Decision
                    if ahead is not None and waited < app.max_wait_s:
                        decision = Wait((ahead,), f"queued behind an earlier request for {ahead}")
                    else:
                        views = [s.view() for s in self.apps.values()]
                        request = Request(name, need_gib, waited_s=waited, max_wait_s=app.max_wait_s)
                        decision = decide(self.config.card_gib, views, request, now)
                        if ahead is not None and not isinstance(decision, Refuse):
                            decision = Refuse(
                                f"the GPU is busy: an earlier request for {ahead} is still waiting for the card; "
                                f"{name} waited {waited:.0f} s (limit {app.max_wait_s:g} s). Try again shortly.",
                                holder=ahead,
                            )
                    if isinstance(decision, Admit):
                        ticket = Ticket(number, name, need_gib, waited)
                        state = self.apps[name]
                        if not state.busy:
                            state.busy_since = now
                        state.inflight[number] = need_gib
                        self.counters.add("admissions", app=name)
                        log("admit", app=name, request=label, need_gib=round(need_gib, 2), waited_s=round(waited, 3))
                        return ticket
                    if isinstance(decision, Refuse):
                        self.counters.add("refusals", app=name)
                        log(
                            "refuse",
                            app=name,
                            request=label,
                            holder=decision.holder,
                            held_for_s=None if decision.held_for_s is None else round(decision.held_for_s, 1),
                            message=decision.message,
                        )
                        raise Refused(decision)
                    if isinstance(decision, Unload):
                        targets = [t for t in decision.apps if not self.apps[t].unloading]
                        for target in targets:
                            self.apps[target].unloading = True
                        if targets:
                            log("make_room", app=name, request=label, unload=targets, need_gib=round(need_gib, 2))
                            self.cond.release()
                            try:
                                freed = all([self._unload(t, reason="admission", for_app=name) for t in targets])
                            finally:
                                self.cond.acquire()
                            if not freed:  # the app refused or turned busy: look again after a poll interval
                                self.cond.wait(timeout=self.config.poll_interval_s)
                            continue
                        decision = Wait(decision.apps, "an unload is under way")
                    if not waited_logged:
                        waited_logged = True
                        self.counters.add("waits", app=name)
                        log("wait", app=name, request=label, holders=list(decision.holders), reason=decision.reason)
                    # Every change of state notifies: sleep until one comes, or the wait runs out.
                    remaining = app.max_wait_s - waited
                    self.cond.wait(timeout=max(0.001, min(remaining, 5.0)))
            finally:
                self.waiters = [(n, a) for n, a in self.waiters if n != number]
                if waited_logged:
                    self.counters.add("wait_seconds", self.clock() - start, app=name)
                self.cond.notify_all()

    def _earlier_waiter_for_another_app(self, number: int, name: str) -> str | None:
        for other_number, other_app in self.waiters:
            if other_number >= number:
                return None
            if other_app != name:
                return other_app
        return None

    def release(self, ticket: Ticket) -> None:
        """End a request's reservation, after reading what its app now holds (a model it loaded stays)."""
        self.refresh(ticket.app)
        with self.cond:
            state = self.apps[ticket.app]
            state.inflight.pop(ticket.number, None)
            if not state.busy:
                state.busy_since = None
            self.cond.notify_all()
        self.react_now(background=True)

    def note_keep_alive_capped(self, name: str, requested: Any, forwarded: Any) -> None:
        with self.cond:
            self.counters.add("keep_alive_capped", app=name)
        log("keep_alive_capped", app=name, requested=requested, forwarded=forwarded)

    def ensure_loaded(self, name: str) -> None:
        """Before a generation: put an AUTOMATIC1111 checkpoint that is off the GPU back on it.

        Reads the web UI first: its idle-unload sidecar may have unloaded it since the last poll.
        """
        state = self.apps[name]
        if state.config.kind != "automatic1111":
            return
        self.refresh(name)
        with self.cond:
            needed = state.config.kind == "automatic1111" and state.reachable and not state.loaded
        if not needed:
            return
        try:
            state.client.reload()
            with self.cond:
                self.counters.add("reloads", app=name, reason="generation")
            log("reload", app=name, detail="checkpoint was off the GPU: POST /sdapi/v1/reload-checkpoint")
        except UpstreamError as exc:
            log("reload_failed", app=name, error=str(exc))
        self.refresh(name)

    # -- reporting -------------------------------------------------------------------------------

    def healthy(self) -> bool:
        with self.cond:
            last = self.last_poll
        stale_after = 3 * self.config.poll_interval_s + 2 * self.config.request_timeout_s * len(self.apps) + 5
        return last is not None and time.monotonic() - last < stale_after

    def status(self) -> dict[str, Any]:
        now = self.clock()
        with self.cond:
            apps = []
            for name, state in self.apps.items():
                view = state.view()
                envelope = state.config.envelope
                apps.append(
                    {
                        "name": name,
                        "kind": state.config.kind,
                        "envelope_gib": {
                            "idle": envelope.idle_gib,
                            "active_min": envelope.active_min_gib,
                            "active_max": envelope.active_max_gib,
                        },
                        "reachable": state.reachable,
                        "observed_gib": None if state.observed_gib is None else round(state.observed_gib, 3),
                        "claim_gib": round(claim_gib(view), 3),
                        "state": _state_word(state),
                        "loaded": state.loaded,
                        "busy": state.busy,
                        "busy_for_s": None if state.busy_since is None else round(now - state.busy_since, 1),
                        "inflight": len(state.inflight),
                        "models": {m: round(s / GIB, 3) for m, s in state.models.items()},
                        "last_unload": state.last_unload,
                        "last_error": state.last_error,
                    }
                )
            counters = {}
            for (metric, labels), value in sorted(self.counters.values.items()):
                label_text = ",".join(f"{k}={v}" for k, v in labels)
                counters[f"{metric}{{{label_text}}}"] = value
            return {
                "card": {"name": self.config.card_name, "vram_gib": self.config.card_gib},
                "apps": apps,
                "waiting": [{"ticket": n, "app": a} for n, a in self.waiters],
                "counters": counters,
            }

    def metrics(self) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
            lines.append(f"# HELP vram_arbiter_{name} {help_text}")
            lines.append(f"# TYPE vram_arbiter_{name} {kind}")
            for labels, value in samples:
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                lines.append(f"vram_arbiter_{name}{{{label_text}}} {_number_text(value)}")

        with self.cond:
            states = list(self.apps.items())
            card = {"card": self.config.card_name}
            family("card_vram_bytes", "gauge", "VRAM of the shared card.", [(card, self.config.card_gib * GIB)])
            free = [(card, s.card_free_bytes) for _, s in states if s.card_free_bytes is not None][:1]
            family("card_free_bytes", "gauge", "Free VRAM on the card as CUDA reports it to AUTOMATIC1111.", free)
            family(
                "app_observed_vram_bytes",
                "gauge",
                "VRAM the app holds, read from its own API (Ollama /api/ps size_vram; A1111 cuda.reserved).",
                [({"app": n}, s.observed_gib * GIB) for n, s in states if s.observed_gib is not None],
            )
            family(
                "app_claim_vram_bytes",
                "gauge",
                "VRAM the arbiter counts for the app: observed, or its active_max while it may grow.",
                [({"app": n}, claim_gib(s.view()) * GIB) for n, s in states],
            )
            for bound in ("idle", "active_min", "active_max"):
                family(
                    f"app_{bound}_vram_bytes",
                    "gauge",
                    f"The app's declared {bound} VRAM (its VramEnvelope).",
                    [({"app": n}, getattr(s.config.envelope, f"{bound}_gib") * GIB) for n, s in states],
                )
            family(
                "app_up",
                "gauge",
                "1 when the app's API answered the last poll.",
                [({"app": n}, s.reachable) for n, s in states],
            )
            family("app_busy", "gauge", "1 while the app runs a job.", [({"app": n}, s.busy) for n, s in states])
            family(
                "app_loaded",
                "gauge",
                "1 while the app holds a model on the GPU.",
                [({"app": n}, s.loaded) for n, s in states],
            )
            family(
                "inflight_requests",
                "gauge",
                "Requests admitted through the arbiter that are still running.",
                [({"app": n}, len(s.inflight)) for n, s in states],
            )
            family(
                "waiting_requests",
                "gauge",
                "Requests waiting for the card.",
                [({"app": n}, sum(1 for _, a in self.waiters if a == n)) for n, _ in states],
            )
            described = {
                "admissions": "Requests admitted to the card.",
                "waits": "Requests that had to wait for the card.",
                "wait_seconds": "Seconds requests spent waiting for the card.",
                "refusals": "Requests refused because the card did not come free in time.",
                "unloads": "Unloads the arbiter made, by reason.",
                "overlaps": "Jobs that bypassed the arbiter while the apps did not fit the card together.",
                "reloads": "Checkpoint reloads before a generation (AUTOMATIC1111).",
                "keep_alive_capped": "Client keep_alive values capped at the server's policy.",
                "poll_errors": "Polls that found the app unreachable.",
            }
            for metric, help_text in described.items():
                samples = []
                for n, _ in states:
                    matching = [
                        (dict(labels), value)
                        for (name, labels), value in self.counters.values.items()
                        if name == metric and dict(labels).get("app") == n
                    ]
                    samples.extend(matching or [({"app": n}, 0.0)])
                family(f"{metric}_total", "counter", help_text, samples)
        return "\n".join(lines) + "\n"


def _state_word(state: AppState) -> str:
    if not state.polled:
        return "unknown"
    if not state.reachable:
        return "down"
    if state.unloading:
        return "unloading"
    if state.busy:
        return "busy"
    return "loaded" if state.loaded else "unloaded"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number_text(value: float | bool | int) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


# =====================================================================================================
# The reverse proxy: one server per app; streams responses chunk by chunk as they arrive.
# =====================================================================================================

# Requests that put an app's GPU to work, and so pass through admission.
OLLAMA_WORK = frozenset(
    {
        "/api/generate",
        "/api/chat",
        "/api/embed",
        "/api/embeddings",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
    }
)
OLLAMA_KEEP_ALIVE_PATHS = frozenset({"/api/generate", "/api/chat", "/api/embed", "/api/embeddings"})
SD_GENERATION = frozenset({"/sdapi/v1/txt2img", "/sdapi/v1/img2img"})
SD_WORK = SD_GENERATION | frozenset(
    {
        "/sdapi/v1/extra-single-image",
        "/sdapi/v1/extra-batch-images",
        "/sdapi/v1/interrogate",
        "/sdapi/v1/reload-checkpoint",
    }
)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
MAX_BODY_BYTES = 512 * 1024 * 1024
STREAM_READ = 64 * 1024


@dataclass
class Plan:
    """How to forward one request: admission or not, the body to send, what to do first."""

    admit: bool = False
    need_gib: float = 0.0
    body: bytes = b""
    reload_first: bool = False
    refresh_after: bool = False
    label: str = ""


def plan_ollama(arbiter: Arbiter, app: AppConfig, method: str, path: str, body: bytes) -> Plan:
    """Admit generation and embedding requests; cap keep_alive; let unload requests straight through."""
    plan = Plan(body=body, label=f"{method} {path}")
    if method != "POST" or path not in OLLAMA_WORK:
        return plan
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        return plan  # Ollama answers 400 without loading anything
    if not isinstance(payload, dict):
        return plan
    model = payload.get("model") if isinstance(payload.get("model"), str) else None
    plan.label = f"{method} {path} {model or ''}".strip()
    keep_alive = payload.get("keep_alive")
    empty = (path == "/api/generate" and not payload.get("prompt")) or (
        path == "/api/chat" and not payload.get("messages")
    )
    if empty and "keep_alive" in payload and keep_alive_seconds(keep_alive) == 0:
        plan.refresh_after = True  # an unload request: it frees VRAM, never needs any
        return plan
    if path in OLLAMA_KEEP_ALIVE_PATHS and "keep_alive" in payload and app.keep_alive_cap_s is not None:
        forwarded, capped = cap_keep_alive(keep_alive, app.keep_alive_cap_s)
        if capped:
            payload["keep_alive"] = forwarded
            plan.body = json.dumps(payload).encode()
            arbiter.note_keep_alive_capped(app.name, keep_alive, forwarded)
    plan.admit = True
    plan.need_gib = arbiter.need_gib(app.name, model)
    return plan


def plan_automatic1111(arbiter: Arbiter, app: AppConfig, method: str, path: str, body: bytes) -> Plan:
    """Admit jobs; reload an unloaded checkpoint before a generation; options that switch checkpoints load one."""
    plan = Plan(body=body, label=f"{method} {path}")
    if method != "POST":
        return plan
    work = path in SD_WORK
    if path == "/sdapi/v1/options":
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            payload = {}
        work = isinstance(payload, dict) and "sd_model_checkpoint" in payload
    if path in ("/sdapi/v1/unload-checkpoint",):
        plan.refresh_after = True
    if work:
        plan.admit = True
        plan.need_gib = arbiter.need_gib(app.name)
        plan.reload_first = path in SD_GENERATION
    return plan


class ProxyServer(ThreadingHTTPServer):
    """One listening port for one app; every request handled in its own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], arbiter: Arbiter, app: AppConfig, upstream_timeout: float) -> None:
        super().__init__(address, ProxyHandler)
        self.arbiter = arbiter
        self.app = app
        parsed = urllib.parse.urlsplit(app.upstream)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self.upstream_timeout = upstream_timeout

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is routine (a closed browser tab); anything else is logged, not printed."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            log("proxy_error", app=self.app.name, error=f"{type(error).__name__}: {error}")


class ClientGone(Exception):
    """The client closed its connection while we were writing to it."""


class ProxyHandler(BaseHTTPRequestHandler):
    """Forward one request; admission first for GPU work; stream the answer back as it arrives."""

    protocol_version = "HTTP/1.1"
    server: ProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # decisions are logged as JSON instead
        return

    def do_GET(self) -> None:
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    def do_HEAD(self) -> None:
        self._proxy()

    def do_PUT(self) -> None:
        self._proxy()

    def do_DELETE(self) -> None:
        self._proxy()

    def do_PATCH(self) -> None:
        self._proxy()

    def do_OPTIONS(self) -> None:
        self._proxy()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    raise ValueError("request body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _error(self, status: int, message: str, retry_after: float | None = None) -> None:
        kind = self.server.app.kind
        payload: dict[str, Any] = (
            {"error": message} if kind == "ollama" else {"error": "VramArbiter", "detail": message}
        )
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if retry_after is not None:
                self.send_header("Retry-After", str(max(1, int(retry_after))))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _proxy(self) -> None:
        server = self.server
        arbiter, app = server.arbiter, server.app
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._error(413 if "large" in str(exc) else 400, f"vram-arbiter: {exc}")
            return
        planner = plan_ollama if app.kind == "ollama" else plan_automatic1111
        plan = planner(arbiter, app, self.command, path, body)
        ticket = None
        if plan.admit:
            try:
                ticket = arbiter.admit(app.name, plan.need_gib, plan.label)
            except Refused as refused:
                self._error(503, f"vram-arbiter: {refused.decision.message}", retry_after=app.max_wait_s or 5)
                return
        try:
            if plan.reload_first:
                arbiter.ensure_loaded(app.name)
            self._forward(plan.body)
        finally:
            if ticket is not None:
                arbiter.release(ticket)
            if plan.refresh_after:
                arbiter.refresh(app.name)

    def _forward(self, body: bytes) -> None:
        server = self.server
        conn = http.client.HTTPConnection(server.upstream_host, server.upstream_port, timeout=server.upstream_timeout)
        try:
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for key, value in self.headers.items():
                    lower = key.lower()
                    if lower in HOP_BY_HOP or lower in ("content-length", "host", "expect"):
                        continue
                    conn.putheader(key, value)
                conn.putheader("Host", f"{server.upstream_host}:{server.upstream_port}")
                if body or self.command in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                self._error(502, f"vram-arbiter: cannot reach {server.app.name} at {server.app.upstream}: {exc}")
                return
            self._relay(response)
        except ClientGone:
            self.close_connection = True
        finally:
            conn.close()

    def _relay(self, response: http.client.HTTPResponse) -> None:
        no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        length = response.getheader("Content-Length")
        chunked = response.chunked or (length is None and not no_body)
        try:
            self.send_response_only(response.status, response.reason)
            for key, value in response.getheaders():
                lower = key.lower()
                if lower in HOP_BY_HOP or lower == "content-length":
                    continue
                self.send_header(key, value)
            if no_body:
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                return
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", length or "0")
            self.end_headers()
            self.wfile.flush()
        except OSError:
            raise ClientGone() from None
        cut = False
        while True:
            try:
                data = response.read1(STREAM_READ) if chunked else response.read(STREAM_READ)
            except (OSError, http.client.HTTPException):
                # The app went away mid-answer: end the client's stream so it sees a short answer.
                self.close_connection = cut = True
                data = b""
            try:
                if not data:
                    # A complete stream ends with the last chunk, also for a client that asked to close.
                    if chunked and not cut:
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                    return
                if chunked:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                else:
                    self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                raise ClientGone() from None


# =====================================================================================================
# Status server and main.
# =====================================================================================================


class StatusHandler(BaseHTTPRequestHandler):
    """/healthz, /status and /metrics."""

    server: StatusServer

    def log_message(self, format: str, *args: Any) -> None:  # probes and scrapes every few seconds
        return

    def do_GET(self) -> None:
        arbiter = self.server.arbiter
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthz":
            ok = arbiter.healthy() and self.server.proxies_alive()
            self._send(200 if ok else 503, b"ok\n" if ok else b"poll loop stalled\n", "text/plain")
        elif path == "/status":
            self._send(200, json.dumps(arbiter.status(), indent=2).encode(), "application/json")
        elif path == "/metrics":
            self._send(200, arbiter.metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._send(404, b"not found: try /healthz, /status or /metrics\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class StatusServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], arbiter: Arbiter, threads: list[threading.Thread]) -> None:
        super().__init__(address, StatusHandler)
        self.arbiter = arbiter
        self.threads = threads

    def proxies_alive(self) -> bool:
        return all(thread.is_alive() for thread in self.threads)


def make_client(app: AppConfig, timeout: float) -> Any:
    return OllamaClient(app, timeout) if app.kind == "ollama" else Automatic1111Client(app, timeout)


def poll_forever(arbiter: Arbiter, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            arbiter.poll_once()
        except Exception as exc:  # a bug in one poll must not stop the loop; the log shows it
            log("poll_failed", error=f"{type(exc).__name__}: {exc}")
        stop.wait(arbiter.config.poll_interval_s)


def read_config(argv: Sequence[str], env: dict[str, str]) -> Config:
    path = env.get("VRAM_ARBITER_CONFIG") or "/etc/vram-arbiter/config.json"
    if len(argv) >= 2 and argv[0] == "--config":
        path = argv[1]
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except OSError as exc:
        raise ConfigError(
            "VRAM_ARBITER_CONFIG", f"cannot read {path}: {exc.strerror}", "mount the config file"
        ) from None
    except ValueError as exc:
        raise ConfigError(path, f"is not valid JSON ({exc})", "regenerate it with homelab-ai synth") from None
    return load_config(raw, env)


def main(argv: Sequence[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    try:
        config = read_config(list(sys.argv[1:] if argv is None else argv), env)
    except ConfigError as exc:
        print(f"vram-arbiter: configuration error: {exc}", file=sys.stderr, flush=True)
        return 2
    arbiter = Arbiter(config, {app.name: make_client(app, config.request_timeout_s) for app in config.apps})
    try:
        proxies = [
            ProxyServer((config.listen_host, app.listen_port), arbiter, app, config.upstream_timeout_s)
            for app in config.apps
        ]
        # Each server notices shutdown() within a poll interval: SIGTERM ends the pod that soon.
        every = {"poll_interval": config.poll_interval_s}
        threads = [
            threading.Thread(target=p.serve_forever, kwargs=every, name=f"proxy-{p.app.name}", daemon=True)
            for p in proxies
        ]
        status = StatusServer((config.listen_host, config.status_port), arbiter, threads)
    except OSError as exc:
        print(f"vram-arbiter: cannot listen: {exc}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log(
        "start",
        card=config.card_name,
        card_gib=config.card_gib,
        apps=[
            {
                "name": a.name,
                "kind": a.kind,
                "upstream": a.upstream,
                "port": a.listen_port,
                "envelope_gib": [a.envelope.idle_gib, a.envelope.active_min_gib, a.envelope.active_max_gib],
                "max_wait_s": a.max_wait_s,
                "auth_user": a.auth_user,
            }
            for a in config.apps
        ],
        status_port=config.status_port,
    )
    # Rebuild the state from the apps before admitting anything: nothing is kept across restarts.
    arbiter.poll_once()
    for thread in threads:
        thread.start()
    threading.Thread(target=status.serve_forever, kwargs=every, name="status", daemon=True).start()
    poller = threading.Thread(target=poll_forever, args=(arbiter, stop), name="poll", daemon=True)
    poller.start()
    while not stop.wait(1.0):
        pass
    log("stop")
    for server in (*proxies, status):
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
