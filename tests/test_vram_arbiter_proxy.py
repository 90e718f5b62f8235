"""The arbiter's reverse proxy, status endpoint and main(), in this process on 127.0.0.1.

The proxy runs in a thread (port 0) in front of the fakes of tests/fake_gpu_apps.py (Ollama v0.6.8,
AUTOMATIC1111 v1.10.1), or of a scripted server for answers the fakes never give (a 204, a HEAD, an
app that hangs up mid-answer). The card is the spec's 24 GiB; Ollama 0 / 8-16 GiB, SD 0 / 8-12 GiB.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.arbiter_inproc import CHAT, GIB, SD, Harness, arb, events, records, released, request, wait_for


def raw_request(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    """Bytes as a client writes them (asking the server to close after); everything it answers until then."""
    head, sep, rest = data.partition(b"\r\n")
    if b"HTTP/1.1" in head and b"Connection:" not in data.partition(b"\r\n\r\n")[0]:
        data = head + sep + b"Connection: close\r\n" + rest
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


# Planning: which requests need the card -----------------------------------------------------------------------


def plan(h: Harness, name: str, method: str, path: str, payload=None, body: bytes | None = None) -> object:
    data = body if body is not None else (b"" if payload is None else json.dumps(payload).encode())
    planner = arb.plan_ollama if name == "ollama" else arb.plan_automatic1111
    return planner(h.arbiter, h.app(name), method, path, data)


def test_ollama_requests_that_load_nothing_go_straight_through(harness):
    h = harness()
    assert plan(h, "ollama", "GET", "/api/tags") == arb.Plan(label="GET /api/tags")
    assert plan(h, "ollama", "POST", "/api/pull", {"model": "x"}).admit is False
    assert plan(h, "ollama", "GET", "/api/chat").admit is False


@pytest.mark.parametrize(
    "path",
    [
        "/api/generate",
        "/api/chat",
        "/api/embed",
        "/api/embeddings",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
    ],
)
def test_every_ollama_route_that_runs_a_model_is_admitted(harness, path):
    h = harness()
    got = plan(h, "ollama", "POST", path, {"model": "llama3.2", "prompt": "hi", "messages": [1]})
    assert (got.admit, got.need_gib, got.label) == (True, 16.0, f"POST {path} llama3.2")


def test_an_ollama_body_that_is_not_json_is_left_for_ollama_to_refuse(harness):
    h = harness()
    assert plan(h, "ollama", "POST", "/api/chat", body=b"{nope") == arb.Plan(body=b"{nope", label="POST /api/chat")


def test_an_ollama_body_that_is_not_an_object_is_left_for_ollama_to_refuse(harness):
    h = harness()
    assert plan(h, "ollama", "POST", "/api/chat", body=b"[1]") == arb.Plan(body=b"[1]", label="POST /api/chat")


def test_an_empty_ollama_body_is_admitted_at_the_active_max(harness):
    h = harness()
    got = plan(h, "ollama", "POST", "/api/chat", body=b" ")
    assert (got.admit, got.need_gib, got.label) == (True, 16.0, "POST /api/chat")


def test_a_model_that_is_not_a_string_is_admitted_at_the_active_max(harness):
    h = harness()
    h.state("ollama").models = {"tiny:latest": 4 * GIB}
    got = plan(h, "ollama", "POST", "/api/chat", {"model": 7, "messages": [1]})
    assert (got.admit, got.need_gib, got.label) == (True, 16.0, "POST /api/chat")


def test_a_request_for_a_loaded_model_is_admitted_at_its_size(harness):
    h = harness()
    h.state("ollama").models = {"tiny:latest": 4 * GIB}
    assert plan(h, "ollama", "POST", "/api/chat", {"model": "tiny", "messages": [1]}).need_gib == 4.0


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/generate", {"model": "llama3.2", "keep_alive": 0}),
        ("/api/generate", {"model": "llama3.2", "prompt": "", "keep_alive": "0s"}),
        ("/api/chat", {"model": "llama3.2", "messages": [], "keep_alive": 0}),
    ],
)
def test_an_unload_request_goes_through_and_the_app_is_read_again_after(harness, path, payload):
    # routes.go GenerateHandler / ChatHandler (v0.6.8 L161-173, L1449-1470): empty prompt + keep_alive 0 unloads.
    h = harness()
    got = plan(h, "ollama", "POST", path, payload)
    assert (got.admit, got.refresh_after) == (False, True)
    assert got.body == json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/generate", {"model": "llama3.2", "prompt": "hi", "keep_alive": 0}),
        ("/api/chat", {"model": "llama3.2", "messages": [1], "keep_alive": 0}),
        ("/api/generate", {"model": "llama3.2", "keep_alive": 5}),
        ("/api/generate", {"model": "llama3.2"}),
        ("/api/embed", {"model": "llama3.2", "keep_alive": 0}),
    ],
    ids=["prompt", "messages", "keep-alive-5", "no-keep-alive", "embed"],
)
def test_a_request_that_runs_the_model_is_no_unload_request(harness, path, payload):
    h = harness()
    got = plan(h, "ollama", "POST", path, payload)
    assert (got.admit, got.refresh_after) == (True, False)


def test_a_keep_alive_over_the_cap_is_rewritten_counted_and_logged(harness, capsys):
    h = harness()
    capsys.readouterr()
    got = plan(h, "ollama", "POST", "/api/chat", {**CHAT, "keep_alive": -1})
    assert json.loads(got.body) == {**CHAT, "keep_alive": 300}
    assert records(capsys.readouterr().out) == [
        {"event": "keep_alive_capped", "app": "ollama", "requested": -1, "forwarded": 300}
    ]


def test_a_keep_alive_within_the_cap_is_forwarded_byte_for_byte(harness):
    h = harness()
    body = b'{"model":"llama3.2","messages":[1],"keep_alive":"2m"}'
    assert plan(h, "ollama", "POST", "/api/chat", body=body).body == body


def test_keep_alive_on_the_openai_routes_is_not_capped(harness):
    h = harness()
    body = b'{"model":"llama3.2","messages":[1],"keep_alive":-1}'
    assert plan(h, "ollama", "POST", "/v1/chat/completions", body=body).body == body


def test_no_cap_without_a_keep_alive(harness):
    h = harness()
    body = b'{"model":"llama3.2","messages":[1]}'
    assert plan(h, "ollama", "POST", "/api/chat", body=body).body == body


def test_no_cap_when_the_app_has_none(harness):
    h = harness()
    app = h.app("ollama")
    uncapped = type(app)(**{**app.__dict__, "keep_alive_cap_s": None})
    body = b'{"model":"llama3.2","messages":[1],"keep_alive":-1}'
    assert arb.plan_ollama(h.arbiter, uncapped, "POST", "/api/chat", body).body == body


def test_sd_reads_go_straight_through(harness):
    h = harness()
    assert plan(h, SD, "GET", "/sdapi/v1/progress") == arb.Plan(label="GET /sdapi/v1/progress")
    assert plan(h, SD, "POST", "/sdapi/v1/interrupt", {}).admit is False


@pytest.mark.parametrize("path", ["/sdapi/v1/txt2img", "/sdapi/v1/img2img"])
def test_a_generation_is_admitted_at_sds_active_max_and_reloads_first(harness, path):
    h = harness()
    got = plan(h, SD, "POST", path, {"prompt": "a cat"})
    assert (got.admit, got.need_gib, got.reload_first, got.label) == (True, 12.0, True, f"POST {path}")
    assert got.body == b'{"prompt": "a cat"}'  # forwarded as the client sent it


@pytest.mark.parametrize(
    "path",
    [
        "/sdapi/v1/extra-single-image",
        "/sdapi/v1/extra-batch-images",
        "/sdapi/v1/interrogate",
        "/sdapi/v1/reload-checkpoint",
    ],
)
def test_other_gpu_work_on_sd_is_admitted_without_a_reload(harness, path):
    h = harness()
    got = plan(h, SD, "POST", path, {})
    assert (got.admit, got.need_gib, got.reload_first) == (True, 12.0, False)


def test_options_that_switch_the_checkpoint_are_admitted(harness):
    h = harness()
    got = plan(h, SD, "POST", "/sdapi/v1/options", {"sd_model_checkpoint": "v1-5"})
    assert (got.admit, got.reload_first) == (True, False)


@pytest.mark.parametrize("body", [b'{"CLIP_stop_at_last_layers": 2}', b"{nope", b"[1]", b""])
def test_other_options_are_not_admitted(harness, body):
    h = harness()
    assert plan(h, SD, "POST", "/sdapi/v1/options", body=body).admit is False


def test_an_sd_unload_goes_through_and_the_app_is_read_again_after(harness):
    h = harness()
    got = plan(h, SD, "POST", "/sdapi/v1/unload-checkpoint", {})
    assert (got.admit, got.refresh_after) == (False, True)


# Through the proxy: Ollama --------------------------------------------------------------------------------------


def test_a_chat_streams_through_line_by_line_and_the_request_is_released(harness, capsys):
    h = harness()
    port = h.proxy("ollama")
    reply = request(port, "POST", "/api/chat", CHAT)
    assert records(capsys.readouterr().out, "admit")[0]["request"] == "POST /api/chat llama3.2"
    assert reply.status == 200
    assert [line["done"] for line in reply.lines()] == [False] * 5 + [True]
    assert (reply.headers["content-type"], reply.headers["transfer-encoding"]) == ("application/x-ndjson", "chunked")
    assert h.sd.weights_on_gpu is False  # unloaded first: 16 + 12 would not fit
    assert released(h, "ollama")
    assert h.state("ollama").models == {"llama3.2:latest": 16 * GIB}  # read again at release


def test_an_answer_with_a_length_is_relayed_with_that_length(harness):
    h = harness()
    port = h.proxy("ollama")
    reply = request(port, "POST", "/api/chat", {**CHAT, "stream": False})
    assert reply.status == 200
    assert reply.headers["content-length"] == str(len(reply.body))
    assert "transfer-encoding" not in reply.headers
    assert reply.json()["message"]["content"] == "t0 t1 t2 t3 t4 "


def test_a_capped_keep_alive_reaches_ollama_with_its_new_length(harness):
    h = harness()
    port = h.proxy("ollama")
    assert request(port, "POST", "/api/chat", {**CHAT, "keep_alive": "24h", "stream": False}).status == 200
    assert h.ollama.keep_alives == [300]


def test_an_unload_request_through_the_proxy_is_seen_at_once(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    port = h.proxy("ollama")
    request(port, "POST", "/api/chat", {**CHAT, "stream": False})
    reply = request(port, "POST", "/api/generate", {"model": "llama3.2", "keep_alive": 0})
    assert reply.json()["done_reason"] == "unload"
    assert wait_for(lambda: h.state("ollama").models == {})


def test_a_refused_ollama_request_is_a_503_in_ollamas_error_shape_with_retry_after(harness):
    h = harness(ollama_extra={"max_wait_seconds": 0})
    h.arbiter.admit(SD, 12.0)
    reply = request(h.proxy("ollama"), "POST", "/api/chat", CHAT)
    assert reply.status == 503
    assert reply.json()["error"].startswith("vram-arbiter: the GPU is busy: stable-diffusion has held 12.0 GiB")
    assert reply.headers["retry-after"] == "5"  # no wait allowed: come back in 5 s
    assert reply.headers["content-type"] == "application/json"
    assert h.ollama.requests == [r for r in h.ollama.requests if r[1] == "/api/ps"]


def test_a_refusal_asks_to_retry_after_the_apps_wait(harness):
    h = harness(ollama_extra={"max_wait_seconds": 0.4})
    h.arbiter.admit(SD, 12.0)
    h.clock.now += 1
    port = h.proxy("ollama")
    threading.Timer(0.05, lambda: (setattr(h.clock, "now", h.clock.now + 1), notify(h))).start()
    reply = request(port, "POST", "/api/chat", CHAT)
    assert (reply.status, reply.headers["retry-after"]) == (503, "1")


def notify(h: Harness) -> None:
    with h.arbiter.cond:
        h.arbiter.cond.notify_all()


def test_a_refused_sd_request_is_a_503_in_the_web_uis_error_shape(harness):
    h = harness(sd_extra={"max_wait_seconds": 3})
    h.arbiter.admit("ollama", 16.0)
    h.state(SD).inflight[77] = 0.0  # SD cannot be unloaded while it serves a request
    port = h.proxy(SD)
    threading.Timer(0.05, lambda: (setattr(h.clock, "now", h.clock.now + 4), notify(h))).start()
    reply = request(port, "POST", "/sdapi/v1/txt2img", {"prompt": "a cat"})
    assert reply.status == 503
    body = reply.json()
    assert body["error"] == "VramArbiter" and body["detail"].startswith("vram-arbiter: the GPU is busy: ollama")
    assert reply.headers["retry-after"] == "3"


def test_a_request_to_an_app_that_is_down_is_a_502_naming_it(harness):
    h = harness()
    h.ollama.stop()
    reply = request(h.proxy("ollama"), "GET", "/api/tags")
    assert reply.status == 502
    assert reply.json() == {
        "error": f"vram-arbiter: cannot reach ollama at {h.ollama.url}: [Errno 111] Connection refused"
    }


def test_a_head_request_that_fails_gets_headers_only(harness):
    h = harness()
    h.ollama.stop()
    reply = request(h.proxy("ollama"), "HEAD", "/api/tags")
    assert reply.status == 502 and reply.body == b""
    assert int(reply.headers["content-length"]) > 0


# Through the proxy: AUTOMATIC1111 ---------------------------------------------------------------------------------


def test_an_image_after_an_unload_reloads_the_checkpoint_and_succeeds(harness):
    h = harness(sd={"job_s": 0.01})
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    h.arbiter.poll_once()
    reply = request(h.proxy(SD), "POST", "/sdapi/v1/txt2img", {"prompt": "a cat"})
    assert reply.status == 200
    assert reply.json()["images"] == ["aW1hZ2U="]
    posts = [p for m, p, _ in h.sd.requests if m == "POST"]
    assert posts[-2:] == ["/sdapi/v1/reload-checkpoint", "/sdapi/v1/txt2img"]
    assert released(h, SD)


def test_an_sd_unload_through_the_proxy_is_seen_at_once(harness):
    h = harness()
    request(h.proxy(SD), "POST", "/sdapi/v1/unload-checkpoint", {})
    assert wait_for(lambda: h.state(SD).loaded is False)


def test_clients_keep_their_own_credentials_and_get_the_web_uis_401(harness):
    auth = "Basic YWRtaW46czNjcmV0LXBhc3M="
    h = harness(sd={"authorization": auth})
    port = h.proxy(SD)
    assert request(port, "GET", "/sdapi/v1/progress").status == 401
    assert request(port, "GET", "/sdapi/v1/progress", headers={"Authorization": auth}).status == 200


# Through the proxy: HTTP details ----------------------------------------------------------------------------------


def test_request_headers_reach_the_app_without_hop_by_hop_ones_and_with_its_own_host(harness, scripted):
    h = harness()
    server = scripted({"/api/tags": (200, b"{}")})
    port = h.proxy("ollama", server.url)
    request(port, "GET", "/api/tags?x=1", headers={"X-Trace": "7", "Connection": "keep-alive", "TE": "trailers"})
    [(method, path, headers, body)] = server.got
    assert (method, path, body) == ("GET", "/api/tags?x=1", b"")
    assert headers["X-Trace"] == "7"
    assert headers["Host"] == server.url.removeprefix("http://")
    assert "TE" not in headers
    assert headers["Accept-Encoding"] == "identity"  # the client's own, not one the proxy added
    assert "Content-Length" not in headers
    assert headers.get("Connection") in (None, "close")


def test_a_post_without_a_body_is_sent_with_a_zero_length(harness, scripted):
    h = harness()
    server = scripted({"/api/pull": (200, b"{}")})
    request(h.proxy("ollama", server.url), "POST", "/api/pull", body=b"")
    assert server.got[0][2]["Content-Length"] == "0"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_bodies_of_puts_and_patches_are_forwarded(harness, scripted, method):
    h = harness()
    server = scripted({"/x": (200, b"{}")})
    request(h.proxy("ollama", server.url), method, "/x", body=b"abc")
    assert server.got[0][0] == method and server.got[0][3] == b"abc"
    assert server.got[0][2]["Content-Length"] == "3"


@pytest.mark.parametrize("method", ["DELETE", "OPTIONS", "GET"])
def test_every_method_is_forwarded_as_is(harness, scripted, method):
    h = harness()
    server = scripted({"/x": (200, b"{}")})
    assert request(h.proxy("ollama", server.url), method, "/x").status == 200
    assert [got[0] for got in server.got] == [method]
    assert "Content-Length" not in server.got[0][2]


def test_a_delete_with_a_body_sends_its_length(harness, scripted):
    h = harness()
    server = scripted({"/api/delete": (200, b"{}")})
    request(h.proxy("ollama", server.url), "DELETE", "/api/delete", {"model": "x"})
    assert server.got[0][2]["Content-Length"] == str(len(b'{"model": "x"}'))


def test_a_chunked_request_body_is_forwarded_whole_with_a_length(harness, scripted):
    h = harness()
    server = scripted({"/api/show": (200, b"{}")})
    port = h.proxy("ollama", server.url)
    raw = raw_request(
        port,
        b"POST /api/show HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nTrailer: x\r\n\r\n",
    )
    assert raw.startswith(b"HTTP/1.1 200")
    assert server.got[0][3] == b"abcdefg"
    assert server.got[0][2]["Content-Length"] == "7"


def test_a_request_body_over_the_limit_is_refused_with_413(harness):
    h = harness()
    port = h.proxy("ollama")
    size = arb.MAX_BODY_BYTES + 1
    raw = raw_request(port, f"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body) == {"error": "vram-arbiter: request body too large"}


def test_the_request_body_limit_is_512_mib():
    assert arb.MAX_BODY_BYTES == 512 * 1024 * 1024


def test_a_request_body_of_exactly_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(arb, "MAX_BODY_BYTES", 10)  # the same check, at a size a test can send
    handler = arb.ProxyHandler.__new__(arb.ProxyHandler)
    handler.headers = {"Content-Length": "10"}
    handler.rfile = io.BytesIO(b"x" * 10)
    assert handler._read_body() == b"x" * 10


def test_a_chunked_body_over_the_limit_is_refused_with_413(harness):
    h = harness()
    port = h.proxy("ollama")
    size = f"{arb.MAX_BODY_BYTES + 1:x}".encode()
    raw = raw_request(
        port, b"POST /api/chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_of_exactly_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(arb, "MAX_BODY_BYTES", 5)
    handler = arb.ProxyHandler.__new__(arb.ProxyHandler)
    handler.headers = {"Transfer-Encoding": "Chunked"}
    handler.rfile = io.BytesIO(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert handler._read_body() == b"abcde"


def test_a_chunked_body_over_the_limit_in_its_second_chunk_is_refused(monkeypatch):
    monkeypatch.setattr(arb, "MAX_BODY_BYTES", 4)
    handler = arb.ProxyHandler.__new__(arb.ProxyHandler)
    handler.headers = {"Transfer-Encoding": "chunked"}
    handler.rfile = io.BytesIO(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    with pytest.raises(ValueError, match=r"^request body too large$"):
        handler._read_body()


def test_a_chunked_body_ends_at_the_end_of_the_stream():
    handler = arb.ProxyHandler.__new__(arb.ProxyHandler)
    handler.headers = {"Transfer-Encoding": "chunked"}
    handler.rfile = io.BytesIO(b"3\r\nabc\r\n0\r\n")
    assert handler._read_body() == b"abc"


def test_a_chunked_body_with_an_empty_size_line_ends_there():
    handler = arb.ProxyHandler.__new__(arb.ProxyHandler)
    handler.headers = {"Transfer-Encoding": "chunked"}
    handler.rfile = io.BytesIO(b"3\r\nabc\r\n\r\n\n")
    assert handler._read_body() == b"abc"


def test_a_body_without_a_length_is_empty():
    handler = arb.ProxyHandler.__new__(arb.ProxyHandler)
    handler.headers = {}
    handler.rfile = io.BytesIO(b"ignored")
    assert handler._read_body() == b""


def test_a_chunked_body_with_a_bad_size_is_a_400(harness):
    h = harness()
    raw = raw_request(
        h.proxy("ollama"), b"POST /api/chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body) == {"error": "vram-arbiter: invalid literal for int() with base 16: b'zz'"}


def test_response_headers_are_relayed_without_hop_by_hop_ones(harness, scripted):
    h = harness()
    server = scripted({"/x": (200, b"hello", {"X-App": "1", "Keep-Alive": "timeout=5", "Content-Length": "5"})})
    reply = request(h.proxy("ollama", server.url), "GET", "/x")
    assert (reply.status, reply.body, reply.headers["x-app"], reply.headers["content-length"]) == (
        200,
        b"hello",
        "1",
        "5",
    )
    assert "keep-alive" not in reply.headers


def test_the_status_and_reason_are_relayed(harness, scripted):
    h = harness()
    server = scripted({"/x": (404, b"{}")})
    reply = request(h.proxy("ollama", server.url), "GET", "/x")
    assert (reply.status, reply.reason) == (404, "Not Found")


def test_a_204_is_relayed_without_a_body(harness, scripted):
    h = harness()
    server = scripted({"/x": (204, b"")})
    port = h.proxy("ollama", server.url)
    raw = raw_request(port, b"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 204")
    assert b"Transfer-Encoding" not in raw and b"Content-Length" not in raw
    assert raw.endswith(b"\r\n\r\n")


def test_a_304_without_a_length_is_relayed_without_one(harness, scripted):
    h = harness()
    server = scripted({"/x": (304, b"", {"ETag": "1"})})
    raw = raw_request(h.proxy("ollama", server.url), b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 304")
    assert b"Content-Length" not in raw and b"Transfer-Encoding" not in raw


def test_a_head_answer_keeps_the_apps_length_and_has_no_body(harness, scripted):
    h = harness()
    server = scripted({"/x": (200, b"12345", {"Content-Length": "5"})})
    raw = raw_request(h.proxy("ollama", server.url), b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200")
    assert raw.endswith(b"Content-Length: 5\r\n\r\n")


def test_an_answer_without_a_length_is_streamed_chunked(harness, scripted):
    h = harness()
    server = scripted({"/x": (200, b"abc", {"Connection": "close", "Content-Length": None})})
    server.answers["/x"] = (200, b"abc", {"Connection": "close"})
    server.answers["/x"][2]["Transfer-Encoding"] = "identity"  # no length: the body ends when the app closes
    raw = raw_request(h.proxy("ollama", server.url), b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"3\r\nabc\r\n0\r\n\r\n"


def test_an_app_that_hangs_up_mid_answer_ends_the_clients_stream_short(harness, scripted):
    h = harness()
    server = scripted({"/x": (200, b"abc", {"Content-Length": "10", "Connection": "close"})})
    raw = raw_request(h.proxy("ollama", server.url), b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Length: 10" in head
    assert body == b"abc"


def test_a_chunked_stream_cut_by_the_app_is_not_ended_as_complete(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    h.ollama.pause_streams()
    port = h.proxy("ollama")
    body = json.dumps(CHAT).encode()
    got: list[bytes] = []
    reader = threading.Thread(
        target=lambda: got.append(
            raw_request(
                port,
                b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body,
            )
        ),
        daemon=True,
    )
    reader.start()
    h.ollama.wait_for(lambda: h.ollama.active_streams == 1, "the stream", deadline=3)
    h.ollama.stop()  # the app dies mid-stream
    reader.join(4)
    assert got and not got[0].endswith(b"0\r\n\r\n")
    body = got[0].partition(b"\r\n\r\n")[2]
    lines = [json.loads(line) for line in dechunk(body).splitlines()]  # only what Ollama sent, nothing added
    assert [line["done"] for line in lines] == [False]
    assert released(h, "ollama")


def dechunk(body: bytes) -> bytes:
    """The data of complete chunks in a chunked body (a cut stream may end mid-chunk)."""
    data = b""
    while b"\r\n" in body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0 or len(rest) < size + 2:
            break
        data += rest[:size]
        body = rest[size + 2 :]
    return data


def test_a_client_that_hangs_up_mid_stream_releases_its_request(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    h.ollama.pause_streams()
    port = h.proxy("ollama")
    body = json.dumps(CHAT).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    sock.sendall(
        b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    sock.recv(100)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
    h.ollama.resume_streams()
    assert released(h, "ollama")


def test_a_proxy_reaches_its_app_at_the_upstreams_host_and_port(harness):
    h = harness()
    app = h.app("ollama")
    server = arb.ProxyServer(("127.0.0.1", 0), h.arbiter, app, 2.5)
    try:
        assert (server.upstream_host, server.upstream_port, server.upstream_timeout) == (
            "127.0.0.1",
            h.ollama.port,
            2.5,
        )
        assert (server.arbiter, server.app) == (h.arbiter, app)
        assert server.daemon_threads is True
    finally:
        server.server_close()


def test_an_upstream_without_a_port_is_reached_on_port_80(harness):
    h = harness()
    app = type(h.app("ollama"))(**{**h.app("ollama").__dict__, "upstream": "http://ollama.ai.svc"})
    server = arb.ProxyServer(("127.0.0.1", 0), h.arbiter, app, 1)
    server.server_close()
    assert (server.upstream_host, server.upstream_port) == ("ollama.ai.svc", 80)


def test_a_handler_error_is_logged_but_a_client_hanging_up_is_not(harness, capsys):
    h = harness()
    server = arb.ProxyServer(("127.0.0.1", 0), h.arbiter, h.app("ollama"), 1)
    server.server_close()
    capsys.readouterr()
    try:
        raise ConnectionResetError("peer")
    except ConnectionResetError:
        server.handle_error(None, None)
    try:
        raise TimeoutError("slow")
    except TimeoutError:
        server.handle_error(None, None)
    assert capsys.readouterr().out == ""
    try:
        raise KeyError("x")
    except KeyError:
        server.handle_error(None, None)
    assert records(capsys.readouterr().out) == [{"event": "proxy_error", "app": "ollama", "error": "KeyError: 'x'"}]


# Status endpoint -------------------------------------------------------------------------------------------------


def test_healthz_is_ok_after_a_poll_with_every_proxy_alive(harness):
    h = harness()
    h.arbiter.poll_once()
    alive = threading.Event()
    thread = threading.Thread(target=alive.wait, daemon=True)
    thread.start()
    port = h.status_server([thread])
    reply = request(port, "GET", "/healthz?probe=1")
    alive.set()
    assert (reply.status, reply.body, reply.headers["content-type"]) == (200, b"ok\n", "text/plain")
    assert reply.headers["content-length"] == "3"


def test_healthz_fails_while_a_proxy_thread_is_dead(harness):
    h = harness()
    h.arbiter.poll_once()
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    reply = request(h.status_server([dead]), "GET", "/healthz")
    assert (reply.status, reply.body) == (503, b"poll loop stalled\n")


def test_healthz_fails_before_the_first_poll():
    h = Harness()
    try:
        reply = request(h.status_server(), "GET", "/healthz")
        assert (reply.status, reply.body) == (503, b"poll loop stalled\n")
    finally:
        h.stop()


def test_status_is_the_arbiters_state_as_json(harness):
    h = harness()
    reply = request(h.status_server(), "GET", "/status")
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    assert reply.json() == h.arbiter.status()
    assert reply.body.startswith(b'{\n  "card": {\n    "name"')


def test_metrics_are_served_in_the_prometheus_text_format(harness):
    h = harness()
    reply = request(h.status_server(), "GET", "/metrics")
    assert (reply.status, reply.headers["content-type"]) == (200, "text/plain; version=0.0.4; charset=utf-8")
    assert reply.body.decode() == h.arbiter.metrics()


def test_any_other_status_path_is_a_404_that_lists_the_right_ones(harness):
    h = harness()
    reply = request(h.status_server(), "GET", "/")
    assert (reply.status, reply.body) == (404, b"not found: try /healthz, /status or /metrics\n")
    assert reply.headers["content-type"] == "text/plain"


# main() and its pieces ------------------------------------------------------------------------------------------


def test_a_client_is_made_for_each_kind_with_the_request_timeout(harness):
    h = harness()
    ollama, sd = arb.make_client(h.app("ollama"), 4.0), arb.make_client(h.app(SD), 5.0)
    assert (type(ollama), ollama.config, ollama.timeout) == (arb.OllamaClient, h.app("ollama"), 4.0)
    assert (type(sd), sd.config, sd.timeout) == (arb.Automatic1111Client, h.app(SD), 5.0)


def test_the_poll_loop_survives_a_failing_poll_and_stops_when_told(capsys):
    stop = threading.Event()
    calls: list[int] = []

    class Flaky:
        config = type("C", (), {"poll_interval_s": 0.001})()

        def poll_once(self) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("bug")
            if len(calls) == 3:
                stop.set()

    arb.poll_forever(Flaky(), stop)
    assert len(calls) == 3
    assert records(capsys.readouterr().out) == [{"event": "poll_failed", "error": "RuntimeError: bug"}]


def test_a_log_line_is_one_json_object_with_a_utc_millisecond_time(capsys):
    arb.log("x", n=1, when=arb.Envelope(1, 2, 3))
    line = capsys.readouterr().out
    assert line.endswith("}\n") and line.count("\n") == 1
    record = json.loads(line)
    assert list(record) == ["time", "event", "n", "when"]
    assert record["when"] == "Envelope(idle_gib=1, active_min_gib=2, active_max_gib=3)"
    assert len(record["time"]) == len("2026-11-28T11:28:31.830+00:00") and record["time"].endswith("+00:00")


def write_config(tmp_path, raw) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    return str(path)


def test_the_config_file_comes_from_the_environment(tmp_path):
    raw = {"card": {"vram_gib": 24}, "apps": []}
    path = write_config(tmp_path, raw)
    with pytest.raises(arb.ConfigError, match=r"^apps: is empty"):
        arb.read_config([], {"VRAM_ARBITER_CONFIG": path})


def test_the_config_argument_wins_over_the_environment(tmp_path):
    path = write_config(tmp_path, {"card": {"vram_gib": 24}, "apps": []})
    with pytest.raises(arb.ConfigError, match=r"^apps: is empty"):
        arb.read_config(["--config", path], {"VRAM_ARBITER_CONFIG": "/nowhere.json"})


def test_a_lone_config_flag_is_ignored(tmp_path):
    with pytest.raises(arb.ConfigError) as error:
        arb.read_config(["--config"], {"VRAM_ARBITER_CONFIG": str(tmp_path / "missing.json")})
    assert str(error.value).startswith(f"VRAM_ARBITER_CONFIG: cannot read {tmp_path / 'missing.json'}")


def test_another_first_argument_is_not_a_config_path(tmp_path):
    with pytest.raises(arb.ConfigError) as error:
        arb.read_config(["--verbose", "x.json"], {"VRAM_ARBITER_CONFIG": "/nowhere.json"})
    assert "/nowhere.json" in str(error.value)


def test_without_either_the_config_is_read_from_its_mount():
    with pytest.raises(arb.ConfigError) as error:
        arb.read_config([], {})
    assert str(error.value) == (
        "VRAM_ARBITER_CONFIG: cannot read /etc/vram-arbiter/config.json: No such file or directory. "
        "Fix: mount the config file"
    )


def test_an_empty_environment_variable_means_the_mount():
    with pytest.raises(arb.ConfigError, match=r"/etc/vram-arbiter/config\.json"):
        arb.read_config([], {"VRAM_ARBITER_CONFIG": ""})


def test_a_config_that_is_not_json_says_to_regenerate_it(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{")
    with pytest.raises(arb.ConfigError) as error:
        arb.read_config(["--config", str(path)], {})
    assert str(error.value) == (
        f"{path}: is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)). "
        "Fix: regenerate it with homelab-ai synth"
    )


def test_the_config_file_is_read_as_utf8(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(json.dumps({"card": {"name": "Grafikkarte für KI", "vram_gib": 24}, "apps": []}).encode())
    with pytest.raises(arb.ConfigError, match=r"^apps"):
        arb.read_config(["--config", str(path)], {})
    raw = {"card": {"name": "für", "vram_gib": 24}, "apps": [{"name": "x", "kind": "nope"}]}
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(arb.ConfigError, match=r"^apps\[0\] \(x\)\.kind"):
        arb.read_config(["--config", str(path)], {})


def test_main_with_a_bad_config_exits_2_with_the_error_on_stderr(tmp_path, capsys):
    path = write_config(tmp_path, {"card": {"vram_gib": 24}, "apps": []})
    assert arb.main(["--config", path], {}) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "vram-arbiter: configuration error: apps: is empty. Fix: list the GPU apps that share the card\n"
    )
    assert captured.out == ""


def test_main_reads_argv_and_the_process_environment_by_default(tmp_path, capsys, monkeypatch):
    path = write_config(tmp_path, {"card": {"vram_gib": 24}, "apps": []})
    monkeypatch.setattr("sys.argv", ["vram_arbiter.py", "--config", path])
    monkeypatch.setenv("VRAM_ARBITER_CONFIG", "/nowhere.json")
    assert arb.main() == 2
    assert "apps: is empty" in capsys.readouterr().err
    monkeypatch.setattr("sys.argv", ["vram_arbiter.py"])
    assert arb.main() == 2
    assert "cannot read /nowhere.json" in capsys.readouterr().err


@contextlib.contextmanager
def taken_port(raw: dict) -> Iterator[int]:
    """A port another socket listens on, other than the ports the config already names."""
    named = {raw["status_port"], *(a["listen_port"] for a in raw["apps"])}
    with contextlib.ExitStack() as stack:
        while True:
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            if sock.getsockname()[1] not in named:
                break
        sock.listen()
        yield sock.getsockname()[1]


def test_main_that_cannot_listen_exits_2_saying_so(harness, tmp_path, capsys):
    h = harness()
    with taken_port(h.raw) as port:
        h.raw["status_port"] = port
        assert arb.main(["--config", write_config(tmp_path, h.raw)], {}) == 2
    assert capsys.readouterr().err == "vram-arbiter: cannot listen: [Errno 98] Address already in use\n"


def test_main_that_cannot_listen_on_an_app_port_exits_2(harness, tmp_path, capsys):
    h = harness()
    with taken_port(h.raw) as port:
        h.raw["apps"][1]["listen_port"] = port
        assert arb.main(["--config", write_config(tmp_path, h.raw)], {}) == 2
    assert "cannot listen" in capsys.readouterr().err


@pytest.fixture
def own_signals() -> Iterator[None]:
    """main() installs SIGTERM/SIGINT handlers in this process: put pytest's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def run_main_until(raw: dict, tmp_path, env: dict, check: Callable[[], None], sig: int = signal.SIGTERM) -> tuple:
    """Run main() here; once /healthz answers 200, run ``check`` in another thread, then send ``sig``."""
    seen: dict[str, object] = {}
    returned = threading.Event()

    def driver() -> None:
        deadline = time.monotonic() + 2  # main answers /healthz within a poll or two
        try:
            while time.monotonic() < deadline and not returned.is_set():
                try:
                    if request(raw["status_port"], "GET", "/healthz", timeout=1).status == 200:
                        break
                except OSError:
                    time.sleep(0.005)
            check()
        except BaseException as exc:  # reported in the test's own thread
            seen["error"] = exc
        finally:
            if not returned.is_set():  # never signal a pytest whose handlers are back
                os.kill(os.getpid(), sig)

    threading.Thread(target=driver, daemon=True).start()
    try:
        code = arb.main(["--config", write_config(tmp_path, raw)], env)
    finally:
        returned.set()
    if "error" in seen:
        raise seen["error"]  # type: ignore[misc]
    return code, seen


