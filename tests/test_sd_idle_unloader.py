"""The Stable Diffusion idle unloader against a fake AUTOMATIC1111 that behaves like v1.10.1.

Most tests drive the poll loop one step at a time on a clock the test sets (exact: "unloads at
600 s, not at 585 s, not a poll later"), over real HTTP to the fake. A few run the script as its
container does, a separate process; their waits have generous deadlines, and the one upper bound
they assert (unloaded well before three times the timeout) leaves seconds of slack.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from homelab_ai.services.stable_diffusion import sd_idle_unloader as sidecar
from homelab_ai.services.stable_diffusion.sd_idle_unloader import (
    Config,
    ConfigError,
    IdleUnloader,
    WebUI,
    describe_error,
    is_busy,
    job_mark,
    serve_gate,
    serve_health,
)
from tests.fake_automatic1111 import DEVICE_ERROR, FakeAutomatic1111
from tests.fake_servers import stop_server
from tests.ports import free_port

SCRIPT = sidecar.__file__
DEADLINE = 20.0  # seconds for a separate process or a thread to get somewhere
ANSWER = 5.0  # seconds for a server in this process to answer one request (a mutant that hangs fails fast)
AUTH = "Basic " + base64.b64encode(b"admin:s3cret-pass").decode()


class Clock:
    """The sidecar's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def servers() -> Iterator[list[FakeAutomatic1111]]:
    started: list[FakeAutomatic1111] = []
    yield started
    for server in started:
        server.stop()


def serve(servers: list[FakeAutomatic1111], **kwargs) -> FakeAutomatic1111:
    server = FakeAutomatic1111(**kwargs).start()
    servers.append(server)
    return server


def unloader_for(url: str, clock: Clock, **env: str) -> IdleUnloader:
    config = Config({"SD_URL": url, "SD_IDLE_TIMEOUT_SECONDS": "600", "SD_POLL_INTERVAL_SECONDS": "15", **env})
    return IdleUnloader(config, WebUI(config), threading.Event(), clock=clock)


