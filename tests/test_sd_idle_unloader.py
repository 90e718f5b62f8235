"""The Stable Diffusion idle unloader: run for real against a fake AUTOMATIC1111, and wired into the SD pod.

Timeouts here are a second or two; each wait has a generous deadline so a busy machine is slow,
not flaky. Assertions about "not before" compare timestamps the fake server recorded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from homelab_ai.services.stable_diffusion.idle_unloader import SCRIPT
from homelab_ai.services.stable_diffusion.sd_idle_unloader import is_busy, job_mark
from tests.fake_automatic1111 import FakeAutomatic1111, free_port
from tests.helpers import container

DEADLINE = 20.0


def wait_until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


class Sidecar:
    """The script as a subprocess; its stdout collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **env}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
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
def servers() -> Iterator[list[FakeAutomatic1111]]:
    started: list[FakeAutomatic1111] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def run_sidecar() -> Iterator[Callable[..., Sidecar]]:
    running: list[Sidecar] = []

    def start(url: str, *, timeout: float = 1.0, poll: float = 0.1, backoff: float = 0.4, **extra: str) -> Sidecar:
        env = {
            "SD_URL": url,
            "SD_IDLE_TIMEOUT_SECONDS": str(timeout),
            "SD_POLL_INTERVAL_SECONDS": str(poll),
            "SD_MAX_BACKOFF_SECONDS": str(backoff),
            "SD_REQUEST_TIMEOUT_SECONDS": "2",
            **extra,
        }
        sidecar = Sidecar(env)
        running.append(sidecar)
        return sidecar

    yield start
    for sidecar in running:
        sidecar.stop()


def serve(servers: list[FakeAutomatic1111], **kwargs) -> FakeAutomatic1111:
    server = FakeAutomatic1111(**kwargs).start()
    servers.append(server)
    return server


# Behaviour against the fake web UI -----------------------------------------------------------------


@pytest.mark.slow
def test_unloads_once_after_the_idle_timeout_and_not_again(servers, run_sidecar):
    server = serve(servers)
    sidecar = run_sidecar(server.url, timeout=1.5)
    wait_until(lambda: len(server.unloads) == 1, "the unload call")
    assert server.unloads[0].at - sidecar.started >= 1.5
    polls = len(server.polls)
    wait_until(lambda: len(server.polls) >= polls + 10, "ten more polls")
    assert len(server.unloads) == 1
    assert sidecar.lines_with("unloading the checkpoint")
    assert sidecar.lines_with("checkpoint unloaded")


@pytest.mark.slow
def test_does_not_unload_while_a_job_runs(servers, run_sidecar):
    server = serve(servers)
    server.start_job()
    run_sidecar(server.url, timeout=1.5, poll=0.1)
    # 30 polls are at least 3 s apart in total: twice the timeout, all of it busy.
    wait_until(lambda: len(server.polls) >= 30, "30 polls during the job")
    assert server.unloads == []
    ended = server.end_job()
    wait_until(lambda: len(server.unloads) == 1, "the unload after the job")
    # The last busy poll was at most one poll interval before the job ended.
    assert server.unloads[0].at - ended >= 1.5 - 0.1 - 0.2


@pytest.mark.slow
def test_a_job_between_two_polls_restarts_the_idle_timer(servers, run_sidecar):
    server = serve(servers)
    run_sidecar(server.url, timeout=1.5, poll=0.1)
    wait_until(lambda: len(server.polls) >= 3, "three polls")
    happened = server.instant_job()
    wait_until(lambda: len(server.unloads) == 1, "the unload")
    assert server.unloads[0].at - happened >= 1.5


@pytest.mark.slow
def test_unloads_again_only_after_new_activity(servers, run_sidecar):
    server = serve(servers)
    sidecar = run_sidecar(server.url, timeout=1.0)
    wait_until(lambda: len(server.unloads) == 1, "the first unload")
    server.start_job()
    polls = len(server.polls)
    wait_until(lambda: len(server.polls) >= polls + 3, "polls during the new job")
    ended = server.end_job()
    wait_until(lambda: len(server.unloads) == 2, "the second unload")
    assert server.unloads[1].at - ended >= 1.0 - 0.1 - 0.2
    assert sidecar.lines_with("activity after unload")


@pytest.mark.slow
def test_retries_with_backoff_until_the_web_ui_comes_up(servers, run_sidecar):
    port = free_port()
    sidecar = run_sidecar(f"http://127.0.0.1:{port}", timeout=1.0, poll=0.1, backoff=0.4)
    wait_until(lambda: len(sidecar.lines_with("cannot read progress")) >= 4, "four failed polls")
    waits = [line.rsplit(" in ", 1)[1] for line in sidecar.lines_with("cannot read progress")[:4]]
    assert waits == ["0.1s", "0.2s", "0.4s", "0.4s"]  # doubling, capped at SD_MAX_BACKOFF_SECONDS
    assert "cannot connect" in sidecar.lines_with("cannot read progress")[0]
    server = serve(servers, port=port)
    wait_until(lambda: len(server.unloads) == 1, "the unload once the web UI is up")
    assert sidecar.proc.poll() is None
    assert sidecar.lines_with("web UI answers again")


