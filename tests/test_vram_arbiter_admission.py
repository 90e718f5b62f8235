"""The arbiter's admission, unloading, reaction and reporting, in this process against the fakes.

A 24 GiB card; Ollama 0 / 8-16 GiB (llama3.2 takes 16 GiB, tiny 4 GiB), Stable Diffusion 0 / 8-12 GiB
(its checkpoint 7 GiB at rest). The arbiter's clock is the test's: waits are timed on it, and threads
that end a wait notify the arbiter's condition instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ClassVar

import pytest

from tests.arbiter_inproc import GIB, SD, Harness, arb, events, records, request


def load_directly(h: Harness, model: str) -> None:
    """A chat straight to the fake Ollama; the arbiter then polls it."""
    request(h.ollama.port, "POST", "/api/chat", {"model": model, "messages": [1], "stream": False})
    h.arbiter.poll_once()


def start_sd_job(h: Harness, stamp: str = "20261128112233") -> None:
    with h.sd.lock:
        h.sd.job, h.sd.job_count, h.sd.job_timestamp = "scripts_txt2img", -1, stamp


def wait_for(condition: Callable[[], bool], deadline: float = 3.0) -> None:
    """Poll ``condition`` (the arbiter does not announce a new waiter) until it holds or the deadline passes."""
    end = time.monotonic() + deadline
    while not condition() and time.monotonic() < end:
        time.sleep(0.001)


def later(action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` in another thread while this one waits inside the arbiter."""
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def when_waiting(h: Harness, count: int, action: Callable[[], None]) -> threading.Thread:
    """Once ``count`` requests wait for the card, run ``action`` (in another thread)."""

    def run() -> None:
        wait_for(lambda: len(h.arbiter.waiters) >= count)
        action()

    return later(run)


# What a request needs ----------------------------------------------------------------------------------------


def test_an_image_needs_sds_active_max(harness):
    assert harness().arbiter.need_gib(SD) == 12.0


def test_an_ollama_request_without_a_model_needs_its_active_max(harness):
    assert harness().arbiter.need_gib("ollama") == 16.0


def test_a_request_for_the_loaded_model_needs_what_ollama_holds(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "tiny")
    assert h.arbiter.need_gib("ollama", "tiny") == 4.0
    assert h.arbiter.need_gib("ollama") == 16.0


def test_a_model_seen_before_needs_its_size(harness):
    h = harness()
    h.state("ollama").known_sizes["tiny:latest"] = 4 * GIB
    assert h.arbiter.need_gib("ollama", "tiny") == 4.0


def test_a_model_never_seen_needs_the_active_max(harness):
    assert harness().arbiter.need_gib("ollama", "mystery") == 16.0


def test_with_one_model_at_a_time_a_new_model_needs_only_its_own_size(harness):
    h = harness()
    h.state("ollama").models = {"tiny:latest": 4 * GIB}
    h.state("ollama").known_sizes["big:latest"] = 10 * GIB
    assert h.arbiter.need_gib("ollama", "big") == 10.0


def test_with_several_models_a_new_model_comes_on_top_of_the_loaded_ones(harness):
    h = harness(ollama_extra={"max_loaded_models": 2})
    h.state("ollama").models = {"tiny:latest": 4 * GIB}
    h.state("ollama").known_sizes["big:latest"] = 10 * GIB
    assert h.arbiter.need_gib("ollama", "big") == 14.0
    assert h.arbiter.need_gib("ollama", "tiny") == 4.0


def test_a_loaded_model_needs_at_least_what_all_loaded_models_hold(harness):
    h = harness(ollama_extra={"max_loaded_models": 2})
    h.state("ollama").models = {"tiny:latest": 4 * GIB, "big:latest": 10 * GIB}
    assert h.arbiter.need_gib("ollama", "tiny") == 14.0


# Admission ---------------------------------------------------------------------------------------------------------


def test_a_request_that_fits_is_admitted_at_once_and_reserves_its_need(harness, capsys):
    h = harness()
    capsys.readouterr()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    h.arbiter.poll_once()
    ticket = h.arbiter.admit("ollama", 16.0, "POST /api/chat llama3.2")
    assert (ticket.app, ticket.need_gib, ticket.waited_s) == ("ollama", 16.0, 0.0)
    assert h.state("ollama").inflight == {ticket.number: 16.0}
    assert h.state("ollama").busy_since == h.clock.now
    assert h.arbiter.counters.get("admissions", app="ollama") == 1
    assert records(capsys.readouterr().out, "admit") == [
        {"event": "admit", "app": "ollama", "request": "POST /api/chat llama3.2", "need_gib": 16.0, "waited_s": 0.0}
    ]
    assert h.arbiter.waiters == []


def test_tickets_are_numbered_from_one(harness):
    assert harness().arbiter.admit(SD, 1.0).number == 1


def test_each_admission_gets_its_own_ticket(harness):
    h = harness()
    first = h.arbiter.admit(SD, 1.0)
    second = h.arbiter.admit(SD, 1.0)
    assert second.number == first.number + 1
    assert h.state(SD).inflight == {first.number: 1.0, second.number: 1.0}


def test_a_second_request_keeps_the_busy_time_of_the_first(harness):
    h = harness()
    h.arbiter.admit(SD, 1.0)
    started = h.clock.now
    h.clock.now += 30
    h.arbiter.admit(SD, 1.0)
    assert h.state(SD).busy_since == started


def test_a_request_that_fits_once_an_idle_app_unloads_unloads_it_first(harness, capsys):
    h = harness()
    capsys.readouterr()
    ticket = h.arbiter.admit("ollama", 16.0, "POST /api/chat llama3.2")
    assert ticket.waited_s == 0.0
    out = capsys.readouterr().out
    assert records(out)[:2] == [
        {"event": "make_room", "app": "ollama", "request": "POST /api/chat llama3.2", "unload": [SD], "need_gib": 16.0},
        {"event": "unload", "app": SD, "reason": "admission", "for_app": "ollama", "unloaded": ["checkpoint"]},
    ]
    assert events(out)[-1] == "admit"
    assert h.sd.weights_on_gpu is False
    assert h.arbiter.counters.get("unloads", app=SD, reason="admission") == 1
    assert h.state(SD).last_unload == {
        "at": "2026-01-01T00:00:00+00:00",
        "reason": "admission",
        "for": "ollama",
        "what": ["checkpoint"],
    }
    assert (h.state(SD).restore_pending, h.state(SD).unloading) == (True, False)