def test_main_serves_every_app_and_the_status_until_sigterm_then_stops_cleanly(harness, tmp_path, capsys, own_signals):
    h = harness()
    capsys.readouterr()
    raw = h.raw
    apps = {a["name"]: a["listen_port"] for a in raw["apps"]}

    def check() -> None:
        assert request(apps["ollama"], "GET", "/api/version").json() == {"version": "0.6.8"}
        assert request(apps[SD], "GET", "/sdapi/v1/progress").status == 200
        status = request(raw["status_port"], "GET", "/status").json()
        assert [a["state"] for a in status["apps"]] == ["unloaded", "loaded"]

    code, _ = run_main_until(raw, tmp_path, {}, check)
    assert code == 0
    out = capsys.readouterr().out
    assert events(out)[0] == "start" and events(out)[-1] == "stop"
    assert records(out, "start") == [
        {
            "event": "start",
            "card": "simulated 24 GiB",
            "card_gib": 24.0,
            "apps": [
                {
                    "name": "ollama",
                    "kind": "ollama",
                    "upstream": h.ollama.url,
                    "port": apps["ollama"],
                    "envelope_gib": [0.0, 8.0, 16.0],
                    "max_wait_s": 30.0,
                    "auth_user": None,
                },
                {
                    "name": SD,
                    "kind": "automatic1111",
                    "upstream": h.sd.url,
                    "port": apps[SD],
                    "envelope_gib": [0.0, 8.0, 12.0],
                    "max_wait_s": 20.0,
                    "auth_user": None,
                },
            ],
            "status_port": raw["status_port"],
        }
    ]
    assert events(out)[1:3] == ["app_up", "app_up"]  # the apps were read before anything was admitted
    for port in (raw["status_port"], *apps.values()):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_main_stops_on_sigint_too(harness, tmp_path, capsys, own_signals):
    h = harness()
    code, _ = run_main_until(h.raw, tmp_path, {}, lambda: None, sig=signal.SIGINT)
    assert code == 0
    assert events(capsys.readouterr().out)[-1] == "stop"