def poll_until(unloader: IdleUnloader, clock: Clock, seconds: float) -> None:
    """Poll every interval until ``seconds`` after the sidecar started, as the loop would."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now += unloader.step()


# Idle timing --------------------------------------------------------------------------------------


def test_unloads_at_the_idle_timeout_and_not_a_poll_before(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    poll_until(unloader, clock, 585)  # polls at 0, 15, ..., 570: all idle for less than 600 s
    assert server.unloads == []
    assert unloader.step() == 15  # the poll at 585
    assert server.unloads == []
    clock.now += 15
    unloader.step()  # the poll at 600 s idle: exactly the timeout
    assert len(server.unloads) == 1


def test_unloads_once_and_not_again_while_still_idle(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    poll_until(unloader, clock, 1800)  # a timer re-armed by the unload would fire again at 1200 s
    assert len(server.unloads) == 1
    assert unloader.unloaded is True


def test_a_running_job_holds_the_timer_from_its_start_counted_or_not(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    server.start_job()  # State.begin: job_count -1
    poll_until(unloader, clock, 900)
    server.count_jobs(4)
    poll_until(unloader, clock, 900)
    assert server.unloads == []
    server.end_job()
    poll_until(unloader, clock, 585)  # the last busy poll was at 1785 s: idle for less than 600 s
    assert server.unloads == []
    poll_until(unloader, clock, 30)
    assert len(server.unloads) == 1


def test_a_job_that_started_and_ended_between_two_polls_restarts_the_timer(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    poll_until(unloader, clock, 300)
    server.instant_job()  # its job_timestamp changed: the only sign it ran
    poll_until(unloader, clock, 585)
    assert server.unloads == []  # 300 + 585: without the mark it would have unloaded at 600
    poll_until(unloader, clock, 30)
    assert len(server.unloads) == 1


def test_two_instant_jobs_in_one_second_look_like_one_as_upstream_keeps_seconds(servers):
    server, clock = serve(servers, clock=lambda: 1_700_000_000.0), Clock()
    unloader = unloader_for(server.url, clock)
    server.instant_job()
    unloader.step()
    first = unloader.last_activity
    clock.now += 15
    server.instant_job()  # same second, same job_timestamp: upstream cannot tell it happened
    unloader.step()
    assert unloader.last_activity == first


def test_the_web_ui_coming_back_counts_as_activity(servers):
    port, clock = free_port(), Clock()
    unloader = unloader_for(f"http://127.0.0.1:{port}", clock)
    assert [unloader.step() for _ in range(6)] == [15, 30, 60, 120, 120, 120]  # doubling, capped at 120 s
    clock.now += 10_000
    server = serve(servers, port=port)
    assert unloader.step() == 15
    assert unloader.last_activity == clock.now  # a restarted web UI loaded its checkpoint at start
    poll_until(unloader, clock, 585)
    assert server.unloads == []


def test_a_failed_unload_is_tried_again_at_the_next_poll(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)

    def refused() -> None:
        raise OSError("connection reset")

    unloader.web_ui.unload = refused
    poll_until(unloader, clock, 615)
    assert unloader.unloaded is False
    del unloader.web_ui.unload  # the web UI takes it again
    unloader.step()
    assert unloader.unloaded is True
    assert len(server.unloads) == 1


# Getting the checkpoint back ----------------------------------------------------------------------


def _post(url: str, path: str, authorization: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}{path}", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=ANSWER) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_upstream_does_not_reload_by_itself_a_generation_after_an_unload_fails(servers):
    server = serve(servers)
    assert _post(server.url, "/sdapi/v1/txt2img")[0] == 200
    _post(server.url, "/sdapi/v1/unload-checkpoint")
    status, body = _post(server.url, "/sdapi/v1/txt2img")
    assert (status, body["errors"]) == (500, DEVICE_ERROR)
    _post(server.url, "/sdapi/v1/reload-checkpoint")
    assert _post(server.url, "/sdapi/v1/txt2img")[0] == 200


def test_an_image_request_through_the_gate_after_an_idle_unload_succeeds(servers):
    server, clock = serve(servers, authorization=AUTH), Clock()
    unloader = unloader_for(server.url, clock, SD_API_USER="admin", SD_API_PASSWORD="s3cret-pass")
    gate_port = free_port()
    gate = serve_gate(unloader, gate_port)
    try:
        poll_until(unloader, clock, 615)
        assert len(server.unloads) == 1
        status, body = _post(f"http://127.0.0.1:{gate_port}", "/sdapi/v1/txt2img", AUTH)
    finally:
        stop_server(gate)
    assert status == 200
    assert body["images"] == ["aW1hZ2U="]
    assert len(server.reloads) == 1
    assert server.reloads[0].at < server.calls_to("/sdapi/v1/txt2img")[0].at
    assert unloader.unloaded is False
    assert unloader.last_activity == clock.now  # the idle timer starts again


def test_the_gate_passes_other_calls_and_the_clients_answer_through_unchanged(servers):
    server, clock = serve(servers, authorization=AUTH), Clock()
    unloader = unloader_for(server.url, clock, SD_API_USER="admin", SD_API_PASSWORD="s3cret-pass")
    gate_port = free_port()
    gate = serve_gate(unloader, gate_port)
    try:
        denied = _post(f"http://127.0.0.1:{gate_port}", "/sdapi/v1/txt2img")  # client without credentials
        with urllib.request.urlopen(f"http://127.0.0.1:{gate_port}/internal/ping", timeout=ANSWER) as response:
            ping = response.status, response.read()
    finally:
        stop_server(gate)
    assert denied == (401, {"error": "HTTPException", "detail": "Not authenticated", "body": "",
                            "errors": "401: Not authenticated"})  # fmt: skip
    assert ping == (200, b"{}")
    assert server.reloads == []  # loaded: nothing to reload


def test_a_gate_whose_web_ui_is_down_answers_502(servers):
    clock = Clock()
    unloader = unloader_for(f"http://127.0.0.1:{free_port()}", clock)
    gate_port = free_port()
    gate = serve_gate(unloader, gate_port)
    try:
        status, body = _post(f"http://127.0.0.1:{gate_port}", "/sdapi/v1/txt2img")
    finally:
        stop_server(gate)
    assert status == 502
    assert body["detail"].startswith("sd-idle-unloader gate: the web UI did not answer (")
    assert unloader.generating == 0


def test_a_generation_in_flight_through_the_gate_is_activity(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    unloader.before_generation()
    poll_until(unloader, clock, 1200)
    assert server.unloads == []
    unloader.after_generation()
    assert unloader.last_activity == clock.now
    poll_until(unloader, clock, 615)
    assert len(server.unloads) == 1


def test_a_job_seen_after_an_unload_gets_the_checkpoint_back(servers):
    """A job that did not come through the gate (the web page): reload at once, for the next one."""
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    poll_until(unloader, clock, 615)
    server.start_job()
    unloader.step()
    assert len(server.reloads) == 1
    assert server.checkpoint_on_gpu is True
    assert unloader.unloaded is False


def test_a_failed_reload_is_tried_again(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    poll_until(unloader, clock, 615)
    server.start_job()
    server.authorization = "Basic other"
    clock.now += 15
    unloader.step()  # the poll itself is refused: nothing judged
    server.authorization = None
    unloader.web_ui.reload = lambda: (_ for _ in ()).throw(OSError("reset"))
    clock.now += 15
    unloader.step()
    assert unloader.unloaded is True  # still off the GPU: the next activity tries again
    del unloader.web_ui.reload
    clock.now += 15
    unloader.step()
    assert unloader.unloaded is False
    assert server.checkpoint_on_gpu is True


# What counts as a job ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress", "busy"),
    [
        ({"progress": 0, "state": {"job": "", "job_count": 0}}, False),
        ({"progress": 0.01, "state": {"job": "scripts_txt2img", "job_count": -1}}, True),  # State.begin
        ({"progress": 0.4, "state": {"job": "scripts_txt2img", "job_count": 1}}, True),
        ({"progress": 0, "state": {"job": "", "job_count": 2}}, True),
        ({"progress": 0, "state": {"job": "", "job_count": -1}}, True),
        ({"progress": 0, "state": {"job": "img2img", "job_count": 0}}, True),
        ({"progress": 0.2, "state": {}}, True),
        ({"progress": None, "state": None}, False),
        ({}, False),
    ],
)
def test_what_counts_as_a_running_job(progress, busy):
    assert is_busy(progress) is busy


def test_job_timestamp_marks_jobs_seen_between_polls():
    assert job_mark({"state": {"job_timestamp": "20250101120000"}}) == "20250101120000"
    assert job_mark({"state": {"job_timestamp": 20250101120000}}) == "20250101120000"
    assert job_mark({"state": {}}) is None
    assert job_mark({}) is None


# Settings ---------------------------------------------------------------------------------------


def test_defaults_match_the_documented_ones():
    config = Config({})
    assert (config.url, config.idle_timeout, config.poll_interval) == ("http://127.0.0.1:7860", 600, 15)
    assert (config.max_backoff, config.request_timeout, config.gate_timeout) == (120, 30, 900)
    assert (config.authorization, config.health_port, config.gate_port) == (None, 0, 0)


def test_settings_are_read_from_the_environment():
    config = Config({"SD_URL": "https://sd:7860/", "SD_IDLE_TIMEOUT_SECONDS": " 90 ", "SD_POLL_INTERVAL_SECONDS": "5",
                     "SD_MAX_BACKOFF_SECONDS": "2", "SD_REQUEST_TIMEOUT_SECONDS": "3", "SD_HEALTH_PORT": "8099",
                     "SD_GATE_PORT": "7861", "SD_GATE_TIMEOUT_SECONDS": "60",
                     "SD_API_USER": "admin", "SD_API_PASSWORD": "s3cret-pass"})  # fmt: skip
    assert (config.url, config.idle_timeout, config.poll_interval) == ("https://sd:7860", 90, 5)
    assert config.max_backoff == 5  # never shorter than a poll
    assert (config.request_timeout, config.health_port, config.gate_port, config.gate_timeout) == (3, 8099, 7861, 60)
    assert config.authorization == AUTH
    assert config.user == "admin"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SD_IDLE_TIMEOUT_SECONDS": "ten"}, "SD_IDLE_TIMEOUT_SECONDS='ten' is not a number of seconds"),
        ({"SD_POLL_INTERVAL_SECONDS": "0"}, "SD_POLL_INTERVAL_SECONDS='0' must be greater than zero"),
        ({"SD_MAX_BACKOFF_SECONDS": "-1"}, "SD_MAX_BACKOFF_SECONDS='-1' must be greater than zero"),
        ({"SD_URL": "stable-diffusion:7860"}, "SD_URL='stable-diffusion:7860' must start with http:// or https://"),
        ({"SD_API_USER": "admin"}, "set both SD_API_USER and SD_API_PASSWORD, or neither"),
        ({"SD_API_PASSWORD": "x"}, "set both SD_API_USER and SD_API_PASSWORD, or neither"),
        ({"SD_HEALTH_PORT": "http"}, "SD_HEALTH_PORT='http' is not a port number (1-65535)"),
        ({"SD_GATE_PORT": "0"}, "SD_GATE_PORT='0' is not a port number (1-65535)"),
        ({"SD_GATE_PORT": "65536"}, "SD_GATE_PORT='65536' is not a port number (1-65535)"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(env, message):
    with pytest.raises(ConfigError) as caught:
        Config(env)
    assert str(caught.value) == message


def test_errors_are_described_with_a_hint(servers):
    server = serve(servers, authorization=AUTH)
    config = Config({"SD_URL": server.url})
    with pytest.raises(urllib.error.HTTPError) as refused:
        WebUI(config).progress()
    assert describe_error(refused.value) == (
        "HTTP 401 Unauthorized (check SD_API_USER/SD_API_PASSWORD against the web UI's --api-auth)"
    )
    with pytest.raises(urllib.error.HTTPError) as missing:
        WebUI(config)._request("GET", "/sdapi/v1/nothing-here")
    assert describe_error(missing.value) == "HTTP 404 Not Found (is the web UI started with --api?)"
    with pytest.raises(urllib.error.URLError) as down:
        WebUI(Config({"SD_URL": f"http://127.0.0.1:{free_port()}"})).progress()
    assert describe_error(down.value).startswith("cannot connect: ")
    assert describe_error(ValueError("odd")) == "ValueError: odd"


def test_a_progress_answer_that_is_not_an_object_is_an_error(servers):
    server = serve(servers)
    server.handle = lambda path: (200, [1, 2])
    with pytest.raises(ValueError, match=r"unexpected progress answer: \[1, 2\]"):
        WebUI(Config({"SD_URL": server.url})).progress()


def test_health_reports_whether_the_loop_polls(servers):
    clock = Clock()
    unloader = unloader_for(f"http://127.0.0.1:{free_port()}", clock, SD_MAX_BACKOFF_SECONDS="120",
                            SD_REQUEST_TIMEOUT_SECONDS="30")  # fmt: skip
    unloader.step()
    clock.now += 3 * 120 + 2 * 30 - 1
    assert unloader.healthy() is True
    clock.now += 1
    assert unloader.healthy() is False


def test_the_health_endpoint_answers_for_the_loop_only():
    clock = Clock()
    unloader = unloader_for(f"http://127.0.0.1:{free_port()}", clock)
    port = free_port()
    server = serve_health(unloader, port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=ANSWER) as response:
            ok = (response.status, response.read())
        clock.now += 10_000
        with pytest.raises(urllib.error.HTTPError) as stale:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=ANSWER)
        with pytest.raises(urllib.error.HTTPError) as other:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=ANSWER)
    finally:
        stop_server(server)
    assert ok == (200, b"ok\n")
    assert (stale.value.code, stale.value.read()) == (503, b"not ok\n")
    assert other.value.code == 404


# The script as its container runs it ------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str, alive: Callable[[], bool] = lambda: True) -> None:
    """Wait for ``condition``; fail at once when what should bring it about (``alive``) has ended."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if condition():
            return
        if not alive():
            raise AssertionError(f"ended before {what}")
        time.sleep(0.02)
    raise AssertionError(f"timed out after {DEADLINE}s waiting for {what}")