def test_an_unloaded_ollama_model_is_not_restored(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "llama3.2")
    h.arbiter.admit(SD, 12.0)
    assert h.ollama.loaded_names() == []
    assert h.state("ollama").restore_pending is False


def test_a_request_behind_a_busy_app_waits_until_it_is_done(harness, capsys):
    h = harness()
    busy = h.arbiter.admit(SD, 12.0, "POST /sdapi/v1/txt2img")
    capsys.readouterr()

    def finish() -> None:
        h.clock.now += 7.12345
        h.arbiter.release(busy)

    when_waiting(h, 1, finish)
    ticket = h.arbiter.admit("ollama", 16.0, "POST /api/chat llama3.2")
    assert ticket.waited_s == pytest.approx(7.12345)
    out = capsys.readouterr().out
    assert records(out, "admit")[0]["waited_s"] == 7.123
    assert records(out, "wait") == [
        {
            "event": "wait",
            "app": "ollama",
            "request": "POST /api/chat llama3.2",
            "holders": [SD],
            "reason": "stable-diffusion is busy with a job; 28.0 GiB would not fit the 24.0 GiB card",
        }
    ]
    assert h.arbiter.counters.get("waits", app="ollama") == 1
    assert h.arbiter.counters.get("wait_seconds", app="ollama") == pytest.approx(7.12345)


def test_a_wait_that_runs_out_is_refused_and_logged_with_the_holder(harness, capsys):
    h = harness()
    h.arbiter.admit(SD, 12.0, "POST /sdapi/v1/txt2img")
    h.clock.now += 40
    capsys.readouterr()

    def run_out() -> None:
        with h.arbiter.cond:
            h.clock.now += 31
            h.arbiter.cond.notify_all()

    when_waiting(h, 1, run_out)
    with pytest.raises(arb.Refused) as refused:
        h.arbiter.admit("ollama", 16.0, "POST /api/chat llama3.2")
    message = (
        "the GPU is busy: stable-diffusion has held 12.0 GiB of the 24.0 GiB card for 71 s (busy with a job), "
        "and ollama needs 16.0 GiB; waited 31 s (limit 30 s). Try again when stable-diffusion is done."
    )
    assert str(refused.value) == message
    assert refused.value.decision.holder == SD
    assert records(capsys.readouterr().out, "refuse") == [
        {
            "event": "refuse",
            "app": "ollama",
            "request": "POST /api/chat llama3.2",
            "holder": SD,
            "held_for_s": 71.0,
            "message": message,
        }
    ]
    assert h.arbiter.counters.get("refusals", app="ollama") == 1
    assert h.arbiter.counters.get("wait_seconds", app="ollama") == 31.0
    assert h.arbiter.waiters == []
    assert h.state("ollama").inflight == {}


def test_a_request_with_no_wait_allowed_is_refused_at_once(harness, capsys):
    h = harness(ollama_extra={"max_wait_seconds": 0})
    h.arbiter.admit(SD, 12.0)
    capsys.readouterr()
    with pytest.raises(arb.Refused):
        h.arbiter.admit("ollama", 16.0, "chat")
    assert events(capsys.readouterr().out) == ["refuse"]
    assert h.arbiter.counters.get("waits", app="ollama") == 0
    assert h.arbiter.counters.values.get(("wait_seconds", (("app", "ollama"),))) is None


def test_a_refusal_without_a_known_holding_time_has_none(harness, capsys):
    h = harness(ollama_extra={"max_wait_seconds": 0})
    h.state(SD).inflight[99] = 12.0  # reserved, but neither busy_since nor loaded_since known
    h.state(SD).loaded_since = None
    capsys.readouterr()
    with pytest.raises(arb.Refused):
        h.arbiter.admit("ollama", 16.0, "chat")
    [refusal] = records(capsys.readouterr().out, "refuse")
    assert refusal["held_for_s"] is None


def test_a_refusal_rounds_the_holding_time_to_a_tenth(harness, capsys):
    h = harness(ollama_extra={"max_wait_seconds": 0})
    h.arbiter.admit(SD, 12.0)
    h.clock.now += 12.345
    capsys.readouterr()
    with pytest.raises(arb.Refused):
        h.arbiter.admit("ollama", 16.0, "chat")
    [refusal] = records(capsys.readouterr().out, "refuse")
    assert refusal["held_for_s"] == 12.3


def test_the_admit_log_rounds_need_and_wait(harness, capsys):
    h = harness()
    capsys.readouterr()
    h.arbiter.admit(SD, 1.23456, "x")
    [admit] = records(capsys.readouterr().out, "admit")
    assert (admit["need_gib"], admit["waited_s"]) == (1.23, 0.0)


def test_requests_for_another_app_are_served_first_come_first_served(harness, capsys):
    h = harness()
    busy = h.arbiter.admit(SD, 12.0, "job")
    order: list[str] = []

    def chat() -> None:
        ticket = h.arbiter.admit("ollama", 16.0, "chat")
        order.append("chat")
        h.arbiter.release(ticket)

    chat_thread = later(chat)
    wait_for(lambda: len(h.arbiter.waiters) == 1)
    capsys.readouterr()

    def release_later() -> None:
        h.arbiter.release(busy)

    when_waiting(h, 2, release_later)
    image = h.arbiter.admit(SD, 1.0, "small image")  # would fit now, but the chat came first
    order.append("image")
    chat_thread.join(3)
    assert order == ["chat", "image"]
    assert records(capsys.readouterr().out, "wait")[0] == {
        "event": "wait",
        "app": SD,
        "request": "small image",
        "holders": ["ollama"],
        "reason": "queued behind an earlier request for ollama",
    }
    assert image.app == SD