@pytest.mark.slow
def test_a_restarted_web_ui_is_unloaded_again(servers, run_sidecar):
    first = serve(servers)
    sidecar = run_sidecar(first.url, timeout=1.0, poll=0.1, backoff=0.2)
    wait_until(lambda: len(first.unloads) == 1, "the first unload")
    first.stop()
    wait_until(lambda: bool(sidecar.lines_with("cannot read progress")), "a failed poll while the web UI is down")
    restarted_at = time.monotonic()
    second = serve(servers, port=first.port)
    wait_until(lambda: len(second.unloads) == 1, "the unload after the restart")
    # A restarted web UI loads its checkpoint at start: the idle timer runs from its return.
    assert second.unloads[0].at - restarted_at >= 1.0


@pytest.mark.slow
def test_sends_basic_auth_from_its_environment(servers, run_sidecar):
    expected = "Basic " + base64.b64encode(b"admin:s3cret-pass").decode()
    server = serve(servers, authorization=expected)
    sidecar = run_sidecar(server.url, timeout=0.5, SD_API_USER="admin", SD_API_PASSWORD="s3cret-pass")
    wait_until(lambda: len(server.unloads) == 1, "the authenticated unload")
    assert {c.authorization for c in server.calls} == {expected}
    assert "s3cret-pass" not in sidecar.output
    assert sidecar.lines_with("as 'admin'")


@pytest.mark.slow
def test_a_wrong_password_is_logged_and_nothing_is_unloaded(servers, run_sidecar):
    server = serve(servers, authorization="Basic " + base64.b64encode(b"admin:right").decode())
    sidecar = run_sidecar(server.url, timeout=0.3, SD_API_USER="admin", SD_API_PASSWORD="wrong")
    wait_until(lambda: len(sidecar.lines_with("HTTP 401")) >= 3, "three refused polls")
    assert server.unloads == []
    assert "SD_API_USER/SD_API_PASSWORD" in sidecar.lines_with("HTTP 401")[0]


@pytest.mark.slow
def test_health_endpoint_reports_the_loop_not_the_web_ui(run_sidecar):
    health = free_port()
    run_sidecar(f"http://127.0.0.1:{free_port()}", SD_HEALTH_PORT=str(health))  # no web UI at all

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(healthy, "GET /healthz answering 200")


@pytest.mark.slow
def test_stops_cleanly_on_sigterm(servers, run_sidecar):
    server = serve(servers)
    sidecar = run_sidecar(server.url, timeout=60)
    wait_until(lambda: len(server.polls) >= 1, "a first poll")
    assert sidecar.stop() == 0
    assert sidecar.lines_with("stopping")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [("SD_IDLE_TIMEOUT_SECONDS", "ten"), ("SD_POLL_INTERVAL_SECONDS", "0"), ("SD_URL", "stable-diffusion:7860")],
)
def test_refuses_a_bad_setting_before_polling(name, value):
    env = {"PATH": os.environ.get("PATH", ""), name: value}
    result = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 2
    assert f"configuration error: {name}=" in result.stderr


@pytest.mark.slow
def test_refuses_a_user_without_a_password():
    env = {"PATH": os.environ.get("PATH", ""), "SD_API_USER": "admin"}
    result = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 2
    assert "SD_API_USER and SD_API_PASSWORD" in result.stderr


@pytest.mark.parametrize(
    ("progress", "busy"),
    [
        ({"progress": 0.0, "state": {"job": "", "job_count": 0}}, False),
        ({"progress": 0.4, "state": {"job": "txt2img", "job_count": 1}}, True),
        ({"progress": 0.0, "state": {"job": "", "job_count": 2}}, True),  # queued, not started
        ({"progress": 0.0, "state": {"job": "img2img", "job_count": 0}}, True),
        ({}, False),
    ],
)
def test_what_counts_as_a_running_job(progress, busy):
    assert is_busy(progress) is busy


def test_job_timestamp_marks_jobs_seen_between_polls():
    assert job_mark({"state": {"job_timestamp": "20250101120000"}}) == "20250101120000"
    assert job_mark({"state": {}}) is None


# Wiring into the Stable Diffusion pod --------------------------------------------------------------


def _sidecar(homelab_objects) -> dict:
    return container(homelab_objects[("Deployment", "stable-diffusion")], 1)


def test_sidecar_is_the_second_container_of_the_sd_pod_and_small(homelab_objects):
    sidecar = _sidecar(homelab_objects)
    assert sidecar["name"] == "idle-unloader"
    assert sidecar["image"] == "python:3.13.15-alpine3.24"
    assert sidecar["imagePullPolicy"] == "IfNotPresent"
    assert sidecar["resources"] == {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    }
    assert "nvidia.com/gpu" not in sidecar["resources"]["limits"]
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True
    assert sidecar["securityContext"]["runAsNonRoot"] is True