def test_main_logs_the_api_user_but_never_the_password(harness, tmp_path, capsys, own_signals):
    auth = "Basic YWRtaW46czNjcmV0LXBhc3M="
    h = harness(sd={"authorization": auth})
    h.raw["apps"][1]["auth"] = {"user_env": "SD_API_USER", "password_env": "SD_API_PASSWORD"}
    env = {"SD_API_USER": "admin", "SD_API_PASSWORD": "s3cret-pass"}

    def check() -> None:
        status = request(h.raw["status_port"], "GET", "/status").json()
        assert status["apps"][1]["loaded"] is True  # /memory was read with the credentials

    run_main_until(h.raw, tmp_path, env, check)
    out = capsys.readouterr().out
    assert records(out, "start")[0]["apps"][1]["auth_user"] == "admin"
    assert "s3cret-pass" not in out


def test_main_keeps_polling_while_it_runs(harness, tmp_path, capsys, own_signals):
    h = harness()

    def check() -> None:
        h.sd.stop()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            status = request(h.raw["status_port"], "GET", "/status").json()
            if status["apps"][1]["state"] == "down":
                return
            time.sleep(0.01)
        raise AssertionError("the poll loop never saw SD go down")

    assert run_main_until(h.raw, tmp_path, {}, check)[0] == 0