class Sidecar:
    """The script as a subprocess; its stdout collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **env}
        self.proc = subprocess.Popen(
            [sys.executable, SCRIPT], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def lines_with(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=DEADLINE)
        self._reader.join(timeout=DEADLINE)
        return code


@pytest.fixture
def run_sidecar() -> Iterator[Callable[..., Sidecar]]:
    running: list[Sidecar] = []

    def start(url: str, *, timeout: float = 1.0, poll: float = 0.1, **extra: str) -> Sidecar:
        env = {
            "SD_URL": url,
            "SD_IDLE_TIMEOUT_SECONDS": str(timeout),
            "SD_POLL_INTERVAL_SECONDS": str(poll),
            "SD_MAX_BACKOFF_SECONDS": "0.4",
            "SD_REQUEST_TIMEOUT_SECONDS": "2",
            **extra,
        }
        process = Sidecar(env)
        running.append(process)
        return process

    yield start
    for process in running:
        process.stop()


@pytest.mark.slow
def test_the_process_unloads_after_the_timeout_and_not_much_later(servers, run_sidecar):
    server = serve(servers, authorization=AUTH)
    process = run_sidecar(server.url, timeout=1.5, SD_API_USER="admin", SD_API_PASSWORD="s3cret-pass")
    wait_until(lambda: len(server.unloads) == 1, "the unload call")
    first_poll = server.polls[0].at
    waited = server.unloads[0].at - first_poll
    # The sidecar's idle timer starts a moment before its first poll is answered; it unloads one poll
    # (0.1 s) after the timeout plus scheduling slack (a second on a loaded machine): well before three
    # times 1.5 s (the exact moment is held on the test's clock by the in-process tests above).
    assert 1.5 - 0.5 <= waited < 2.5 * 1.5
    assert {c.authorization for c in server.calls} == {AUTH}
    assert "s3cret-pass" not in process.output
    assert process.lines_with("as 'admin'")
    assert process.lines_with("unloading the checkpoint")


@pytest.mark.slow
def test_the_process_serves_the_gate_and_stops_cleanly_on_sigterm(servers, run_sidecar):
    server = serve(servers)
    gate = free_port()
    process = run_sidecar(server.url, timeout=0.3, SD_GATE_PORT=str(gate))
    wait_until(lambda: len(server.unloads) == 1, "the unload")

    def generated() -> bool:
        try:
            return _post(f"http://127.0.0.1:{gate}", "/sdapi/v1/txt2img")[0] == 200
        except OSError:
            return False

    wait_until(generated, "a generation through the gate")
    assert len(server.reloads) >= 1
    assert process.stop() == 0
    assert process.lines_with("stopping")


@pytest.mark.slow
def test_the_process_refuses_a_bad_setting_before_polling():
    env = {"PATH": os.environ.get("PATH", ""), "SD_POLL_INTERVAL_SECONDS": "0"}
    result = subprocess.run([sys.executable, SCRIPT], env=env, capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 2
    assert result.stderr == (
        "sd-idle-unloader: configuration error: SD_POLL_INTERVAL_SECONDS='0' must be greater than zero\n"
    )


@pytest.mark.slow
def test_main_watches_serves_its_ports_and_stops_on_sigterm(servers, monkeypatch, capsys):
    server = serve(servers)
    handlers: dict[int, Callable] = {}
    monkeypatch.setattr(sidecar.signal, "signal", lambda number, handler: handlers.__setitem__(number, handler))
    health, gate = free_port(), free_port()
    env = {"SD_URL": server.url, "SD_IDLE_TIMEOUT_SECONDS": "0.2", "SD_POLL_INTERVAL_SECONDS": "0.05",
           "SD_HEALTH_PORT": str(health), "SD_GATE_PORT": str(gate)}  # fmt: skip
    result: list[int] = []
    messages: list[str] = []  # what it logs, seen as it happens (the printed lines are read at the end)
    log = sidecar.log
    monkeypatch.setattr(sidecar, "log", lambda message: (messages.append(message), log(message)))
    runner = threading.Thread(target=lambda: result.append(sidecar.main(env)), daemon=True)
    runner.start()
    wait_until(lambda: len(messages) >= 2, "the first poll", alive=runner.is_alive)
    assert messages[:2] == [  # the settings it was given, not the process environment's; the poll answered
        f"watching {server.url} without auth: unload after 0.2s idle, poll every 0.05s, retry backoff up to 120s",
        "web UI reachable; idle timer running",
    ]
    wait_until(lambda: len(server.unloads) == 1, "the unload", alive=runner.is_alive)
    assert status_of_health(health) == 200
    assert _post(f"http://127.0.0.1:{gate}", "/sdapi/v1/txt2img")[0] == 200
    assert set(handlers) == {signal.SIGTERM, signal.SIGINT}
    handlers[signal.SIGTERM](signal.SIGTERM, None)
    runner.join(timeout=DEADLINE)
    assert result == [0]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(
        f"sd-idle-unloader: watching {server.url} without auth: unload after 0.2s idle, poll every 0.05s, "
        "retry backoff up to 120s"
    )
    assert lines[-1].endswith("sd-idle-unloader: stopping")
    assert all(len(line.split(" ", 1)[0]) == len("2026-01-01T00:00:00Z") for line in lines)


def test_main_refuses_a_bad_setting_with_exit_code_2(capsys, monkeypatch):
    monkeypatch.setenv("SD_POLL_INTERVAL_SECONDS", "0")  # main reads the settings it is given, not these
    assert sidecar.main({"SD_IDLE_TIMEOUT_SECONDS": "soon"}) == 2
    assert capsys.readouterr().err == (
        "sd-idle-unloader: configuration error: SD_IDLE_TIMEOUT_SECONDS='soon' is not a number of seconds\n"
    )


def status_of_health(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=ANSWER) as response:
        return response.status


@pytest.mark.slow
def test_a_web_ui_that_never_answers_is_a_failed_poll_after_the_request_timeout(capsys):
    from tests.fake_servers import SilentServer

    with SilentServer() as silent:
        clock = Clock()
        unloader = unloader_for(silent.url, clock, SD_REQUEST_TIMEOUT_SECONDS="0.2")
        assert unloader.step() == 15
    assert unloader.failures == 1
    assert _messages(capsys) == ["sd-idle-unloader: cannot read progress (TimeoutError: timed out); retry 1 in 15s"]


def _messages(capsys) -> list[str]:
    """The log lines of the steps so far, without their time stamps."""
    return [line.split(" ", 1)[1] for line in capsys.readouterr().out.splitlines()]


def test_each_decision_is_logged_in_words(servers, capsys):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    poll_until(unloader, clock, 615)
    server.start_job()
    clock.now += 15
    unloader.step()
    assert _messages(capsys) == [
        "sd-idle-unloader: web UI reachable; idle timer running",
        "sd-idle-unloader: idle for 600s (timeout 600s): unloading the checkpoint",
        "sd-idle-unloader: checkpoint unloaded; it is reloaded before the next generation",
        "sd-idle-unloader: a job started after the unload: checkpoint reloaded; idle timer restarted",
    ]


def test_failures_are_logged_with_the_reason_and_counted_afresh_after_a_recovery(servers, capsys):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    server.authorization = AUTH  # the sidecar has no credentials: refused
    assert [unloader.step(), unloader.step()] == [15, 30]
    server.authorization = None
    unloader.step()
    server.authorization = AUTH
    assert unloader.step() == 15  # the backoff starts over
    assert _messages(capsys) == [
        "sd-idle-unloader: cannot read progress (HTTP 401 Unauthorized (check SD_API_USER/SD_API_PASSWORD against "
        "the web UI's --api-auth)); retry 1 in 15s",
        "sd-idle-unloader: cannot read progress (HTTP 401 Unauthorized (check SD_API_USER/SD_API_PASSWORD against "
        "the web UI's --api-auth)); retry 2 in 30s",
        "sd-idle-unloader: web UI answers again after 2 failed poll(s); counting that as activity",
        "sd-idle-unloader: cannot read progress (HTTP 401 Unauthorized (check SD_API_USER/SD_API_PASSWORD against "
        "the web UI's --api-auth)); retry 1 in 15s",
    ]


def test_failed_unloads_and_reloads_are_logged_with_the_reason(servers, capsys):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)

    def refused() -> None:
        raise OSError("connection reset")

    unloader.web_ui.unload = refused
    poll_until(unloader, clock, 600)
    unloader.step()
    del unloader.web_ui.unload
    clock.now += 15
    unloader.step()
    unloader.web_ui.reload = refused
    unloader.before_generation()
    assert _messages(capsys)[-4:] == [
        "sd-idle-unloader: unload failed (OSError: connection reset); trying again at the next poll",
        "sd-idle-unloader: idle for 615s (timeout 600s): unloading the checkpoint",
        "sd-idle-unloader: checkpoint unloaded; it is reloaded before the next generation",
        "sd-idle-unloader: generation request through the gate, but reloading the checkpoint failed (OSError: "
        "connection reset); trying again",
    ]


def test_two_generations_in_flight_hold_the_timer_until_both_end(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    unloader.before_generation()
    unloader.before_generation()
    unloader.after_generation()
    poll_until(unloader, clock, 1200)
    assert server.unloads == []
    unloader.after_generation()
    poll_until(unloader, clock, 615)
    assert len(server.unloads) == 1


@pytest.mark.parametrize("raw", ["1", "65535"])
def test_every_port_from_1_to_65535_is_taken(raw):
    assert Config({"SD_GATE_PORT": raw}).gate_port == int(raw)


def test_a_url_keeps_its_last_letter_and_loses_its_slashes():
    assert Config({"SD_URL": "http://sdX//"}).url == "http://sdX"


def test_another_http_error_is_described_by_its_code_and_reason_alone(servers):
    server = serve(servers)
    server.handle = lambda path: (500, {"detail": "boom"})
    with pytest.raises(urllib.error.HTTPError) as failed:
        WebUI(Config({"SD_URL": server.url})).progress()
    assert describe_error(failed.value) == "HTTP 500 Internal Server Error"


def test_main_reads_the_process_environment_by_default(monkeypatch, capsys):
    monkeypatch.setenv("SD_POLL_INTERVAL_SECONDS", "never")
    assert sidecar.main() == 2
    assert "SD_POLL_INTERVAL_SECONDS='never' is not a number of seconds" in capsys.readouterr().err


def test_the_start_line_names_the_user_it_authenticates_as(servers, capsys):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock, SD_API_USER="admin", SD_API_PASSWORD="s3cret-pass")
    unloader.stop.set()
    unloader.step = lambda: pytest.fail("polled although asked to stop")
    unloader.run()
    assert _messages(capsys) == [
        f"sd-idle-unloader: watching {server.url} as 'admin': unload after 600s idle, poll every 15s, retry "
        "backoff up to 120s",
        "sd-idle-unloader: stopping",
    ]


def _gate(unloader: IdleUnloader):
    port = free_port()
    return port, serve_gate(unloader, port)


def _raw(url: str, method: str, body: bytes | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=ANSWER) as response:
            return response.status, response.getheaders(), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, list(exc.headers.items()), exc.read()


def test_the_gate_answers_with_the_web_uis_status_type_and_one_length(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    port, gate = _gate(unloader)
    try:
        status, headers, body = _raw(f"http://127.0.0.1:{port}/sdapi/v1/txt2img?x=1", "POST", b"{}")
    finally:
        stop_server(gate)
    assert status == 200
    names = [name.lower() for name, _ in headers]
    assert names.count("content-length") == 1
    assert dict((k.lower(), v) for k, v in headers)["content-type"] == "application/json"
    assert int(dict((k.lower(), v) for k, v in headers)["content-length"]) == len(body)


def test_only_a_post_to_a_generation_path_reloads_even_with_a_query_string(servers):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    poll_until(unloader, clock, 615)
    port, gate = _gate(unloader)
    try:
        _raw(f"http://127.0.0.1:{port}/sdapi/v1/progress?skip_current_image=true", "GET")
        _raw(f"http://127.0.0.1:{port}/sdapi/v1/txt2img", "GET")
        assert server.reloads == []
        status = _raw(f"http://127.0.0.1:{port}/sdapi/v1/txt2img?extra=1", "POST", b"{}")[0]
    finally:
        stop_server(gate)
    assert status == 200
    assert len(server.reloads) == 1


def test_a_502_from_the_gate_is_json():
    clock = Clock()
    unloader = unloader_for(f"http://127.0.0.1:{free_port()}", clock)
    port, gate = _gate(unloader)
    try:
        status, headers, body = _raw(f"http://127.0.0.1:{port}/sdapi/v1/txt2img", "POST", b"{}")
    finally:
        stop_server(gate)
    assert status == 502
    assert dict((k.lower(), v) for k, v in headers)["content-type"] == "application/json"
    assert int(dict((k.lower(), v) for k, v in headers)["content-length"]) == len(body)


def test_health_answers_in_plain_text_with_its_length():
    clock = Clock()
    unloader = unloader_for(f"http://127.0.0.1:{free_port()}", clock)
    port = free_port()
    server = serve_health(unloader, port)
    try:
        status, headers, body = _raw(f"http://127.0.0.1:{port}/healthz", "GET")
    finally:
        stop_server(server)
    assert (status, body) == (200, b"ok\n")
    assert dict((k.lower(), v) for k, v in headers)["content-type"] == "text/plain"
    assert dict((k.lower(), v) for k, v in headers)["content-length"] == "3"


def test_log_lines_are_stamped_in_utc_whatever_the_local_zone(monkeypatch, capsys):
    from datetime import UTC, datetime

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        sidecar.log("hello")
    finally:
        monkeypatch.undo()
        time.tzset()
    stamp = capsys.readouterr().out.split(" ", 1)[0]
    seen = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - seen).total_seconds()) < 60


@pytest.mark.slow
def test_a_gate_whose_web_ui_hangs_answers_502_after_its_timeout():
    from tests.fake_servers import SilentServer

    with SilentServer() as silent:
        unloader = unloader_for(silent.url, Clock(), SD_GATE_TIMEOUT_SECONDS="0.2")
        port, gate = _gate(unloader)
        try:
            status, _, body = _raw(f"http://127.0.0.1:{port}/sdapi/v1/txt2img", "POST", b"{}")
        finally:
            stop_server(gate)
    assert status == 502
    assert json.loads(body) == {"detail": "sd-idle-unloader gate: the web UI did not answer (timed out)"}


def test_a_web_ui_back_after_failed_polls_gets_one_reload_attempt_per_poll(servers, capsys):
    server, clock = serve(servers), Clock()
    unloader = unloader_for(server.url, clock)
    poll_until(unloader, clock, 615)
    server.authorization = AUTH  # one refused poll
    unloader.step()
    server.authorization = None
    attempts: list[float] = []

    def refused() -> None:
        attempts.append(clock.now)
        raise OSError("connection reset")

    unloader.web_ui.reload = refused
    unloader.step()  # answers again: activity, so a reload, which fails
    assert attempts == [clock.now]
    assert unloader.unloaded is True
    assert _messages(capsys)[-1] == (
        "sd-idle-unloader: a job started after the unload, but reloading the checkpoint failed (OSError: "
        "connection reset); trying again"
    )


def test_an_empty_answer_reads_as_an_empty_object():
    from tests.fake_servers import FileServer

    with FileServer({sidecar.UNLOAD_PATH: b""}) as server:
        assert WebUI(Config({"SD_URL": server.url}))._request("POST", sidecar.UNLOAD_PATH) == {}


def test_the_gate_speaks_tls_to_an_https_web_ui():
    """HTTPSConnection for https://: the first bytes the web UI gets are a TLS handshake record (0x16)."""
    first: list[bytes] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(ANSWER)
        web_ui = WebUI(Config({"SD_URL": f"https://127.0.0.1:{listener.getsockname()[1]}"}))

        def accept() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(ANSWER)
                first.append(connection.recv(1))

        receiver = threading.Thread(target=accept, daemon=True)
        receiver.start()
        with pytest.raises(OSError):  # this listener speaks no TLS back
            web_ui.forward("GET", "/internal/ping", {}, None)
        receiver.join(ANSWER)
    assert first == [b"\x16"]