def test_a_request_queued_behind_another_app_past_its_wait_is_refused_naming_it(harness):
    h = harness(sd_extra={"max_wait_seconds": 5})
    h.arbiter.admit(SD, 12.0, "job")
    with h.arbiter.cond:
        h.arbiter.waiters.append((0, "ollama"))  # an earlier chat, still waiting
    h.clock.now += 0
    run_out = threading.Timer(0.0, lambda: (setattr(h.clock, "now", h.clock.now + 6), notify(h)))

    def notify(h: Harness) -> None:
        with h.arbiter.cond:
            h.arbiter.cond.notify_all()

    when_waiting(h, 2, run_out.start)
    with pytest.raises(arb.Refused) as refused:
        h.arbiter.admit(SD, 1.0, "small image")
    assert str(refused.value) == (
        "the GPU is busy: an earlier request for ollama is still waiting for the card; stable-diffusion waited "
        "6 s (limit 5 s). Try again shortly."
    )
    assert refused.value.decision.holder == "ollama"


def test_an_earlier_waiter_for_the_same_app_is_no_reason_to_queue(harness):
    h = harness()
    with h.arbiter.cond:
        h.arbiter.waiters.extend([(0, SD), (5, "ollama")])
    assert h.arbiter._earlier_waiter_for_another_app(3, SD) is None
    assert h.arbiter._earlier_waiter_for_another_app(6, SD) == "ollama"
    assert h.arbiter._earlier_waiter_for_another_app(6, "ollama") == SD
    assert h.arbiter._earlier_waiter_for_another_app(0, "ollama") is None


def test_a_request_waits_while_its_unload_is_already_under_way(harness, capsys):
    h = harness()
    h.state(SD).unloading = True  # a reactive unload from another thread

    def done() -> None:
        request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
        h.arbiter.refresh(SD)
        with h.arbiter.cond:
            h.state(SD).unloading = False
            h.arbiter.cond.notify_all()

    capsys.readouterr()
    when_waiting(h, 1, done)
    h.arbiter.admit("ollama", 16.0, "chat")
    [wait] = records(capsys.readouterr().out, "wait")
    assert (wait["holders"], wait["reason"]) == ([SD], "an unload is under way")
    assert h.sd.posts_to("/sdapi/v1/unload-checkpoint") == [{}]


def test_an_unload_refused_by_a_job_that_just_started_makes_the_request_wait(harness, capsys):
    h = harness()
    start_sd_job(h)  # started after the last poll: the arbiter still sees SD idle

    def finish() -> None:
        with h.sd.lock:
            h.sd.job, h.sd.job_count = "", 0
        h.arbiter.refresh(SD)

    capsys.readouterr()
    when_waiting(h, 1, lambda: None)
    timer = threading.Timer(0.05, finish)
    timer.start()
    ticket = h.arbiter.admit("ollama", 16.0, "chat")
    timer.join()
    assert ticket.app == "ollama"
    assert events(capsys.readouterr().out)[:2] == ["make_room", "unload_skipped"]
    assert h.sd.unloads_during_job == 0


# Unloading ---------------------------------------------------------------------------------------------------------


def test_an_app_that_turned_busy_is_not_unloaded(harness, capsys):
    h = harness()
    start_sd_job(h)
    h.state(SD).unloading = True
    capsys.readouterr()
    assert h.arbiter._unload(SD, "admission") is False
    assert records(capsys.readouterr().out) == [
        {
            "event": "unload_skipped",
            "app": SD,
            "reason": "admission",
            "detail": "a job started: never unload a busy app",
        }
    ]
    assert h.sd.posts_to("/sdapi/v1/unload-checkpoint") == []
    assert (h.state(SD).unloading, h.state(SD).observed_busy) == (False, True)


def test_an_unload_the_app_refuses_is_logged_and_reported_failed(harness, scripted, capsys):
    h = harness()
    server = scripted({"/api/generate": (500, b'{"error":"boom"}'), "/api/ps": (200, b'{"models": []}')})
    state = h.state("ollama")
    state.client = arb.OllamaClient(h.app("ollama"), 3)
    state.client.config = arb.AppConfig("ollama", "ollama", server.url, 1, h.app("ollama").envelope, 1.0)
    state.models = {"llama3.2:latest": 16 * GIB}
    state.unloading = True
    capsys.readouterr()
    assert h.arbiter._unload("ollama", "reactive") is False
    assert records(capsys.readouterr().out) == [
        {
            "event": "unload_failed",
            "app": "ollama",
            "reason": "reactive",
            "error": 'POST /api/generate answered HTTP 500: b\'{"error":"boom"}\'',
        }
    ]
    assert state.unloading is False


def test_an_unload_whose_vram_is_never_freed_gives_up_after_the_unload_timeout(harness, scripted, capsys):
    h = harness(unload_timeout_seconds=0.2, poll_interval_seconds=2)
    held = b'{"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest", "size_vram": 17179869184}]}'
    server = scripted({"/api/generate": (200, b"{}"), "/api/ps": (200, held)})
    state = h.state("ollama")
    state.client = arb.OllamaClient(arb.AppConfig("ollama", "ollama", server.url, 1, h.app("ollama").envelope, 1.0), 3)
    h.arbiter.refresh("ollama")
    state.unloading = True
    capsys.readouterr()
    assert h.arbiter._unload("ollama", "reactive") is False
    assert records(capsys.readouterr().out)[-1] == {
        "event": "unload_slow",
        "app": "ollama",
        "detail": "VRAM not freed after 0.2 s",
    }
    # It looked again every 50 ms (not every 2 s poll) before giving up.
    assert len([p for m, p, _, _ in server.got if p == "/api/ps"]) >= 3


def test_an_unload_is_done_once_the_app_stops_answering(harness):
    h = harness()
    h.state(SD).unloading = True

    class Dies(arb.Automatic1111Client):
        def unload(self, observation):
            h.sd.stop()
            return ["checkpoint"]

    h.state(SD).client = Dies(h.app(SD), 3)
    assert h.arbiter._unload(SD, "admission") is True


def test_an_unload_passes_the_models_the_arbiter_saw(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "tiny")
    seen = []

    class Spy(arb.OllamaClient):
        def unload(self, observation):
            seen.append(observation)
            return super().unload(observation)

    h.state("ollama").client = Spy(h.app("ollama"), 3)
    h.state("ollama").unloading = True
    assert h.arbiter._unload("ollama", "reactive") is True
    assert seen == [arb.Observation(reachable=True, models={"tiny:latest": 4 * GIB})]


