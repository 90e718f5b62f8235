"""The arbiter's observer, in this process: what it reads from each app's API and what it makes of it.

Against the fakes of tests/fake_gpu_apps.py (Ollama v0.6.8's /api/ps, AUTOMATIC1111 v1.10.1's
/sdapi/v1/progress and /memory, shapes cited there) and, for error answers the fakes never give, a
scripted server. The card is the spec's 24 GiB; Ollama 0 / 8-16 GiB, Stable Diffusion 0 / 8-12 GiB.
"""

from __future__ import annotations

import pytest

from tests.arbiter_inproc import GIB, SD, Harness, Scripted, arb, records, request


def chat_directly(h: Harness, model: str) -> None:
    """A chat straight to the fake Ollama (not through the arbiter): it loads ``model``."""
    assert request(h.ollama.port, "POST", "/api/chat", {"model": model, "messages": [1], "stream": False}).status == 200


def sd_config(url: str, **extra) -> object:
    return arb.AppConfig(SD, "automatic1111", url, 7860, arb.Envelope(0.0, 8.0, 12.0), 20.0, **extra)


def ollama_config(url: str) -> object:
    return arb.AppConfig("ollama", "ollama", url, 11434, arb.Envelope(0.0, 8.0, 16.0), 30.0, 300.0)


def start_sd_job(h: Harness, stamp: str = "20261128112233") -> None:
    """shared_state.State.begin as the fake's run_job does it: job named, job_count -1, a new timestamp."""
    with h.sd.lock:
        h.sd.job, h.sd.job_count, h.sd.job_timestamp = "scripts_txt2img", -1, stamp


def end_sd_job(h: Harness) -> None:
    with h.sd.lock:
        h.sd.job, h.sd.job_count = "", 0


# Ollama: GET /api/ps ---------------------------------------------------------------------------------------


def test_ollama_with_no_model_loaded_is_observed_empty(fresh_harness):
    h = fresh_harness()
    observation = arb.OllamaClient(h.app("ollama"), 3).observe()
    assert observation == arb.Observation(reachable=True, observed_gib=0.0, loaded=False, models={})


def test_ollama_holds_the_sum_of_size_vram_of_its_loaded_models(fresh_harness):
    h = fresh_harness(ollama={"max_loaded_models": 2})
    assert request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {}).status == 200
    chat_directly(h, "tiny")
    chat_directly(h, "llama3.2")
    observation = arb.OllamaClient(h.app("ollama"), 3).observe()
    assert observation.models == {"tiny:latest": 4 * GIB, "llama3.2:latest": 16 * GIB}
    assert (observation.observed_gib, observation.loaded) == (20.0, True)


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("llama3.2", "llama3.2:latest"),
        ("llama3.2:1b", "llama3.2:1b"),
        (" tiny ", "tiny:latest"),
        ("registry.local:5000/library/llama3.2", "registry.local:5000/library/llama3.2:latest"),
        ("registry.local:5000/library/llama3.2:8b", "registry.local:5000/library/llama3.2:8b"),
    ],
)
def test_a_model_reference_is_named_as_ollama_lists_it(reference, name):
    assert arb.normalize_model(reference) == name


def test_ollama_is_unloaded_with_keep_alive_zero_for_each_model_it_holds(fresh_harness):
    h = fresh_harness()
    chat_directly(h, "llama3.2")
    client = arb.OllamaClient(h.app("ollama"), 3)
    unloaded = client.unload(client.observe())
    assert unloaded == ["llama3.2:latest"]
    assert h.ollama.posts_to("/api/generate") == [{"model": "llama3.2:latest", "keep_alive": 0}]
    assert h.ollama.loaded_names() == []


def test_ollama_is_never_reported_busy_before_an_unload():
    # Ollama defers the unload of a model in use until its requests end (server/sched.go expireRunner).
    assert arb.OllamaClient(ollama_config("http://127.0.0.1:9"), 3).busy_now() is False


# AUTOMATIC1111: /sdapi/v1/progress and /sdapi/v1/memory -----------------------------------------------------


def test_sd_at_rest_with_its_checkpoint_is_observed_loaded_with_the_card_it_sees(fresh_harness):
    h = fresh_harness()
    observation = arb.Automatic1111Client(h.app(SD), 3).observe()
    assert observation == arb.Observation(
        reachable=True,
        observed_gib=7.0,
        loaded=True,
        busy=False,
        job_mark="0",
        card_total_bytes=24 * GIB,
        card_free_bytes=17 * GIB,
    )


