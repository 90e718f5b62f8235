"""The fakes behave like the pinned upstream releases, as their docstrings cite (a fake that drifts
from upstream makes every test that uses it wrong)."""

from __future__ import annotations

import base64
import errno
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from tests.fake_automatic1111 import ROUTES, FakeAutomatic1111
from tests.fake_servers import FakeOllama
from tests.ports import ephemeral_range, free_port
from tests.quick_stop import QuickStopServer

AUTH = "Basic " + base64.b64encode(b"admin:pw").decode()


def call(url: str, method: str = "GET", body: bytes | None = None, auth: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_ollama_answers_a_known_path_with_another_method_405_and_an_unknown_path_404():
    with FakeOllama() as ollama:
        assert call(f"{ollama.url}/api/pull") == (405, b"405 method not allowed")
        assert call(f"{ollama.url}/api/version", "POST", b"{}") == (405, b"405 method not allowed")
        assert call(f"{ollama.url}/api/nothing") == (404, b"404 page not found")
        assert call(f"{ollama.url}/") == (200, b"Ollama is running")


def test_ollama_streams_layers_and_omits_zero_counts():
    with FakeOllama(pullable={"m": [10, 4]}) as ollama:
        status, body = call(f"{ollama.url}/api/pull", "POST", json.dumps({"model": "m"}).encode())
    lines = [json.loads(line) for line in body.splitlines()]
    assert status == 200
    assert lines[0] == {"status": "pulling manifest"}
    layers = [line for line in lines if "digest" in line]
    assert len({line["digest"] for line in layers}) == 2
    assert "completed" not in layers[0] and layers[0]["total"] == 10
    assert [line["status"] for line in lines[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]


def test_ollama_reports_an_unknown_model_inside_the_200_stream_and_a_bad_name_as_400():
    with FakeOllama() as ollama:
        status, body = call(f"{ollama.url}/api/pull", "POST", json.dumps({"model": "nope"}).encode())
        bad = call(f"{ollama.url}/api/pull", "POST", json.dumps({"model": "no way"}).encode())
    assert status == 200
    assert [json.loads(line) for line in body.splitlines()] == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]
    assert bad == (400, b'{"error": "invalid model name"}')


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_automatic1111_answers_every_sdapi_route_401_without_basic_auth(path):
    server = FakeAutomatic1111(authorization=AUTH).start()
    try:
        status, body = call(f"{server.url}{path}", ROUTES[path], b"{}" if ROUTES[path] == "POST" else None)
        wrong = call(f"{server.url}{path}", ROUTES[path], b"{}" if ROUTES[path] == "POST" else None, "Basic eA==")
        right = call(f"{server.url}{path}", ROUTES[path], b"{}" if ROUTES[path] == "POST" else None, AUTH)
    finally:
        server.stop()
    assert (status, json.loads(body)["detail"]) == (401, "Not authenticated")
    assert (wrong[0], json.loads(wrong[1])["detail"]) == (401, "Incorrect username or password")
    assert right[0] == 200


def test_automatic1111_begins_a_job_with_job_count_minus_one_and_a_timestamp_to_the_second():
    server = FakeAutomatic1111(clock=lambda: 1_700_000_000.9)
    server.start_job()
    state = server.progress()["state"]
    assert (state["job"], state["job_count"]) == ("scripts_txt2img", -1)
    assert len(state["job_timestamp"]) == 14 and state["job_timestamp"].isdigit()
    assert server.progress()["progress"] > 0
    server.end_job()
    assert (server.progress()["state"]["job_count"], server.progress()["progress"]) == (0, 0)


def _hello_server(port: int = 0) -> QuickStopServer:
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, format: str, *args: object) -> None:
            return

    return QuickStopServer(("127.0.0.1", port), Hello)


def test_a_quick_stop_server_answers_until_shutdown_and_then_its_loop_ends():
    server = _hello_server()
    loop = threading.Thread(target=server.serve_forever, daemon=True)
    loop.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    assert call(url) == (200, b"hello")
    server.shutdown()
    loop.join(5)
    assert not loop.is_alive()
    server.server_close()
    with pytest.raises(urllib.error.URLError):
        call(url)


def test_a_quick_stop_server_on_a_port_in_use_raises_the_bind_error():
    with _hello_server() as taken, pytest.raises(OSError) as caught:
        _hello_server(taken.server_address[1])
    assert caught.value.errno == errno.EADDRINUSE


def test_free_port_never_hands_out_the_same_port_twice():
    """An arbiter config takes a status port and one per app at once: two equal ones are refused by the arbiter."""
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_free_port_is_outside_the_range_the_kernel_gives_to_outgoing_connections():
    """Picked now, bound later: a port of the ephemeral range could become a connection's local port meanwhile."""
    low, high = ephemeral_range()
    assert all(not low <= free_port() <= high for _ in range(50))
