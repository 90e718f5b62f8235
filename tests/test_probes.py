"""Which path each container's probes ask, and why it answers without credentials.

The kubelet sends no credentials. A probe on a path behind authentication gets 401 forever: the
pod never becomes Ready (readiness) or is restarted in a loop (liveness). Each app's probe path is
checked against a fake that enforces authentication the way the pinned release does.
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.error
import urllib.request

import pytest

from homelab_ai.services.stable_diffusion.sd_idle_unloader import Config, IdleUnloader, WebUI, serve_health
from tests.fake_automatic1111 import FakeAutomatic1111
from tests.fake_servers import FakeOllama
from tests.helpers import container
from tests.ports import free_port

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
AUTH = "Basic " + base64.b64encode(b"admin:s3cret-pass").decode()


def probe_targets(obj: dict, index: int = 0) -> set[tuple[str, int]]:
    """(path, port) of every probe of one container."""
    c = container(obj, index)
    return {(c[p]["httpGet"]["path"], c[p]["httpGet"]["port"]) for p in PROBES}


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_stable_diffusion_is_probed_on_internal_ping_which_needs_no_api_auth(homelab_objects):
    """modules/ui.py setup_ui_api adds /internal/ping to the app itself, not through Api.add_api_route,
    so --api-auth (every /sdapi/v1 route) does not cover it; --gradio-auth guards gradio's own pages."""
    web_ui = homelab_objects[("Deployment", "stable-diffusion")]
    assert probe_targets(web_ui) == {("/internal/ping", 7860)}
    server = FakeAutomatic1111(authorization=AUTH).start()
    try:
        assert status_of(f"{server.url}/internal/ping") == 200
        assert status_of(f"{server.url}/sdapi/v1/progress") == 401  # why the probe must stay off /sdapi
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/sdapi/v1/progress", "/sdapi/v1/memory", "/sdapi/v1/sd-models", "/sdapi/v1/options"])
def test_no_probe_of_stable_diffusion_asks_an_api_route(homelab_objects, path):
    assert path not in {p for p, _ in probe_targets(homelab_objects[("Deployment", "stable-diffusion")])}


def test_the_idle_unloader_is_probed_on_its_own_healthz_without_credentials(homelab_objects):
    """The sidecar's /healthz reports its poll loop and is served by the sidecar itself."""
    web_ui = homelab_objects[("Deployment", "stable-diffusion")]
    assert probe_targets(web_ui, 1) == {("/healthz", 8099)}
    port = free_port()
    config = Config({"SD_URL": f"http://127.0.0.1:{free_port()}", "SD_API_USER": "admin", "SD_API_PASSWORD": "x"})
    unloader = IdleUnloader(config, WebUI(config), threading.Event(), clock=time.monotonic)
    server = serve_health(unloader, port)
    try:
        assert status_of(f"http://127.0.0.1:{port}/healthz") == 200
    finally:
        server.shutdown()
        server.server_close()


def test_ollama_is_probed_on_api_version_which_ollama_serves_to_anyone(homelab_objects):
    """Ollama has no authentication (server/routes.go@v0.32.15 L1879-1880: HEAD and GET /api/version)."""
    assert probe_targets(homelab_objects[("StatefulSet", "ollama")]) == {("/api/version", 11434)}
    with FakeOllama() as ollama:
        assert status_of(f"{ollama.url}/api/version") == 200


def test_open_webui_is_probed_on_health_and_ready_which_need_no_login(homelab_objects):
    """Open WebUI's /health ({"status": true}, open_webui/main.py@0.12.4 L3075-3077) and /ready (503 until
    start-up and the database answer, L3080-3118) are plain routes with no user dependency; every /api
    route needs a session."""
    web = container(homelab_objects[("Deployment", "open-webui")])
    paths = {probe: (web[probe]["httpGet"]["path"], web[probe]["httpGet"]["port"]) for probe in PROBES}
    assert paths == {
        "startupProbe": ("/ready", 8080),
        "readinessProbe": ("/ready", 8080),
        "livenessProbe": ("/health", 8080),
    }