def test_unloading_several_apps_unloads_every_one_even_after_a_failure(harness):
    h = harness()
    calls = []
    h.arbiter._unload = lambda name, reason: calls.append((name, reason)) or name == "b"
    assert h.arbiter._unload_all(["a", "b"], "reactive") is False
    assert calls == [("a", "reactive"), ("b", "reactive")]
    assert h.arbiter._unload_all(["b"], "reactive") is True


# Work that bypassed the arbiter ------------------------------------------------------------------------------------


def test_a_direct_sd_job_unloads_the_idle_ollama_model_and_counts_the_overlap(harness, capsys):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "llama3.2")
    request(h.sd.port, "POST", "/sdapi/v1/reload-checkpoint", {})  # from the web page: 16 + 7 fit
    start_sd_job(h)
    capsys.readouterr()
    h.arbiter.poll_once()
    out = capsys.readouterr().out
    assert records(out, "overlap") == [
        {
            "event": "overlap",
            "app": SD,
            "detail": "a stable-diffusion job that did not come through the arbiter runs while the apps claim "
            "more than the 24 GiB card",
            "unload": ["ollama"],
            "blocked": [],
            "claims": {"ollama": 16.0, SD: 12.0},
        }
    ]
    assert records(out, "unload") == [
        {"event": "unload", "app": "ollama", "reason": "reactive", "for_app": None, "unloaded": ["llama3.2:latest"]}
    ]
    assert h.ollama.loaded_names() == []
    assert h.arbiter.counters.get("overlaps", app=SD) == 1
    assert h.arbiter.counters.get("unloads", app="ollama", reason="reactive") == 1


def test_an_overlap_is_counted_once_per_job(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "llama3.2")
    h.state("ollama").inflight[50] = 16.0  # a chat through the arbiter keeps Ollama busy: nothing to unload
    request(h.sd.port, "POST", "/sdapi/v1/reload-checkpoint", {})
    start_sd_job(h, "20261128120000")
    h.arbiter.poll_once()
    h.arbiter.poll_once()
    assert h.arbiter.counters.get("overlaps", app=SD) == 1
    start_sd_job(h, "20261128120005")
    h.arbiter.poll_once()
    assert h.arbiter.counters.get("overlaps", app=SD) == 2
    assert h.state(SD).overlap_mark == "20261128120005"
    assert h.ollama.loaded_names() == ["llama3.2:latest"]


def test_a_busy_app_without_a_job_mark_is_counted_once(harness):
    h = harness()
    state = h.state(SD)
    with h.arbiter.cond:
        state.observed_busy, state.job_mark = True, None
        h.state("ollama").inflight[50] = 16.0
    h.arbiter.react_now()
    h.arbiter.react_now()
    assert h.arbiter.counters.get("overlaps", app=SD) == 1
    assert state.overlap_mark == "busy"


def test_an_app_already_being_unloaded_is_not_unloaded_again_by_a_reaction(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "llama3.2")
    request(h.sd.port, "POST", "/sdapi/v1/reload-checkpoint", {})
    start_sd_job(h)
    h.arbiter.refresh(SD)
    h.state("ollama").unloading = True
    h.arbiter.react_now()
    assert h.ollama.loaded_names() == ["llama3.2:latest"]
    assert h.state("ollama").unloading is True


def test_a_reaction_at_the_end_of_a_request_unloads_in_the_background(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "llama3.2")
    ticket = h.arbiter.admit("ollama", 16.0, "chat")
    request(h.sd.port, "POST", "/sdapi/v1/reload-checkpoint", {})
    start_sd_job(h)
    h.arbiter.refresh(SD)
    h.arbiter.release(ticket)
    wait_for(lambda: h.arbiter.counters.get("unloads", app="ollama", reason="reactive") == 1)
    assert h.ollama.loaded_names() == []
    assert h.arbiter.counters.get("unloads", app="ollama", reason="reactive") == 1


def test_no_reaction_when_everything_fits(harness, capsys):
    h = harness()
    start_sd_job(h)
    h.arbiter.refresh(SD)
    capsys.readouterr()
    h.arbiter.react_now()
    assert capsys.readouterr().out == ""
    assert h.arbiter.counters.values == {}


# Releasing and restoring -------------------------------------------------------------------------------------------


def test_a_released_request_gives_back_its_reservation(harness):
    h = harness()
    ticket = h.arbiter.admit(SD, 12.0)
    h.arbiter.release(ticket)
    assert (h.state(SD).inflight, h.state(SD).busy_since) == ({}, None)


def test_a_released_request_leaves_the_app_busy_with_the_others(harness):
    h = harness()
    first = h.arbiter.admit(SD, 12.0)
    started = h.state(SD).busy_since
    second = h.arbiter.admit(SD, 12.0)
    h.arbiter.release(second)
    assert (h.state(SD).inflight, h.state(SD).busy_since) == ({first.number: 12.0}, started)