def test_sidecar_runs_the_script_from_a_configmap_generated_from_the_file(homelab_objects):
    pod = homelab_objects[("Deployment", "stable-diffusion")]["spec"]["template"]
    sidecar = _sidecar(homelab_objects)
    config_map = homelab_objects[("ConfigMap", "stable-diffusion-idle-unloader")]
    assert config_map["metadata"]["namespace"] == "ai"
    assert config_map["data"] == {"sd_idle_unloader.py": SCRIPT.read_text()}
    assert sidecar["command"] == ["python", "/opt/sd-idle-unloader/sd_idle_unloader.py"]
    mount = sidecar["volumeMounts"][0]
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "stable-diffusion-idle-unloader"
    assert (mount["mountPath"], mount["readOnly"]) == ("/opt/sd-idle-unloader", True)


def test_a_new_script_rolls_the_sd_pod(homelab_objects):
    annotations = homelab_objects[("Deployment", "stable-diffusion")]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["homelab-ai/idle-unloader-checksum"] == hashlib.sha256(SCRIPT.read_bytes()).hexdigest()


def test_sidecar_watches_the_web_ui_on_loopback_with_the_sd_timeout(homelab_objects):
    env = {e["name"]: e for e in _sidecar(homelab_objects)["env"]}
    assert env["SD_URL"]["value"] == "http://127.0.0.1:7860"
    assert env["SD_IDLE_TIMEOUT_SECONDS"]["value"] == "600"
    assert env["SD_POLL_INTERVAL_SECONDS"]["value"] == "15"


def test_sidecar_authenticates_with_the_sd_api_password(homelab_objects):
    env = {e["name"]: e for e in _sidecar(homelab_objects)["env"]}
    web_ui_env = {e["name"]: e for e in container(homelab_objects[("Deployment", "stable-diffusion")])["env"]}
    assert env["SD_API_USER"]["value"] == "admin"
    assert env["SD_API_PASSWORD"]["valueFrom"] == web_ui_env["SD_WEBUI_PASSWORD"]["valueFrom"]


def test_sd_budget_names_the_sidecar_as_its_unload_policy():
    from apps.homelab import stack

    sd = stack().stable_diffusion.gpu_app
    assert sd.idle_unload is not None
    assert "unload-checkpoint" in sd.idle_unload.mechanism
    assert sd.idle_unload.timeout.total_seconds() == 600


def _sd_chart(**sd_props):
    from homelab_ai import LlmBackend, LlmBackendProps, SopsSecret, SopsSecretProps, StableDiffusion
    from homelab_ai import StableDiffusionProps as Props
    from tests.factories import charts, gpu, vram

    app, infra, ai = charts()
    card = gpu(infra)
    secret = SopsSecret(ai, "Secret", SopsSecretProps(name="sd", file="unused.sops.yaml", keys=["password"]))
    LlmBackend(ai, "Ollama", LlmBackendProps(gpu=card, vram=vram(0, 8, 12)))
    sd = StableDiffusion(ai, "SD", Props(gpu=card, vram=vram(0, 8, 12), secret=secret, **sd_props))
    return app, sd


def _pod(sd) -> dict:
    import cdk8s

    return cdk8s.ApiObject.of(sd.gpu_app.app.workload).to_json()


def test_sd_without_the_idle_unloader_on_a_shared_card_is_refused():
    from homelab_ai.synth.dist import collect_problems

    app, _ = _sd_chart(idle_unloader=False)
    problems = [p for p in collect_problems(app) if p.startswith("GPU budget")]
    assert len(problems) == 1
    assert "stable-diffusion shares 'Test GPU' (24 GiB) with ollama but has no idle-unload policy" in problems[0]


def test_sd_without_the_idle_unloader_has_no_sidecar():
    _, sd = _sd_chart(idle_unloader=False)
    assert [c["name"] for c in _pod(sd)["spec"]["template"]["spec"]["containers"]] == ["stable-diffusion"]
    assert sd.idle_unloader is None


def test_idle_unloader_needs_the_api():
    from homelab_ai import HomelabConfigError

    with pytest.raises(HomelabConfigError, match=r"StableDiffusionProps.idle_unloader: the idle unloader calls"):
        _sd_chart(enable_api=False)


def test_sd_idle_settings_reach_the_sidecar():
    from datetime import timedelta

    _, sd = _sd_chart(idle_timeout=timedelta(minutes=3), idle_poll_interval=timedelta(seconds=5))
    env = {e["name"]: e.get("value") for e in container(_pod(sd), 1)["env"]}
    assert (env["SD_IDLE_TIMEOUT_SECONDS"], env["SD_POLL_INTERVAL_SECONDS"]) == ("180", "5")
