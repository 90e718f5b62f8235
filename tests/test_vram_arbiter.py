"""The VRAM arbiter run for real, as its pod runs it, between a client and fake Ollama and AUTOMATIC1111.

Both fakes share one simulated 24 GiB card (tests/fake_gpu_apps.py): loading past it is a CUDA
out-of-memory in the fake, counted on the card. Envelopes are the spec's: Ollama 0 / 8-16 GiB, SD
0 / 8-12 GiB. The fakes hold a stream or a job open until the test releases it, and every wait
polls with a deadline, so the order of events is asserted, not slept on. Timeouts are seconds.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator

import pytest

from tests.arbiter_rig import (
    ArbiterProcess,
    call,
    call_in_background,
    rig_config,
    wait_until,
)
from tests.fake_gpu_apps import FakeAutomatic1111, FakeOllama, SimulatedCard

# The slow tier (`make test-fast` leaves it out): runs the in-pod arbiter program against fake servers.
pytestmark = pytest.mark.slow

SD = "stable-diffusion"
CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello"}]}


class Rig:
    """A card, the two fakes on it, and an arbiter in front of them."""

    def __init__(self, ollama_kwargs: dict, sd_kwargs: dict, arbiter_kwargs: dict) -> None:
        self.card = SimulatedCard(24)
        self.ollama = FakeOllama(self.card, {"llama3.2": 16.0, "tiny": 4.0}, **ollama_kwargs).start()
        self.sd = FakeAutomatic1111(self.card, **sd_kwargs).start()
        env = arbiter_kwargs.pop("env", {})
        sd_extra = arbiter_kwargs.pop("sd_extra", {})
        config = rig_config(
            self.ollama.url,
            self.sd.url,
            poll_interval_s=0.05,
            ollama_wait_s=arbiter_kwargs.pop("ollama_wait", 10),
            sd_wait_s=arbiter_kwargs.pop("sd_wait", 10),
            **sd_extra,
        )
        self.arbiter = ArbiterProcess(config, env=env)

    def chat(self, **payload) -> object:
        return call(self.arbiter.port("ollama"), "POST", "/api/chat", {**CHAT, **payload})

    def chat_in_background(self, **payload) -> object:
        return call_in_background(self.arbiter.port("ollama"), "POST", "/api/chat", {**CHAT, **payload})

    def txt2img(self, headers: dict | None = None) -> object:
        return call(self.arbiter.port(SD), "POST", "/sdapi/v1/txt2img", {"prompt": "a cat"}, headers=headers)

    def txt2img_in_background(self) -> object:
        return call_in_background(self.arbiter.port(SD), "POST", "/sdapi/v1/txt2img", {"prompt": "a cat"})

    def direct_txt2img_in_background(self, headers: dict | None = None) -> object:
        """A job from the web page on the LAN: straight to the web UI, not through the arbiter."""
        return call_in_background(self.sd.port, "POST", "/sdapi/v1/txt2img", {"prompt": "a dog"}, headers=headers)

    def stop(self) -> None:
        self.ollama.resume_streams()
        self.sd.resume_jobs()
        self.arbiter.cleanup()
        self.ollama.stop()
        self.sd.stop()


@pytest.fixture
def make_rig() -> Iterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(ollama: dict | None = None, sd: dict | None = None, start: bool = True, **arbiter) -> Rig:
        rig = Rig(ollama or {}, sd or {}, arbiter)
        rigs.append(rig)
        if start:
            rig.arbiter.start()
        return rig

    yield make
    for rig in rigs:
        rig.stop()
        # Shown by pytest only when the test failed: what the arbiter decided, and what each fake was asked.
        print("arbiter log:", *rig.arbiter.lines, "arbiter stderr:", rig.arbiter.stderr, sep="\n")
        print("ollama got:", *rig.ollama.requests, "stable diffusion got:", *rig.sd.requests, sep="\n")


def index_of(fake, method: str, path: str, predicate: Callable[[object], bool] = lambda _: True) -> int:
    """Position of the first matching request the fake received (requests are recorded in order)."""
    with fake.lock:
        for i, (m, p, payload) in enumerate(fake.requests):
            if m == method and p == path and predicate(payload):
                return i
    raise AssertionError(f"{fake.name} never got {method} {path}")


def ollama_unloads(rig: Rig) -> list[dict]:
    return [p for p in rig.ollama.posts_to("/api/generate") if p.get("keep_alive") == 0 and not p.get("prompt")]


# Admission -----------------------------------------------------------------------------------------------


def test_chat_while_sd_is_idle_but_loaded_unloads_sd_before_ollama_loads(make_rig):
    rig = make_rig()
    assert rig.sd.weights_on_gpu  # the web UI loaded its checkpoint at start: 7 GiB, 12 GiB claimed
    answer = rig.chat()
    assert answer.status == 200
    assert answer.lines()[-1]["done"] is True
    assert rig.sd.posts_to("/sdapi/v1/unload-checkpoint") == [{}]
    assert not rig.sd.weights_on_gpu
    assert rig.card.oom_count == 0
    assert rig.arbiter.metric("vram_arbiter_unloads_total", app=SD, reason="admission") == 1


def test_sd_job_while_a_chat_streams_waits_for_the_chat_then_runs(make_rig):
    rig = make_rig()
    rig.ollama.pause_streams()
    chat = rig.chat_in_background()
    rig.ollama.wait_for(lambda: rig.ollama.active_streams == 1, "the chat to stream")
    image = rig.txt2img_in_background()
    wait_until(lambda: rig.arbiter.metric("vram_arbiter_waiting_requests", app=SD) == 1, "the image to wait")
    assert rig.sd.jobs_started == 0
    rig.ollama.resume_streams()
    assert chat.done.wait(20) and image.done.wait(20)
    assert (chat.status, image.status) == (200, 200)
    assert rig.sd.completed == 1
    # Ollama's model was unloaded (keep_alive 0) only after the chat ended, and before the job ran.
    assert chat.lines()[-1]["done"] is True
    assert len(ollama_unloads(rig)) == 1
    assert rig.card.oom_count == 0
    assert rig.arbiter.metric("vram_arbiter_waits_total", app=SD) == 1
    assert rig.arbiter.metric("vram_arbiter_wait_seconds_total", app=SD) > 0


def test_a_generation_after_an_unload_reloads_the_checkpoint_first(make_rig):
    rig = make_rig()
    assert rig.chat().status == 200  # unloads SD's checkpoint to make room
    answer = rig.txt2img()
    assert answer.status == 200
    assert rig.sd.failed_jobs == []  # no "Expected all tensors to be on the same device"
    reload_at = index_of(rig.sd, "POST", "/sdapi/v1/reload-checkpoint")
    assert reload_at < index_of(rig.sd, "POST", "/sdapi/v1/txt2img")
    assert rig.card.oom_count == 0


def test_a_wait_that_runs_out_is_refused_naming_the_app_that_holds_the_card(make_rig):
    rig = make_rig(sd_wait=1)
    rig.ollama.pause_streams()
    rig.chat_in_background()
    rig.ollama.wait_for(lambda: rig.ollama.active_streams == 1, "the chat to stream")
    answer = rig.txt2img()
    assert answer.status == 503
    detail = answer.json()["detail"]
    assert "ollama has held 16.0 GiB of the 24.0 GiB card for" in detail
    assert "busy with a job" in detail and "limit 1 s" in detail
    assert answer.headers["retry-after"] == "1"
    assert rig.sd.jobs_started == 0
    assert rig.arbiter.metric("vram_arbiter_refusals_total", app=SD) == 1
    [refusal] = rig.arbiter.events("refuse")
    assert refusal["holder"] == "ollama" and refusal["held_for_s"] >= 1


def test_requests_that_fit_together_run_together(make_rig):
    rig = make_rig(start=False)
    assert call(rig.ollama.port, "POST", "/api/chat", {**CHAT, "model": "tiny"}).status == 200
    rig.arbiter.start()  # sees the 4 GiB model in /api/ps: SD (12 GiB claimed) fits beside it
    assert rig.chat(model="tiny").status == 200
    assert rig.txt2img().status == 200
    assert rig.sd.posts_to("/sdapi/v1/unload-checkpoint") == []
    assert ollama_unloads(rig) == []
    assert rig.card.oom_count == 0


def test_a_model_of_unknown_size_counts_as_active_max_until_it_has_been_seen_loaded(make_rig):
    rig = make_rig()
    assert rig.chat(model="tiny", keep_alive="1s").status == 200  # unknown: 16 GiB assumed, SD unloaded
    rig.sd.wait_for(lambda: rig.sd.weights_on_gpu, "the checkpoint restored once Ollama let go")
    assert rig.chat(model="tiny").status == 200  # seen at 4 GiB: SD stays
    assert len(rig.sd.posts_to("/sdapi/v1/unload-checkpoint")) == 1
    assert rig.card.oom_count == 0


def test_the_arbiter_never_unloads_a_running_job(make_rig):
    rig = make_rig(ollama_wait=1)
    rig.sd.pause_jobs()
    job = rig.direct_txt2img_in_background()
    rig.sd.wait_for(lambda: rig.sd.job_count == 1, "the direct job")
    answer = rig.chat()
    assert answer.status == 503
    assert "stable-diffusion has held" in answer.json()["error"]
    assert rig.sd.unloads_during_job == 0
    rig.sd.resume_jobs()
    assert job.done.wait(20) and job.status == 200


# Keep-alive -------------------------------------------------------------------------------------------------


def test_a_client_keep_alive_of_minus_one_is_capped_at_the_server_policy(make_rig):
    rig = make_rig()
    assert rig.chat(keep_alive=-1).status == 200
    assert rig.ollama.keep_alives == [300]
    assert rig.arbiter.metric("vram_arbiter_keep_alive_capped_total", app="ollama") == 1


def test_a_client_keep_alive_within_the_policy_is_forwarded_as_sent(make_rig):
    rig = make_rig()
    assert rig.chat(keep_alive="2m").status == 200
    assert rig.ollama.keep_alives == ["2m"]


# Streaming -----------------------------------------------------------------------------------------------------


def test_each_streamed_line_reaches_the_client_while_the_app_is_still_generating(make_rig):
    rig = make_rig()
    rig.ollama.pause_streams()
    chat = rig.chat_in_background()
    wait_until(lambda: len(chat.chunks) >= 1, "the first line at the client")
    first = json.loads(chat.chunks[0][1].splitlines()[0])
    assert first["message"]["content"] == "t0 " and first["done"] is False
    assert not chat.done.is_set()
    rig.ollama.resume_streams()
    assert chat.done.wait(20)
    assert [line["done"] for line in chat.lines()] == [False] * 5 + [True]
    assert chat.headers["content-type"] == "application/x-ndjson"


# Reacting to work that bypassed the arbiter ------------------------------------------------------------------


def test_a_direct_sd_job_unloads_the_idle_ollama_model_before_the_job_peaks(make_rig):
    # Ollama loaded its model before the arbiter started: 16 + 7 GiB fit, but not 16 + 12.
    rig = make_rig(start=False, sd={"job_s": 1.5, "peak_at_s": 1.2})
    assert call(rig.ollama.port, "POST", "/api/chat", CHAT).status == 200
    rig.arbiter.start()
    job = rig.direct_txt2img_in_background()
    assert job.done.wait(20)
    assert job.status == 200
    assert rig.card.oom_count == 0
    assert rig.ollama.loaded_names() == []
    assert rig.arbiter.metric("vram_arbiter_overlaps_total", app=SD) == 1
    assert rig.arbiter.metric("vram_arbiter_unloads_total", app="ollama", reason="reactive") == 1
    [overlap] = rig.arbiter.events("overlap")
    assert overlap["unload"] == ["ollama"]


def test_a_direct_sd_job_during_a_chat_unloads_ollama_as_soon_as_the_chat_ends(make_rig):
    rig = make_rig(sd={"job_s": 3.0, "peak_at_s": 2.5})
    rig.ollama.pause_streams()
    chat = rig.chat_in_background()  # the arbiter unloads SD's checkpoint first
    rig.ollama.wait_for(lambda: rig.ollama.active_streams == 1, "the chat to stream")
    # Someone on the LAN reloads the checkpoint (7 GiB: it fits) and starts a job from the web page.
    assert call(rig.sd.port, "POST", "/sdapi/v1/reload-checkpoint", {}).status == 200
    job = rig.direct_txt2img_in_background()
    wait_until(lambda: rig.arbiter.metric("vram_arbiter_overlaps_total", app=SD) == 1, "the overlap")
    assert rig.ollama.loaded_names() == ["llama3.2:latest"]  # in use: never cut short
    rig.ollama.resume_streams()
    assert chat.done.wait(20) and chat.status == 200
    rig.ollama.wait_for(lambda: rig.ollama.loaded_names() == [], "the reactive unload")
    assert job.done.wait(20) and job.status == 200
    assert rig.card.oom_count == 0
    [overlap] = rig.arbiter.events("overlap")
    assert overlap["blocked"] == ["ollama"]


def test_a_chat_during_a_direct_sd_job_waits_for_the_job(make_rig):
    rig = make_rig(sd={"job_s": 0.3})
    rig.sd.pause_jobs()
    job = rig.direct_txt2img_in_background()
    rig.sd.wait_for(lambda: rig.sd.job_count == 1, "the direct job")
    chat = rig.chat_in_background()
    wait_until(lambda: rig.arbiter.metric("vram_arbiter_waiting_requests", app="ollama") == 1, "the chat to wait")
    rig.sd.resume_jobs()
    assert job.done.wait(20) and chat.done.wait(20)
    assert (job.status, chat.status) == (200, 200)
    assert index_of(rig.sd, "POST", "/sdapi/v1/unload-checkpoint") > index_of(rig.sd, "POST", "/sdapi/v1/txt2img")
    assert rig.card.oom_count == 0


def test_a_checkpoint_the_arbiter_unloaded_is_reloaded_once_the_card_has_room(make_rig):
    rig = make_rig()
    assert rig.chat(keep_alive="1s").status == 200  # SD unloaded; Ollama lets go of its model after 1 s
    rig.sd.wait_for(lambda: rig.sd.weights_on_gpu, "the checkpoint back on the GPU")
    assert rig.ollama.loaded_names() == []
    # The arbiter counts the reload once the web UI has answered it, a moment after the fake has the weights.
    wait_until(lambda: rig.arbiter.metric("vram_arbiter_reloads_total", app=SD, reason="restore") == 1, "the count")
    assert rig.card.oom_count == 0


# Restarts -----------------------------------------------------------------------------------------------------


def test_an_arbiter_restarted_mid_stream_rebuilds_its_state_from_the_apps(make_rig):
    rig = make_rig()
    rig.ollama.pause_streams()
    chat = rig.chat_in_background()
    rig.ollama.wait_for(lambda: rig.ollama.active_streams == 1, "the chat to stream")
    rig.arbiter.kill()
    assert chat.done.wait(20)
    assert not chat.lines() or chat.lines()[-1]["done"] is False  # the client saw its stream cut
    rig.arbiter.start()
    ollama = rig.arbiter.app_status("ollama")
    assert ollama["models"] == {"llama3.2:latest": 16.0}
    assert rig.arbiter.app_status(SD)["loaded"] is False
    rig.ollama.resume_streams()
    rig.ollama.wait_for(lambda: rig.ollama.active_streams == 0, "the orphaned stream to end")
    answer = rig.txt2img()
    assert answer.status == 200
    assert len(ollama_unloads(rig)) == 1
    assert rig.card.oom_count == 0


def test_a_restarted_sd_is_seen_loaded_again_and_unloaded_before_the_next_chat(make_rig):
    rig = make_rig()
    assert rig.chat(keep_alive=0).status == 200  # SD unloaded, Ollama unloads right after the chat
    rig.sd.stop()
    wait_until(lambda: rig.arbiter.app_status(SD)["state"] == "down", "SD down")
    rig.sd.start()  # loads its checkpoint at start
    wait_until(lambda: rig.arbiter.app_status(SD)["loaded"] is True, "SD loaded again")
    assert rig.chat().status == 200
    assert len(rig.sd.posts_to("/sdapi/v1/unload-checkpoint")) == 2
    assert rig.card.oom_count == 0


def test_a_restarted_ollama_is_seen_empty_and_sd_runs_without_unloading_it(make_rig):
    rig = make_rig()
    assert rig.chat().status == 200
    rig.ollama.stop()
    wait_until(lambda: rig.arbiter.app_status("ollama")["state"] == "down", "Ollama down")
    rig.ollama.start()
    wait_until(lambda: rig.arbiter.app_status("ollama")["state"] == "unloaded", "Ollama back, empty")
    assert rig.txt2img().status == 200
    assert ollama_unloads(rig) == []
    assert rig.card.oom_count == 0


def test_a_request_to_an_app_that_is_down_answers_502_naming_it(make_rig):
    rig = make_rig()
    rig.ollama.stop()
    answer = rig.chat()
    assert answer.status == 502
    assert "cannot reach ollama at http://127.0.0.1:" in answer.json()["error"]


# What it says -------------------------------------------------------------------------------------------------


def test_status_shows_each_apps_envelope_observed_vram_and_last_unload(make_rig):
    rig = make_rig()
    assert rig.chat().status == 200
    wait_until(lambda: rig.arbiter.app_status("ollama")["observed_gib"] == 16.0, "the model in /api/ps")
    sd = rig.arbiter.app_status(SD)
    assert sd["envelope_gib"] == {"idle": 0.0, "active_min": 8.0, "active_max": 12.0}
    assert sd["state"] == "unloaded" and sd["observed_gib"] == 0.0
    assert sd["last_unload"]["reason"] == "admission" and sd["last_unload"]["for"] == "ollama"
    assert rig.arbiter.metric("vram_arbiter_app_observed_vram_bytes", app="ollama") == 16 * 1024**3


def test_every_decision_is_one_json_log_line(make_rig):
    rig = make_rig()
    assert rig.chat().status == 200
    # The log is read from the process's stdout by a thread: wait until the admit line has arrived.
    wait_until(lambda: rig.arbiter.events("admit"), "the admit decision in the log")
    events = [json.loads(line)["event"] for line in list(rig.arbiter.lines)]
    assert events[0] == "start"
    assert events.index("make_room") < events.index("unload") < events.index("admit")


def test_sd_api_auth_comes_from_the_environment_and_clients_keep_their_own(make_rig):
    auth = FakeAutomatic1111.basic("admin", "s3cret-pass")
    rig = make_rig(
        start=False,
        sd={"authorization": auth},
        env={"SD_API_USER": "admin", "SD_API_PASSWORD": "s3cret-pass"},
        sd_extra={"auth": {"user_env": "SD_API_USER", "password_env": "SD_API_PASSWORD"}},
    )
    rig.arbiter.start()
    assert rig.arbiter.app_status(SD)["loaded"] is True  # it could read /memory
    assert rig.txt2img().status == 401  # a client without credentials is not let in by the arbiter's
    assert rig.txt2img(headers={"Authorization": auth}).status == 200
    assert "s3cret-pass" not in "\n".join(rig.arbiter.lines)


def test_a_bad_config_exits_2_naming_the_field_and_the_fix(make_rig):
    rig = make_rig(start=False)
    rig.arbiter.config["apps"][1]["envelope"]["active_max_gib"] = 40
    rig.arbiter.config_path.write_text(json.dumps(rig.arbiter.config))
    rig.arbiter.start(wait=False)
    assert rig.arbiter.wait_exit() == 2
    assert rig.arbiter.stderr.strip() == (
        "vram-arbiter: configuration error: apps[1] (stable-diffusion).envelope.active_max_gib: 40 GiB is more "
        "than the card's 24 GiB. Fix: lower it, or run the app on a bigger card"
    )


# The rig itself ---------------------------------------------------------------------------------------------


def test_an_arbiter_whose_status_port_another_process_took_starts_on_new_ports(make_rig):
    rig = make_rig(start=False)
    taken_port = rig.arbiter.config["status_port"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", taken_port))
        taken.listen()
        rig.arbiter.start()
    assert rig.arbiter.config["status_port"] != taken_port
    assert [app["name"] for app in rig.arbiter.status()["apps"]] == ["ollama", SD]