def test_a_released_request_reads_what_the_app_now_holds(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    h.arbiter.poll_once()
    ticket = h.arbiter.admit("ollama", 16.0)
    request(h.ollama.port, "POST", "/api/chat", {"model": "llama3.2", "messages": [1], "stream": False})
    h.arbiter.release(ticket)
    assert h.state("ollama").models == {"llama3.2:latest": 16 * GIB}


def test_a_checkpoint_the_arbiter_unloaded_is_restored_once_it_fits(harness, capsys):
    h = harness()
    h.arbiter.admit("ollama", 16.0, "chat")  # unloads SD
    h.arbiter.apps["ollama"].inflight.clear()
    h.arbiter.refresh("ollama")
    capsys.readouterr()
    h.arbiter.restore_now()
    assert h.sd.weights_on_gpu is True
    assert records(capsys.readouterr().out, "restore") == [
        {"event": "restore", "app": SD, "detail": "the card has room again: checkpoint reloaded for the web page"}
    ]
    sd = h.state(SD)
    assert (sd.restore_pending, sd.inflight, sd.busy_since, sd.loaded) == (False, {}, None, True)
    assert h.arbiter.counters.get("reloads", app=SD, reason="restore") == 1


def test_a_checkpoint_is_not_restored_while_it_would_not_fit(harness):
    h = harness()
    h.arbiter.admit("ollama", 16.0, "chat")
    h.arbiter.restore_now()
    assert h.sd.weights_on_gpu is False
    assert h.state(SD).restore_pending is True


def test_a_checkpoint_is_not_restored_while_a_request_waits(harness):
    h = harness()
    h.arbiter.admit("ollama", 16.0, "chat")
    h.arbiter.apps["ollama"].inflight.clear()
    h.arbiter.waiters.append((99, "ollama"))
    h.arbiter.restore_now()
    assert h.sd.weights_on_gpu is False


def test_a_checkpoint_is_not_restored_during_an_unload_or_a_job_or_when_down(harness):
    h = harness()
    h.arbiter.admit("ollama", 16.0, "chat")
    h.arbiter.apps["ollama"].inflight.clear()
    sd = h.state(SD)
    sd.unloading = True
    h.arbiter.restore_now()
    sd.unloading = False
    sd.observed_busy = True
    h.arbiter.restore_now()
    sd.observed_busy = False
    sd.reachable = False
    h.arbiter.restore_now()
    sd.reachable = True
    sd.loaded = True
    h.arbiter.restore_now()
    assert h.sd.posts_to("/sdapi/v1/reload-checkpoint") == []
    sd.loaded = False
    h.arbiter.restore_now()
    assert h.sd.posts_to("/sdapi/v1/reload-checkpoint") == [{}]


def test_a_restore_runs_under_a_reservation_of_the_active_max(harness):
    h = harness()
    h.arbiter.admit("ollama", 16.0, "chat")
    h.arbiter.apps["ollama"].inflight.clear()
    seen = []

    class Spy(arb.Automatic1111Client):
        def reload(self):
            seen.append((dict(h.state(SD).inflight), h.state(SD).busy_since))
            super().reload()

    h.state(SD).client = Spy(h.app(SD), 3)
    h.clock.now += 3
    h.arbiter.restore_now()
    [(inflight, since)] = seen
    assert list(inflight.values()) == [12.0] and next(iter(inflight)) < 0
    assert since == h.clock.now


def test_a_restore_that_fails_is_logged_and_tried_again_later(harness, capsys):
    h = harness()
    h.arbiter.admit("ollama", 16.0, "chat")
    h.arbiter.apps["ollama"].inflight.clear()
    h.card.set("someone-else", 20 * GIB)  # not through either app: the reload runs out of memory
    capsys.readouterr()
    h.arbiter.restore_now()
    [failed] = records(capsys.readouterr().out, "restore_failed")
    assert failed == {
        "event": "restore_failed",
        "app": SD,
        "error": 'POST /sdapi/v1/reload-checkpoint answered HTTP 500: b\'{"error": "OutOfMemoryError", '
        '"detail": "", "body": "", "errors": "CUDA out of memory"}\'',
    }
    assert (h.state(SD).restore_pending, h.state(SD).inflight) == (True, {})


# Before a generation: the checkpoint back on the GPU ---------------------------------------------------------------


def test_a_generation_reloads_an_unloaded_checkpoint_first(harness, capsys):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    capsys.readouterr()
    h.arbiter.ensure_loaded(SD)
    assert h.sd.weights_on_gpu is True
    assert records(capsys.readouterr().out) == [
        {"event": "reload", "app": SD, "detail": "checkpoint was off the GPU: POST /sdapi/v1/reload-checkpoint"}
    ]
    assert h.arbiter.counters.get("reloads", app=SD, reason="generation") == 1
    assert h.state(SD).loaded is True


def test_a_generation_with_the_checkpoint_loaded_reloads_nothing(harness):
    h = harness()
    h.arbiter.ensure_loaded(SD)
    assert h.sd.posts_to("/sdapi/v1/reload-checkpoint") == []
    assert h.sd.requests[-1][1] == "/sdapi/v1/memory"  # it read the web UI again first


def test_ollama_needs_no_reload(harness):
    h = harness()
    before = len(h.ollama.requests)
    h.arbiter.ensure_loaded("ollama")
    assert len(h.ollama.requests) == before


def test_a_web_ui_that_is_down_is_not_reloaded(harness):
    h = harness()
    h.sd.stop()
    h.arbiter.ensure_loaded(SD)
    assert h.arbiter.counters.get("reloads", app=SD, reason="generation") == 0


def test_a_reload_that_fails_is_logged(harness, capsys):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    h.card.set("someone-else", 20 * GIB)
    capsys.readouterr()
    h.arbiter.ensure_loaded(SD)
    [failed] = records(capsys.readouterr().out)
    assert failed["event"] == "reload_failed" and failed["app"] == SD
    assert failed["error"].startswith("POST /sdapi/v1/reload-checkpoint answered HTTP 500")


def test_a_capped_keep_alive_is_counted_and_logged(harness, capsys):
    h = harness()
    capsys.readouterr()
    h.arbiter.note_keep_alive_capped("ollama", -1, 300)
    assert records(capsys.readouterr().out) == [
        {"event": "keep_alive_capped", "app": "ollama", "requested": -1, "forwarded": 300}
    ]
    assert h.arbiter.counters.get("keep_alive_capped", app="ollama") == 1


# Reporting ---------------------------------------------------------------------------------------------------------


def test_status_lists_the_card_each_app_and_nothing_waiting(harness):
    h = harness()
    assert h.arbiter.status() == {
        "card": {"name": "simulated 24 GiB", "vram_gib": 24.0},
        "apps": [
            {
                "name": "ollama",
                "kind": "ollama",
                "envelope_gib": {"idle": 0.0, "active_min": 8.0, "active_max": 16.0},
                "reachable": True,
                "observed_gib": 0.0,
                "claim_gib": 0.0,
                "state": "unloaded",
                "loaded": False,
                "busy": False,
                "busy_for_s": None,
                "inflight": 0,
                "models": {},
                "last_unload": None,
                "last_error": None,
            },
            {
                "name": SD,
                "kind": "automatic1111",
                "envelope_gib": {"idle": 0.0, "active_min": 8.0, "active_max": 12.0},
                "reachable": True,
                "observed_gib": 7.0,
                "claim_gib": 12.0,
                "state": "loaded",
                "loaded": True,
                "busy": False,
                "busy_for_s": None,
                "inflight": 0,
                "models": {},
                "last_unload": None,
                "last_error": None,
            },
        ],
        "waiting": [],
        "counters": {},
    }


def test_status_shows_a_busy_app_its_models_the_waiters_and_the_counters(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "tiny")
    h.arbiter.admit("ollama", 4.0)
    h.clock.now += 2.25
    h.arbiter.counters.add("refusals", app=SD)
    h.arbiter.waiters.append((7, SD))
    h.state(SD).observed_gib = 1.23456
    status = h.arbiter.status()
    ollama = status["apps"][0]
    assert (ollama["state"], ollama["busy"], ollama["busy_for_s"], ollama["inflight"]) == ("busy", True, 2.2, 1)
    assert ollama["models"] == {"tiny:latest": 4.0}
    assert status["apps"][1]["observed_gib"] == 1.235
    assert status["waiting"] == [{"ticket": 7, "app": SD}]
    assert status["counters"] == {"admissions{app=ollama}": 1.0, "refusals{app=stable-diffusion}": 1.0}


def test_status_rounds_claims_and_model_sizes_to_three_places(harness):
    h = harness()
    h.state("ollama").models = {"odd:latest": 1234567890}
    h.state("ollama").observed_gib = 1234567890 / GIB
    ollama = h.arbiter.status()["apps"][0]
    assert (ollama["models"], ollama["claim_gib"]) == ({"odd:latest": 1.15}, 1.15)


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"polled": False}, "unknown"),
        ({"reachable": False}, "down"),
        ({"unloading": True}, "unloading"),
        ({"observed_busy": True}, "busy"),
        ({"loaded": True}, "loaded"),
        ({}, "unloaded"),
    ],
)
def test_status_names_each_state_in_a_word(harness, change, word):
    h = harness()
    state = h.state("ollama")
    for key, value in change.items():
        setattr(state, key, value)
    assert arb._state_word(state) == word