def test_the_app_gets_one_host_header_and_only_the_clients_accept_encoding(harness, scripted):
    h = harness()
    server = scripted({"/x": (200, b"{}")})
    request(h.proxy("ollama", server.url), "GET", "/x", headers={"Host": "ollama.example", "Accept-Encoding": "gzip"})
    [lines] = server.header_lists
    names = [k.lower() for k, _ in lines]
    assert names.count("host") == 1 and dict(lines)["Host"] == server.url.removeprefix("http://")
    assert [v for k, v in lines if k.lower() == "accept-encoding"] == ["gzip"]


def test_the_proxy_answers_expect_100_itself_and_does_not_pass_it_on(harness, scripted):
    h = harness()
    server = scripted({"/api/show": (200, b"{}")})
    port = h.proxy("ollama", server.url)
    raw = raw_request(
        port, b"POST /api/show HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert b"HTTP/1.1 200" in raw
    assert "expect" not in [k.lower() for k, _ in server.header_lists[0]]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST"])
def test_a_put_patch_or_post_without_a_body_says_its_length_is_zero(harness, scripted, method):
    h = harness()
    server = scripted({"/x": (200, b"{}")})
    raw_request(h.proxy("ollama", server.url), f"{method} /x HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert dict(server.header_lists[0])["Content-Length"] == "0"


def test_a_head_request_that_fails_gets_no_body_on_the_wire(harness):
    h = harness()
    h.ollama.stop()
    raw = raw_request(h.proxy("ollama"), b"HEAD /api/tags HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502") and body == b""


def answer_and_whether_closed(port: int, data: bytes) -> tuple[bytes, bool]:
    """Send ``data`` on a keep-alive connection; what came back, and whether the server closed it."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(data)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            return got, False
        return got, True


def test_a_body_too_large_ends_the_connection_after_the_413(harness):
    h = harness()
    size = arb.MAX_BODY_BYTES + 1
    data = f"POST /api/chat HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: {size}\r\n\r\n"
    got, closed = answer_and_whether_closed(h.proxy("ollama"), data.encode())
    assert got.startswith(b"HTTP/1.1 413") and closed


def test_a_bad_chunked_body_ends_the_connection_after_the_400(harness):
    h = harness()
    data = b"POST /api/chat HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    got, closed = answer_and_whether_closed(h.proxy("ollama"), data)
    assert got.startswith(b"HTTP/1.1 400") and closed


def test_an_app_that_hangs_is_a_502_after_the_upstream_timeout(harness):
    from tests.arbiter_inproc import Silent

    h = harness()
    silent = Silent()
    try:
        reply = request(h.proxy("ollama", silent.url, timeout=0.05), "GET", "/api/tags")
    finally:
        silent.stop()
    assert reply.status == 502
    assert reply.json()["error"] == f"vram-arbiter: cannot reach ollama at {silent.url}: timed out"


def test_a_head_answer_without_a_length_is_relayed_without_a_body(harness, scripted):
    h = harness()
    server = scripted({"/x": (200, b"", {"Content-Length": None, "X-App": "1"})})
    raw = raw_request(h.proxy("ollama", server.url), b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200")
    assert raw.endswith(b"X-App: 1\r\n\r\n")


def test_the_apps_reason_phrase_is_relayed(harness, scripted):
    h = harness()
    server = scripted({"/x": (418, b"{}", {}, "Short And Stout")})
    reply = request(h.proxy("ollama", server.url), "GET", "/x")
    assert (reply.status, reply.reason) == (418, "Short And Stout")


def test_an_answer_with_a_length_carries_exactly_one(harness, scripted):
    h = harness()
    server = scripted({"/x": (200, b"hello", {"Content-Length": "5"})})
    raw = raw_request(h.proxy("ollama", server.url), b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.lower().count(b"content-length:") == 1


def test_headers_after_a_hop_by_hop_one_are_relayed(harness, scripted):
    h = harness()
    server = scripted({"/x": (200, b"{}", {"Keep-Alive": "timeout=5", "X-After": "1"})})
    reply = request(h.proxy("ollama", server.url), "GET", "/x")
    assert reply.headers["x-after"] == "1"


class Lines(io.BytesIO):
    """A request body stream that records the limit of every line read."""

    limits: list

    def readline(self, size=-1):
        self.limits.append(size)
        return super().readline(size)


def test_chunk_size_and_trailer_lines_are_read_at_most_a_kib_at_a_time():
    handler = arb.ProxyHandler.__new__(arb.ProxyHandler)
    handler.headers = {"Transfer-Encoding": "chunked"}
    handler.rfile = Lines(b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n")
    handler.rfile.limits = []
    assert handler._read_body() == b"abc"
    assert handler.rfile.limits == [1024] * 5


def test_a_chunked_body_ends_at_its_blank_line_and_the_next_request_stays_unread():
    handler = arb.ProxyHandler.__new__(arb.ProxyHandler)
    handler.headers = {"Transfer-Encoding": "chunked"}
    handler.rfile = io.BytesIO(b"3\r\nabc\r\n0\n\nGET / HTTP/1.1\r\n")
    assert handler._read_body() == b"abc"
    assert handler.rfile.read() == b"GET / HTTP/1.1\r\n"


def test_main_runs_named_daemon_threads_for_each_proxy_the_status_and_the_poll(harness, tmp_path, own_signals):
    h = harness()
    seen: dict[str, bool] = {}

    def check() -> None:
        seen.update({t.name: t.daemon for t in threading.enumerate()})

    run_main_until(h.raw, tmp_path, {}, check)
    wanted = {"proxy-ollama": True, "proxy-stable-diffusion": True, "status": True, "poll": True}
    assert {name: seen.get(name) for name in wanted} == wanted


def test_main_admits_requests_through_its_proxies(harness, tmp_path, capsys, own_signals):
    h = harness()
    port = h.raw["apps"][0]["listen_port"]

    def check() -> None:
        assert request(port, "POST", "/api/chat", {**CHAT, "stream": False}).status == 200

    run_main_until(h.raw, tmp_path, {}, check)
    assert events(capsys.readouterr().out).count("admit") == 1
    assert h.ollama.loaded_names() == ["llama3.2:latest"]


def test_main_comes_up_beside_an_app_that_hangs_and_answers_502_for_it(harness, tmp_path, own_signals):
    from tests.arbiter_inproc import Silent

    h = harness()
    silent = Silent(hang_up_s=3.0)
    h.raw["apps"][0]["upstream"] = silent.url
    h.raw["request_timeout_seconds"] = 0.1
    h.raw["upstream_timeout_seconds"] = 0.1
    port = h.raw["apps"][0]["listen_port"]
    got: list[object] = []

    def check() -> None:
        got.append(request(h.raw["status_port"], "GET", "/status").json()["apps"][0]["last_error"])
        reply = request(port, "GET", "/api/tags")
        got.append((reply.status, reply.json()["error"]))

    try:
        run_main_until(h.raw, tmp_path, {}, check)
    finally:
        silent.stop()
    assert got == [
        f"cannot reach {silent.url}: timed out",  # the poll gave up after request_timeout_seconds
        (502, f"vram-arbiter: cannot reach ollama at {silent.url}: timed out"),  # and the proxy after its own
    ]