def test_sd_holding_half_a_gib_over_idle_counts_as_nothing_loaded(fresh_harness):
    h = fresh_harness()
    assert request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {}).status == 200
    h.card.set("sd", GIB // 2)  # CUDA context and caches
    observation = arb.Automatic1111Client(h.app(SD), 3).observe()
    assert (observation.observed_gib, observation.loaded) == (0.5, False)


def test_sd_holding_just_over_the_margin_counts_as_loaded(fresh_harness):
    h = fresh_harness()
    h.card.set("sd", GIB // 2 + 64 * 1024**2)
    assert arb.Automatic1111Client(h.app(SD), 3).observe().loaded is True


def test_a_running_sd_job_is_busy_and_marked_by_its_timestamp(fresh_harness):
    h = fresh_harness()
    start_sd_job(h)
    observation = arb.Automatic1111Client(h.app(SD), 3).observe()
    assert (observation.busy, observation.job_mark) == (True, "20261128112233")


@pytest.mark.parametrize(
    ("progress", "busy"),
    [
        ({"state": {"job": "scripts_txt2img", "job_count": -1}}, True),
        ({"state": {"job": "", "job_count": 2}}, True),
        ({"state": {"job": "scripts_txt2img", "job_count": 0}}, True),
        ({"state": {"job": "", "job_count": 0}}, False),
        ({"state": {}}, False),
        ({"state": None}, False),
        ({}, False),
    ],
    ids=["begun", "counted", "named", "idle", "empty-state", "null-state", "no-state"],
)
def test_sd_is_busy_while_a_job_is_named_or_counted(progress, busy):
    assert arb.is_busy(progress) is busy


def test_sd_busy_now_reads_progress_right_then(fresh_harness):
    h = fresh_harness()
    client = arb.Automatic1111Client(h.app(SD), 3)
    assert client.busy_now() is False
    start_sd_job(h)
    assert client.busy_now() is True
    assert h.sd.requests[-1] == ("GET", "/sdapi/v1/progress", None)


def test_sd_is_unloaded_and_reloaded_through_its_checkpoint_routes(fresh_harness):
    h = fresh_harness()
    client = arb.Automatic1111Client(h.app(SD), 3)
    assert client.unload(arb.Observation(reachable=True)) == ["checkpoint"]
    assert h.sd.weights_on_gpu is False
    client.reload()
    assert h.sd.weights_on_gpu is True
    assert [(m, p, b) for m, p, b in h.sd.requests if m == "POST"] == [
        ("POST", "/sdapi/v1/unload-checkpoint", {}),
        ("POST", "/sdapi/v1/reload-checkpoint", {}),
    ]


def test_sd_with_api_auth_is_read_with_the_configured_credentials(fresh_harness):
    auth = "Basic " + "YWRtaW46czNjcmV0LXBhc3M="  # admin:s3cret-pass
    h = fresh_harness(sd={"authorization": auth})
    observation = arb.Automatic1111Client(sd_config(h.sd.url, authorization=auth), 3).observe()
    assert observation.observed_gib == 7.0


def test_sd_with_api_auth_and_no_credentials_is_an_error_that_says_to_check_them(fresh_harness):
    h = fresh_harness(sd={"authorization": "Basic YWRtaW46czNjcmV0LXBhc3M="})
    with pytest.raises(arb.UpstreamError) as error:
        arb.Automatic1111Client(sd_config(h.sd.url), 3).observe()
    assert str(error.value) == (
        "GET /sdapi/v1/progress?skip_current_image=true answered HTTP 401 (check the API credentials against "
        'the web UI\'s --api-auth): b\'{"detail": "Incorrect username or password"}\''
    )


IDLE_PROGRESS = (200, b'{"progress": 0, "state": {"job": "", "job_count": 0, "job_timestamp": "20261128100000"}}')


def test_sd_whose_memory_route_fails_is_observed_with_vram_unknown(scripted):
    server = scripted({"/sdapi/v1/progress": IDLE_PROGRESS, "/sdapi/v1/memory": (500, b"Internal Server Error")})
    observation = arb.Automatic1111Client(sd_config(server.url), 3).observe()
    assert observation == arb.Observation(
        reachable=True,
        busy=False,
        job_mark="20261128100000",
        error="memory: GET /sdapi/v1/memory answered HTTP 500: b'Internal Server Error'",
    )


def test_sd_without_reserved_memory_stats_is_read_from_allocated(scripted):
    memory = b'{"cuda": {"allocated": {"current": 3221225472}}}'
    server = scripted({"/sdapi/v1/progress": IDLE_PROGRESS, "/sdapi/v1/memory": (200, memory)})
    observation = arb.Automatic1111Client(sd_config(server.url), 3).observe()
    assert (observation.observed_gib, observation.loaded) == (3.0, True)
    assert (observation.card_total_bytes, observation.card_free_bytes) == (None, None)


def test_sd_memory_stats_that_are_not_numbers_leave_vram_unknown(scripted):
    memory = b'{"cuda": {"reserved": {"current": "n/a"}, "system": {"total": 25769803776, "free": null}}}'
    server = scripted({"/sdapi/v1/progress": IDLE_PROGRESS, "/sdapi/v1/memory": (200, memory)})
    observation = arb.Automatic1111Client(sd_config(server.url), 3).observe()
    assert (observation.observed_gib, observation.loaded, observation.card_total_bytes) == (None, False, None)


def test_sd_memory_without_cuda_leaves_vram_unknown(scripted):
    server = scripted({"/sdapi/v1/progress": (200, b'{"state": null}'), "/sdapi/v1/memory": (200, b'{"cuda": null}')})
    observation = arb.Automatic1111Client(sd_config(server.url), 3).observe()
    assert observation == arb.Observation(reachable=True, busy=False, job_mark=None)


# The JSON client ---------------------------------------------------------------------------------------------


def test_a_json_call_sends_accept_and_the_body_with_its_type_and_credentials(scripted):
    server = scripted({"/x": (200, b'{"ok": true}')})
    assert arb._http_json(server.url, "POST", "/x", 3, {"a": 1}, "Basic abc") == {"ok": True}
    [(method, path, headers, body)] = server.got
    assert (method, path, body) == ("POST", "/x", b'{"a": 1}')
    assert (headers["Accept"], headers["Content-Type"], headers["Authorization"]) == (
        "application/json",
        "application/json",
        "Basic abc",
    )


def test_a_json_call_without_a_body_sends_no_content_type_and_no_credentials(scripted):
    server = scripted({"/x": (200, b"[]")})
    assert arb._http_json(server.url, "GET", "/x", 3) == []
    [(_, _, headers, body)] = server.got
    assert "Content-Type" not in headers and "Authorization" not in headers and body == b""


def test_an_empty_answer_reads_as_an_empty_object(scripted):
    server = scripted({"/x": (200, b"  ")})
    assert arb._http_json(server.url, "GET", "/x", 3) == {}


def test_an_answer_that_is_not_json_is_an_upstream_error(scripted):
    server = scripted({"/x": (200, b"<html>")})
    with pytest.raises(arb.UpstreamError) as error:
        arb._http_json(server.url, "GET", "/x", 3)
    assert str(error.value) == "GET /x answered something that is not JSON: b'<html>'"


def test_an_error_status_is_an_upstream_error_with_the_start_of_the_body(scripted):
    server = scripted({"/x": (400, b"x" * 300)})
    with pytest.raises(arb.UpstreamError) as error:
        arb._http_json(server.url, "GET", "/x", 3)
    assert str(error.value) == f"GET /x answered HTTP 400: b'{'x' * 200}'"


def test_a_status_below_400_is_an_answer(scripted):
    server = scripted({"/x": (399, b'{"a": 1}')})
    assert arb._http_json(server.url, "GET", "/x", 3) == {"a": 1}


def test_an_app_that_does_not_listen_is_an_upstream_error_naming_it():
    from tests.ports import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(arb.UpstreamError) as error:
        arb._http_json(url, "GET", "/api/ps", 3)
    assert str(error.value) == f"cannot reach {url}: [Errno 111] Connection refused"


# What the arbiter keeps from each poll ---------------------------------------------------------------------------


def test_the_first_poll_logs_each_app_up_with_what_it_holds(fresh_harness, capsys):
    h = fresh_harness()
    h.arbiter.poll_once()
    assert records(capsys.readouterr().out) == [
        {"event": "app_up", "app": "ollama", "after_restart": False, "observed_gib": 0.0},
        {"event": "app_up", "app": SD, "after_restart": False, "observed_gib": 7.0},
    ]


def test_a_second_poll_with_nothing_changed_logs_nothing(fresh_harness, capsys):
    h = fresh_harness()
    h.arbiter.poll_once()
    capsys.readouterr()
    h.arbiter.poll_once()
    assert capsys.readouterr().out == ""


def test_an_app_that_stops_answering_is_logged_down_counted_and_holds_nothing(fresh_harness, capsys):
    h = fresh_harness()
    chat_directly(h, "tiny")
    h.arbiter.poll_once()
    capsys.readouterr()
    h.ollama.stop()
    h.arbiter.poll_once()
    state = h.state("ollama")
    [down] = records(capsys.readouterr().out)
    assert down == {"event": "app_down", "app": "ollama", "error": state.last_error}
    assert state.last_error == f"cannot reach {h.ollama.url}: [Errno 111] Connection refused"
    assert h.arbiter.counters.get("poll_errors", app="ollama") == 1
    assert (state.reachable, state.polled, state.observed_gib, state.loaded, state.models) == (
        False,
        True,
        None,
        False,
        {},
    )
    assert (state.busy_since, state.loaded_since, state.observed_busy) == (None, None, False)


def test_an_app_that_is_down_at_the_first_poll_is_logged_down(fresh_harness, capsys):
    h = fresh_harness()
    h.sd.stop()
    h.arbiter.refresh(SD)
    [down] = records(capsys.readouterr().out)
    assert down["event"] == "app_down" and down["app"] == SD
    assert h.state(SD).polled is True


def test_an_app_back_after_a_restart_is_logged_up_after_restart(fresh_harness, capsys):
    h = fresh_harness()
    h.arbiter.poll_once()
    h.sd.stop()
    h.arbiter.poll_once()
    h.sd.start()
    capsys.readouterr()
    h.arbiter.poll_once()
    assert records(capsys.readouterr().out) == [
        {"event": "app_up", "app": SD, "after_restart": True, "observed_gib": 7.0}
    ]


def test_an_app_down_while_requests_it_admitted_run_stays_busy_from_now(fresh_harness):
    h = fresh_harness()
    h.arbiter.poll_once()
    h.state("ollama").inflight[1] = 16.0
    h.ollama.stop()
    h.clock.now += 5
    h.arbiter.poll_once()
    assert h.state("ollama").busy_since == h.clock.now


def test_a_down_app_poll_wakes_waiting_requests(fresh_harness):
    h = fresh_harness()
    h.ollama.stop()
    woken = []
    with h.arbiter.cond:
        import threading

        threading.Timer(0.0, lambda: h.arbiter.refresh("ollama")).start()
        woken.append(h.arbiter.cond.wait(timeout=2))
    assert woken == [True]


def test_an_up_app_poll_wakes_waiting_requests(fresh_harness):
    import threading

    h = fresh_harness()
    with h.arbiter.cond:
        threading.Timer(0.0, lambda: h.arbiter.refresh(SD)).start()
        assert h.arbiter.cond.wait(timeout=2) is True


def test_loaded_and_busy_are_timed_from_the_poll_that_first_saw_them(fresh_harness):
    h = fresh_harness()
    h.arbiter.poll_once()
    sd = h.state(SD)
    assert (sd.loaded_since, sd.busy_since) == (h.clock.now, None)
    loaded_at = h.clock.now
    h.clock.now += 10
    start_sd_job(h)
    h.arbiter.refresh(SD)
    assert (sd.loaded_since, sd.busy_since) == (loaded_at, loaded_at + 10)
    h.clock.now += 10
    h.arbiter.refresh(SD)
    assert sd.busy_since == loaded_at + 10
    end_sd_job(h)
    h.arbiter.refresh(SD)
    assert sd.busy_since is None
    assert request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {}).status == 200
    h.arbiter.refresh(SD)
    assert (sd.loaded, sd.loaded_since) == (False, None)


def test_a_poll_keeps_the_card_as_sd_sees_it_and_the_job_mark(fresh_harness):
    h = fresh_harness()
    start_sd_job(h, "20261128120000")
    h.arbiter.refresh(SD)
    sd = h.state(SD)
    assert (sd.card_total_bytes, sd.card_free_bytes, sd.job_mark) == (24 * GIB, 17 * GIB, "20261128120000")
    assert (sd.observed_busy, sd.reachable, sd.last_error) == (True, True, None)


def test_sd_whose_vram_is_unknown_counts_as_loaded_and_claims_its_active_max(fresh_harness, scripted):
    h = fresh_harness()
    server = scripted({"/sdapi/v1/progress": IDLE_PROGRESS, "/sdapi/v1/memory": (500, b"x")})
    h.state(SD).client = arb.Automatic1111Client(sd_config(server.url), 3)
    h.arbiter.refresh(SD)
    sd = h.state(SD)
    assert (sd.loaded, sd.observed_gib, sd.last_error) == (
        True,
        None,
        "memory: GET /sdapi/v1/memory answered HTTP 500: b'x'",
    )
    assert arb.claim_gib(sd.view()) == 12.0


def test_a_loaded_model_is_remembered_by_its_size_after_it_unloads(fresh_harness):
    h = fresh_harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    chat_directly(h, "tiny")
    h.arbiter.refresh("ollama")
    h.ollama.stop()
    h.ollama.start()
    h.arbiter.refresh("ollama")
    state = h.state("ollama")
    assert (state.models, state.known_sizes) == ({}, {"tiny:latest": 4 * GIB})


def test_a_model_listed_without_vram_is_not_remembered_by_size(fresh_harness, scripted):
    h = fresh_harness()
    server = scripted({"/api/ps": (200, b'{"models": [{"name": "cpu-only:latest", "size_vram": 0}]}')})
    h.state("ollama").client = arb.OllamaClient(ollama_config(server.url), 3)
    h.arbiter.refresh("ollama")
    assert h.state("ollama").models == {"cpu-only:latest": 0}
    assert h.state("ollama").known_sizes == {}


def test_a_view_before_the_first_poll_has_vram_unknown(fresh_harness):
    h = fresh_harness()
    view = h.state(SD).view()
    assert view == arb.AppView(
        name=SD, envelope=arb.Envelope(0.0, 8.0, 12.0), reachable=False, observed_gib=None, grows_when_busy=True
    )


def test_a_view_carries_the_largest_reservation_and_who_is_busy(fresh_harness):
    h = fresh_harness()
    h.arbiter.poll_once()
    state = h.state("ollama")
    state.inflight.update({1: 4.0, 2: 16.0})
    state.busy_since = 5.0
    view = state.view()
    assert view == arb.AppView(
        name="ollama",
        envelope=arb.Envelope(0.0, 8.0, 16.0),
        reachable=True,
        observed_gib=0.0,
        loaded=False,
        busy=True,
        busy_since=5.0,
        loaded_since=None,
        reserved_gib=16.0,
        grows_when_busy=False,
        foreign_busy=False,
    )


def test_a_job_without_a_request_through_the_arbiter_is_foreign(fresh_harness):
    h = fresh_harness()
    start_sd_job(h)
    h.arbiter.refresh(SD)
    assert (h.state(SD).busy, h.state(SD).foreign_busy) == (True, True)
    h.state(SD).inflight[3] = 12.0
    assert (h.state(SD).busy, h.state(SD).foreign_busy) == (True, False)


# Health ------------------------------------------------------------------------------------------------------------


def test_the_arbiter_is_not_healthy_before_its_first_poll(fresh_harness):
    assert fresh_harness().arbiter.healthy() is False


def test_the_arbiter_is_healthy_right_after_a_poll(fresh_harness):
    h = fresh_harness()
    h.arbiter.poll_once()
    assert h.arbiter.healthy() is True


def test_the_poll_loop_is_stalled_after_three_intervals_plus_two_timeouts_per_app_plus_five_seconds(fresh_harness):
    import time

    h = fresh_harness(poll_interval_seconds=2, request_timeout_seconds=10)
    stale_after = 3 * 2 + 2 * 10 * 2 + 5  # 51 s
    h.arbiter.last_poll = time.monotonic() - (stale_after - 0.5)
    assert h.arbiter.healthy() is True
    h.arbiter.last_poll = time.monotonic() - (stale_after + 0.5)
    assert h.arbiter.healthy() is False


def test_an_unload_of_an_ollama_that_hangs_gives_up_after_the_request_timeout():
    from tests.arbiter_inproc import Silent

    silent = Silent()
    try:
        client = arb.OllamaClient(ollama_config(silent.url), 0.05)
        with pytest.raises(arb.UpstreamError, match="timed out"):
            client.unload(arb.Observation(reachable=True, models={"llama3.2:latest": 1}))
    finally:
        silent.stop()


def test_sd_checkpoint_routes_are_posted_an_empty_json_object_with_the_credentials(scripted):
    server = scripted({"/sdapi/v1/unload-checkpoint": (200, b"{}"), "/sdapi/v1/reload-checkpoint": (200, b"{}")})
    client = arb.Automatic1111Client(sd_config(server.url, authorization="Basic abc"), 3)
    client.unload(arb.Observation(reachable=True))
    client.reload()
    for _, _, headers, body in server.got:
        assert (body, headers["Content-Type"], headers["Authorization"]) == (b"{}", "application/json", "Basic abc")


def test_sd_with_api_auth_is_unloaded_and_reloaded_with_the_credentials(fresh_harness):
    auth = "Basic YWRtaW46czNjcmV0LXBhc3M="
    h = fresh_harness(sd={"authorization": auth})
    client = arb.Automatic1111Client(sd_config(h.sd.url, authorization=auth), 3)
    client.unload(arb.Observation(reachable=True))
    assert h.sd.weights_on_gpu is False
    client.reload()
    assert h.sd.weights_on_gpu is True


def test_a_json_call_to_an_app_that_hangs_gives_up_after_its_timeout():
    from tests.arbiter_inproc import Silent

    silent = Silent()
    try:
        with pytest.raises(arb.UpstreamError) as error:
            arb._http_json(silent.url, "GET", "/api/ps", 0.05)
    finally:
        silent.stop()
    assert str(error.value) == f"cannot reach {silent.url}: timed out"


def test_a_poll_of_sd_that_hangs_gives_up_after_the_request_timeout():
    from tests.arbiter_inproc import Silent

    silent = Silent()
    try:
        with pytest.raises(arb.UpstreamError, match="timed out"):
            arb.Automatic1111Client(sd_config(silent.url), 0.05).observe()
    finally:
        silent.stop()


def test_an_answer_that_is_not_json_is_quoted_up_to_200_bytes(scripted):
    server = scripted({"/x": (200, b"<" * 300)})
    with pytest.raises(arb.UpstreamError) as error:
        arb._http_json(server.url, "GET", "/x", 3)
    assert str(error.value) == f"GET /x answered something that is not JSON: b'{'<' * 200}'"


def test_sd_vram_is_what_the_allocator_reserved_not_what_tensors_use(scripted):
    memory = b'{"cuda": {"reserved": {"current": 7516192768}, "allocated": {"current": 5368709120}}}'
    server = scripted({"/sdapi/v1/progress": IDLE_PROGRESS, "/sdapi/v1/memory": (200, memory)})
    assert arb.Automatic1111Client(sd_config(server.url), 3).observe().observed_gib == 7.0


def test_an_app_that_stays_down_is_logged_and_counted_once(fresh_harness, capsys):
    h = fresh_harness()
    h.arbiter.poll_once()
    h.ollama.stop()
    capsys.readouterr()
    h.arbiter.poll_once()
    h.arbiter.poll_once()
    assert [r["event"] for r in records(capsys.readouterr().out)] == ["app_down"]
    assert h.arbiter.counters.get("poll_errors", app="ollama") == 1


def test_any_model_holding_vram_is_remembered_by_its_size(fresh_harness, scripted):
    h = fresh_harness()
    server = scripted({"/api/ps": (200, b'{"models": [{"name": "speck:latest", "size_vram": 1}]}')})
    h.state("ollama").client = arb.OllamaClient(ollama_config(server.url), 3)
    h.arbiter.refresh("ollama")
    assert h.state("ollama").known_sizes == {"speck:latest": 1}


def test_a_poll_of_ollama_that_hangs_gives_up_after_the_request_timeout():
    from tests.arbiter_inproc import Silent

    silent = Silent()
    try:
        with pytest.raises(arb.UpstreamError, match="timed out"):
            arb.OllamaClient(ollama_config(silent.url), 0.05).observe()
    finally:
        silent.stop()


def test_a_loaded_model_listed_only_by_its_model_field_is_counted(scripted):
    server = scripted({"/api/ps": (200, b'{"models": [{"model": "tiny", "size_vram": 4294967296}]}')})
    observation = arb.OllamaClient(ollama_config(server.url), 3).observe()
    assert observation.models == {"tiny:latest": 4 * GIB}


def test_a_reload_of_sd_that_hangs_gives_up_after_the_request_timeout():
    from tests.arbiter_inproc import Silent

    silent = Silent()
    try:
        with pytest.raises(arb.UpstreamError, match="timed out"):
            arb.Automatic1111Client(sd_config(silent.url), 0.05).reload()
    finally:
        silent.stop()


def test_a_json_call_goes_to_the_upstreams_own_host():
    server = Scripted({"/x": (200, b"{}")}, host="127.0.0.2")  # another loopback address than the usual one
    try:
        assert arb._http_json(server.url, "GET", "/x", 3) == {}
    finally:
        server.stop()