def test_the_state_word_puts_down_before_unloading_and_unloading_before_busy(harness):
    h = harness()
    state = h.state("ollama")
    state.unloading, state.observed_busy, state.loaded = True, True, True
    assert arb._state_word(state) == "unloading"
    state.reachable = False
    assert arb._state_word(state) == "down"
    state.polled = False
    assert arb._state_word(state) == "unknown"


METRICS_AT_REST = """\
# HELP vram_arbiter_card_vram_bytes VRAM of the shared card.
# TYPE vram_arbiter_card_vram_bytes gauge
vram_arbiter_card_vram_bytes{card="simulated 24 GiB"} 25769803776
# HELP vram_arbiter_card_free_bytes Free VRAM on the card as CUDA reports it to AUTOMATIC1111.
# TYPE vram_arbiter_card_free_bytes gauge
vram_arbiter_card_free_bytes{card="simulated 24 GiB"} 18253611008
# HELP vram_arbiter_app_observed_vram_bytes VRAM the app holds, read from its own API (Ollama /api/ps size_vram; \
A1111 cuda.reserved).
# TYPE vram_arbiter_app_observed_vram_bytes gauge
vram_arbiter_app_observed_vram_bytes{app="ollama"} 0
vram_arbiter_app_observed_vram_bytes{app="stable-diffusion"} 7516192768
# HELP vram_arbiter_app_claim_vram_bytes VRAM the arbiter counts for the app: observed, or its active_max while it \
may grow.
# TYPE vram_arbiter_app_claim_vram_bytes gauge
vram_arbiter_app_claim_vram_bytes{app="ollama"} 0
vram_arbiter_app_claim_vram_bytes{app="stable-diffusion"} 12884901888
# HELP vram_arbiter_app_idle_vram_bytes The app's declared idle VRAM (its VramEnvelope).
# TYPE vram_arbiter_app_idle_vram_bytes gauge
vram_arbiter_app_idle_vram_bytes{app="ollama"} 0
vram_arbiter_app_idle_vram_bytes{app="stable-diffusion"} 0
# HELP vram_arbiter_app_active_min_vram_bytes The app's declared active_min VRAM (its VramEnvelope).
# TYPE vram_arbiter_app_active_min_vram_bytes gauge
vram_arbiter_app_active_min_vram_bytes{app="ollama"} 8589934592
vram_arbiter_app_active_min_vram_bytes{app="stable-diffusion"} 8589934592
# HELP vram_arbiter_app_active_max_vram_bytes The app's declared active_max VRAM (its VramEnvelope).
# TYPE vram_arbiter_app_active_max_vram_bytes gauge
vram_arbiter_app_active_max_vram_bytes{app="ollama"} 17179869184
vram_arbiter_app_active_max_vram_bytes{app="stable-diffusion"} 12884901888
# HELP vram_arbiter_app_up 1 when the app's API answered the last poll.
# TYPE vram_arbiter_app_up gauge
vram_arbiter_app_up{app="ollama"} 1
vram_arbiter_app_up{app="stable-diffusion"} 1
# HELP vram_arbiter_app_busy 1 while the app runs a job.
# TYPE vram_arbiter_app_busy gauge
vram_arbiter_app_busy{app="ollama"} 0
vram_arbiter_app_busy{app="stable-diffusion"} 0
# HELP vram_arbiter_app_loaded 1 while the app holds a model on the GPU.
# TYPE vram_arbiter_app_loaded gauge
vram_arbiter_app_loaded{app="ollama"} 0
vram_arbiter_app_loaded{app="stable-diffusion"} 1
# HELP vram_arbiter_inflight_requests Requests admitted through the arbiter that are still running.
# TYPE vram_arbiter_inflight_requests gauge
vram_arbiter_inflight_requests{app="ollama"} 0
vram_arbiter_inflight_requests{app="stable-diffusion"} 0
# HELP vram_arbiter_waiting_requests Requests waiting for the card.
# TYPE vram_arbiter_waiting_requests gauge
vram_arbiter_waiting_requests{app="ollama"} 0
vram_arbiter_waiting_requests{app="stable-diffusion"} 0
# HELP vram_arbiter_admissions_total Requests admitted to the card.
# TYPE vram_arbiter_admissions_total counter
vram_arbiter_admissions_total{app="ollama"} 0
vram_arbiter_admissions_total{app="stable-diffusion"} 0
# HELP vram_arbiter_waits_total Requests that had to wait for the card.
# TYPE vram_arbiter_waits_total counter
vram_arbiter_waits_total{app="ollama"} 0
vram_arbiter_waits_total{app="stable-diffusion"} 0
# HELP vram_arbiter_wait_seconds_total Seconds requests spent waiting for the card.
# TYPE vram_arbiter_wait_seconds_total counter
vram_arbiter_wait_seconds_total{app="ollama"} 0
vram_arbiter_wait_seconds_total{app="stable-diffusion"} 0
# HELP vram_arbiter_refusals_total Requests refused because the card did not come free in time.
# TYPE vram_arbiter_refusals_total counter
vram_arbiter_refusals_total{app="ollama"} 0
vram_arbiter_refusals_total{app="stable-diffusion"} 0
# HELP vram_arbiter_unloads_total Unloads the arbiter made, by reason.
# TYPE vram_arbiter_unloads_total counter
vram_arbiter_unloads_total{app="ollama"} 0
vram_arbiter_unloads_total{app="stable-diffusion"} 0
# HELP vram_arbiter_overlaps_total Jobs that bypassed the arbiter while the apps did not fit the card together.
# TYPE vram_arbiter_overlaps_total counter
vram_arbiter_overlaps_total{app="ollama"} 0
vram_arbiter_overlaps_total{app="stable-diffusion"} 0
# HELP vram_arbiter_reloads_total Checkpoint reloads before a generation (AUTOMATIC1111).
# TYPE vram_arbiter_reloads_total counter
vram_arbiter_reloads_total{app="ollama"} 0
vram_arbiter_reloads_total{app="stable-diffusion"} 0
# HELP vram_arbiter_keep_alive_capped_total Client keep_alive values capped at the server's policy.
# TYPE vram_arbiter_keep_alive_capped_total counter
vram_arbiter_keep_alive_capped_total{app="ollama"} 0
vram_arbiter_keep_alive_capped_total{app="stable-diffusion"} 0
# HELP vram_arbiter_poll_errors_total Polls that found the app unreachable.
# TYPE vram_arbiter_poll_errors_total counter
vram_arbiter_poll_errors_total{app="ollama"} 0
vram_arbiter_poll_errors_total{app="stable-diffusion"} 0
"""