def test_a_web_ui_url_without_a_host_is_this_machine(servers):
    server = serve(servers)
    status, _, body = WebUI(Config({"SD_URL": f"http://:{server.port}"})).forward("GET", "/internal/ping", {}, None)
    assert (status, body) == (200, b"{}")


def test_the_gate_sends_the_web_ui_its_own_host_and_no_hop_by_hop_headers(servers):
    server = serve(servers)
    client_headers = {"Host": "gate.example:7861", "Connection": "keep-alive", "Keep-Alive": "timeout=5",
                      "TE": "trailers", "Authorization": AUTH, "X-Request-Id": "42"}  # fmt: skip
    WebUI(Config({"SD_URL": server.url})).forward("GET", "/internal/ping", client_headers, None)
    seen = {name.lower(): value for name, value in server.calls[-1].headers.items()}
    assert seen["host"] == f"127.0.0.1:{server.port}"
    assert "keep-alive" not in seen and "te" not in seen and seen.get("connection") != "keep-alive"
    assert (seen["authorization"], seen["x-request-id"]) == (AUTH, "42")  # the client's own pass through


def test_a_request_without_a_body_reaches_the_web_ui_without_one(servers):
    server, clock = serve(servers), Clock()
    port, gate = _gate(unloader_for(server.url, clock))
    try:
        assert _raw(f"http://127.0.0.1:{port}/internal/ping", "GET")[0] == 200
    finally:
        stop_server(gate)
    assert "content-length" not in {name.lower() for name in server.calls[-1].headers}