def test_metrics_at_rest_describe_every_family_with_one_sample_per_app(harness):
    # The Prometheus text format: HELP and TYPE per family, integral values without a decimal point.
    assert harness().arbiter.metrics() == METRICS_AT_REST


def sample(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_metrics_count_by_reason_and_show_busy_inflight_and_waiting(harness):
    h = harness()
    h.arbiter.admit("ollama", 16.0)  # unloads SD for admission
    h.arbiter.counters.add("wait_seconds", 1.5, app="ollama")
    h.arbiter.waiters.append((9, SD))
    text = h.arbiter.metrics()
    assert sample(text, "vram_arbiter_unloads_total{") == [
        'vram_arbiter_unloads_total{app="ollama"} 0',
        'vram_arbiter_unloads_total{app="stable-diffusion",reason="admission"} 1',
    ]
    assert sample(text, "vram_arbiter_wait_seconds_total{") == [
        'vram_arbiter_wait_seconds_total{app="ollama"} 1.5',
        'vram_arbiter_wait_seconds_total{app="stable-diffusion"} 0',
    ]
    assert sample(text, "vram_arbiter_app_busy{") == [
        'vram_arbiter_app_busy{app="ollama"} 1',
        'vram_arbiter_app_busy{app="stable-diffusion"} 0',
    ]
    assert sample(text, "vram_arbiter_inflight_requests{")[0] == 'vram_arbiter_inflight_requests{app="ollama"} 1'
    assert sample(text, "vram_arbiter_waiting_requests{")[1] == (
        'vram_arbiter_waiting_requests{app="stable-diffusion"} 1'
    )


def test_metrics_leave_out_what_is_unknown(harness):
    h = harness()
    h.sd.stop()
    h.arbiter.poll_once()
    h.state(SD).card_free_bytes = None
    text = h.arbiter.metrics()
    assert sample(text, "vram_arbiter_card_free_bytes{") == []
    assert sample(text, "vram_arbiter_app_observed_vram_bytes{") == [
        'vram_arbiter_app_observed_vram_bytes{app="ollama"} 0'
    ]
    assert sample(text, "vram_arbiter_app_up{")[1] == 'vram_arbiter_app_up{app="stable-diffusion"} 0'


def test_metrics_report_the_free_vram_of_the_first_app_that_sees_it(harness):
    h = harness()
    h.state("ollama").card_free_bytes = 5
    text = h.arbiter.metrics()
    assert sample(text, "vram_arbiter_card_free_bytes{") == ['vram_arbiter_card_free_bytes{card="simulated 24 GiB"} 5']


@pytest.mark.parametrize(
    ("value", "text"), [('a"b', 'a\\"b'), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb"), ("plain", "plain")]
)
def test_label_values_are_escaped_as_the_text_format_asks(value, text):
    assert arb._escape(value) == text


@pytest.mark.parametrize(("value", "text"), [(3.0, "3"), (True, "1"), (False, "0"), (1.5, "1.5"), (7, "7")])
def test_metric_values_are_integers_when_whole(value, text):
    assert arb._number_text(value) == text


def test_times_are_iso_8601_utc_to_the_second():
    assert arb.iso(1_767_225_600.75) == "2026-01-01T00:00:00+00:00"


def test_counters_add_up_per_label_set_in_any_order():
    counters = arb.Counters()
    counters.add("unloads", app="a", reason="x")
    counters.add("unloads", 2.5, reason="x", app="a")
    assert counters.get("unloads", app="a", reason="x") == 3.5
    assert counters.get("unloads", app="a") == 0.0
    assert counters.values == {("unloads", (("app", "a"), ("reason", "x"))): 3.5}


def test_a_model_seen_smaller_than_a_gib_needs_just_that(harness):
    h = harness()
    h.state("ollama").known_sizes["mini:latest"] = GIB // 2
    assert h.arbiter.need_gib("ollama", "mini") == 0.5


def test_make_room_logs_the_need_rounded_to_a_hundredth(harness, capsys):
    h = harness()
    capsys.readouterr()
    h.arbiter.admit("ollama", 15.456, "chat")
    [room] = records(capsys.readouterr().out, "make_room")
    assert room["need_gib"] == 15.46


class Watching(arb.Automatic1111Client):
    """SD's client, noting what the arbiter shows while the unload runs."""

    seen: ClassVar[list] = []
    harness: Harness

    def unload(self, observation):
        state = self.harness.state(SD)
        type(self).seen.append((state.unloading, arb._state_word(state)))
        return super().unload(observation)


def test_an_app_shows_as_unloading_while_admission_unloads_it(harness):
    h = harness()
    Watching.seen, Watching.harness = [], h
    h.state(SD).client = Watching(h.app(SD), 3)
    h.arbiter.admit("ollama", 16.0, "chat")
    assert Watching.seen == [(True, "unloading")]
    assert h.state(SD).unloading is False


def test_an_app_shows_as_unloading_while_a_reaction_unloads_it(harness):
    h = harness()
    seen = []

    class Spy(arb.OllamaClient):
        def unload(self, observation):
            seen.append(h.state("ollama").unloading)
            return super().unload(observation)

    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "llama3.2")
    h.state("ollama").client = Spy(h.app("ollama"), 3)
    request(h.sd.port, "POST", "/sdapi/v1/reload-checkpoint", {})
    start_sd_job(h)
    h.arbiter.poll_once()
    assert seen == [True]


def test_an_earlier_waiter_for_the_same_app_does_not_hold_a_request_back(harness):
    h = harness(sd_extra={"max_wait_seconds": 0})
    with h.arbiter.cond:
        h.arbiter.waiters.append((0, SD))
    assert h.arbiter.admit(SD, 1.0).app == SD


def test_a_request_queued_behind_another_app_with_no_wait_allowed_is_refused_at_once(harness):
    h = harness(sd_extra={"max_wait_seconds": 0})
    with h.arbiter.cond:
        h.arbiter.waiters.append((0, "ollama"))
    with pytest.raises(arb.Refused, match=r"an earlier request for ollama is still waiting.* waited 0 s "):
        h.arbiter.admit(SD, 1.0)


def test_a_release_returns_before_the_reactive_unload_it_starts_is_done(harness):
    h = harness()
    request(h.sd.port, "POST", "/sdapi/v1/unload-checkpoint", {})
    load_directly(h, "llama3.2")
    ticket = h.arbiter.admit("ollama", 16.0, "chat")
    go, done = threading.Event(), threading.Event()

    class Slow(arb.OllamaClient):
        def unload(self, observation):
            go.wait(2)
            done.set()
            return super().unload(observation)

    h.state("ollama").client = Slow(h.app("ollama"), 3)
    request(h.sd.port, "POST", "/sdapi/v1/reload-checkpoint", {})
    start_sd_job(h)
    h.arbiter.refresh(SD)
    h.arbiter.release(ticket)
    finished_first = done.is_set()
    go.set()
    assert finished_first is False
    assert done.wait(3)


def test_status_counters_name_every_label(harness):
    h = harness()
    h.arbiter.admit("ollama", 16.0)
    assert h.arbiter.status()["counters"]["unloads{app=stable-diffusion,reason=admission}"] == 1.0


def test_an_overlap_logs_each_apps_claim_rounded_to_a_hundredth(harness, capsys):
    h = harness()
    with h.arbiter.cond:
        h.state(SD).observed_busy, h.state(SD).job_mark = True, "20261128120000"
        h.state(SD).observed_gib = 12.3456
        h.state("ollama").inflight[50] = 15.6789
    capsys.readouterr()
    h.arbiter.react_now()
    [overlap] = records(capsys.readouterr().out, "overlap")
    assert overlap["claims"] == {"ollama": 15.68, SD: 12.35}


def test_restoring_looks_past_an_app_that_is_being_unloaded(harness):
    h = harness()
    h.arbiter.admit("ollama", 16.0, "chat")
    h.arbiter.apps["ollama"].inflight.clear()
    ollama = h.state("ollama")
    ollama.restore_pending, ollama.unloading = True, True  # listed first, skipped
    h.arbiter.restore_now()
    assert h.sd.weights_on_gpu is True


def test_a_restore_takes_the_next_ticket_number(harness):
    h = harness()
    first = h.arbiter.admit("ollama", 16.0, "chat")
    h.arbiter.release(first)
    h.arbiter.apps["ollama"].inflight.clear()
    seen = []

    class Spy(arb.Automatic1111Client):
        def reload(self):
            seen.append(list(h.state(SD).inflight))
            super().reload()

    h.state(SD).client = Spy(h.app(SD), 3)
    h.arbiter.restore_now()
    assert seen == [[-2]]
    assert h.arbiter.admit(SD, 1.0).number == 3


def test_a_restore_that_worked_is_not_tried_again_even_if_the_app_is_gone_right_after(harness):
    h = harness()
    h.arbiter.admit("ollama", 16.0, "chat")
    h.arbiter.apps["ollama"].inflight.clear()

    class Dies(arb.Automatic1111Client):
        def reload(self):
            super().reload()
            h.sd.stop()

    h.state(SD).client = Dies(h.app(SD), 3)
    h.arbiter.restore_now()
    assert h.state(SD).restore_pending is False


def test_a_refusal_counts_an_idle_holding_time_from_the_load(harness, capsys):
    h = harness(ollama_extra={"max_wait_seconds": 0})
    sd = h.state(SD)
    sd.inflight[99] = 12.0  # reserved; when its job started is not known
    sd.busy_since = None
    h.clock.now += 30
    capsys.readouterr()
    with pytest.raises(arb.Refused):
        h.arbiter.admit("ollama", 16.0, "chat")
    [refusal] = records(capsys.readouterr().out, "refuse")
    assert refusal["held_for_s"] == 30.0
