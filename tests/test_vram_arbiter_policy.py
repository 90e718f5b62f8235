"""The arbiter's policy as pure functions, with the spec's card and envelopes.

A 24 GiB card; Ollama idle 0, active 8-16 GiB; Stable Diffusion (AUTOMATIC1111) idle 0, active
8-12 GiB. Together at their maximum they need 28 GiB: the arbiter decides who goes first.
"""

from __future__ import annotations

import math

import pytest

from tests.arbiter_rig import load_arbiter

arb = load_arbiter()

CARD = 24.0
OLLAMA = arb.Envelope(idle_gib=0, active_min_gib=8, active_max_gib=16)
SD = arb.Envelope(idle_gib=0, active_min_gib=8, active_max_gib=12)
NOW = 1_000.0


def ollama(**state) -> object:
    return arb.AppView(name="ollama", envelope=OLLAMA, **{"observed_gib": 0.0, **state})


def sd(**state) -> object:
    return arb.AppView(name="stable-diffusion", envelope=SD, grows_when_busy=True, **{"observed_gib": 0.0, **state})


def chat(need: float = 16.0, waited: float = 0.0, max_wait: float = 60.0) -> object:
    return arb.Request("ollama", need, waited_s=waited, max_wait_s=max_wait)


def image(waited: float = 0.0, max_wait: float = 60.0) -> object:
    return arb.Request("stable-diffusion", 12.0, waited_s=waited, max_wait_s=max_wait)


# What each app claims ---------------------------------------------------------------------------------


def test_ollama_claims_exactly_the_vram_api_ps_reports():
    assert arb.claim_gib(ollama(observed_gib=9.5, loaded=True)) == 9.5


def test_sd_at_rest_with_its_checkpoint_loaded_claims_its_active_max():
    # 7 GiB of weights now, 12 GiB as soon as a job from its own web page starts.
    assert arb.claim_gib(sd(observed_gib=7.0, loaded=True)) == 12.0


def test_sd_with_its_checkpoint_unloaded_claims_what_it_holds():
    assert arb.claim_gib(sd(observed_gib=0.3, loaded=False)) == 0.3


def test_an_app_whose_vram_is_unknown_claims_its_active_max():
    assert arb.claim_gib(sd(observed_gib=None, loaded=True)) == 12.0


def test_an_app_that_does_not_answer_holds_nothing():
    assert arb.claim_gib(ollama(reachable=False, observed_gib=None)) == 0.0


def test_an_admitted_request_reserves_its_need_before_the_model_shows_up():
    assert arb.claim_gib(ollama(observed_gib=0.0, reserved_gib=16.0, busy=True)) == 16.0


# Admission ---------------------------------------------------------------------------------------------


def test_chat_is_admitted_when_sd_holds_nothing():
    decision = arb.decide(CARD, [ollama(), sd()], chat(), NOW)
    assert decision == arb.Admit()


def test_chat_while_sd_is_idle_but_loaded_unloads_sd_first():
    decision = arb.decide(CARD, [ollama(), sd(observed_gib=7.0, loaded=True)], chat(), NOW)
    assert decision == arb.Unload(("stable-diffusion",))


def test_image_while_a_chat_streams_waits_for_ollama():
    streaming = ollama(observed_gib=16.0, loaded=True, busy=True, busy_since=NOW - 5, reserved_gib=16.0)
    decision = arb.decide(CARD, [streaming, sd()], image(), NOW)
    assert isinstance(decision, arb.Wait)
    assert decision.holders == ("ollama",)


def test_image_after_the_chat_unloads_the_idle_ollama_model():
    decision = arb.decide(CARD, [ollama(observed_gib=16.0, loaded=True), sd()], image(), NOW)
    assert decision == arb.Unload(("ollama",))


def test_a_small_model_and_an_image_fit_together_without_unloading():
    decision = arb.decide(CARD, [ollama(observed_gib=5.0, loaded=True), sd()], image(), NOW)
    assert decision == arb.Admit()


def test_a_busy_app_is_never_chosen_for_unloading():
    rendering = sd(observed_gib=9.0, loaded=True, busy=True, busy_since=NOW - 3, foreign_busy=True)
    decision = arb.decide(CARD, [ollama(), rendering], chat(), NOW)
    assert isinstance(decision, arb.Wait)
    assert decision.holders == ("stable-diffusion",)


def test_a_wait_that_ran_out_is_refused_naming_the_holder_and_how_long_it_has_held_the_card():
    streaming = ollama(observed_gib=16.0, loaded=True, busy=True, busy_since=NOW - 95, reserved_gib=16.0)
    decision = arb.decide(CARD, [streaming, sd()], image(waited=30.0, max_wait=30.0), NOW)
    assert isinstance(decision, arb.Refuse)
    assert (decision.holder, decision.held_for_s) == ("ollama", 95.0)
    assert "ollama has held 16.0 GiB of the 24.0 GiB card for 95 s" in decision.message
    assert "waited 30 s (limit 30 s)" in decision.message


def test_a_request_bigger_than_the_card_is_refused_without_waiting():
    decision = arb.decide(CARD, [ollama(), sd()], chat(need=30.0), NOW)
    assert isinstance(decision, arb.Refuse)
    assert "cannot run on this card at all" in decision.message


def test_only_as_many_idle_apps_are_unloaded_as_needed_biggest_first():
    whisper = arb.AppView(name="whisper", envelope=arb.Envelope(0, 2, 6), observed_gib=6.0, loaded=True)
    big = ollama(observed_gib=10.0, loaded=True)
    decision = arb.decide(CARD, [big, whisper, sd()], image(), NOW)
    # 12 + 10 + 6 = 28: unloading the 10 GiB model is enough.
    assert decision == arb.Unload(("ollama",))


def test_an_app_reloading_under_its_own_reservation_makes_others_wait():
    restoring = sd(observed_gib=0.0, loaded=False, busy=True, busy_since=NOW, reserved_gib=12.0)
    decision = arb.decide(CARD, [ollama(), restoring], chat(), NOW)
    assert isinstance(decision, arb.Wait)


# Reaction to work that bypassed the arbiter ---------------------------------------------------------------


def test_a_direct_sd_job_with_an_idle_ollama_model_unloads_ollama():
    direct = sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)
    reaction = arb.react(CARD, [ollama(observed_gib=16.0, loaded=True), direct])
    assert reaction == arb.Reaction(unload=("ollama",), overlap=True, blocked=())


def test_a_direct_sd_job_during_a_chat_is_an_overlap_blocked_by_ollama():
    direct = sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)
    streaming = ollama(observed_gib=16.0, loaded=True, busy=True, reserved_gib=16.0)
    reaction = arb.react(CARD, [streaming, direct])
    assert reaction == arb.Reaction(unload=(), overlap=True, blocked=("ollama",))


def test_a_direct_sd_job_that_fits_beside_a_small_model_is_no_overlap():
    direct = sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)
    assert arb.react(CARD, [ollama(observed_gib=5.0, loaded=True), direct]) == arb.Reaction()


def test_no_reaction_without_a_job_from_outside():
    assert arb.react(CARD, [ollama(observed_gib=16.0, loaded=True), sd(observed_gib=7.0, loaded=True)]) == (
        arb.Reaction()
    )


# keep_alive ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "forwarded"),
    [(-1, 300), ("-1m", 300), ("24h", 300), (86400, 300), (1e9, 300)],
    ids=["minus-one", "negative-string", "a-day-as-string", "a-day-in-seconds", "huge"],
)
def test_a_keep_alive_longer_than_the_policy_is_capped(requested, forwarded):
    assert arb.cap_keep_alive(requested, 300.0) == (forwarded, True)


@pytest.mark.parametrize("requested", [0, "0", "2m", 120, "299s", "1m30s"])
def test_a_keep_alive_within_the_policy_is_forwarded_unchanged(requested):
    assert arb.cap_keep_alive(requested, 300.0) == (requested, False)


def test_an_unreadable_keep_alive_is_left_for_ollama_to_reject():
    assert arb.cap_keep_alive("soon", 300.0) == ("soon", False)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h30m", 5400.0), ("1.5s", 1.5), ("300ms", 0.3), ("0", 0.0), ("-1s", -1.0), ("2h45m30.5s", 9930.5)],
)
def test_go_durations_parse_like_time_parse_duration(text, seconds):
    assert arb.parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1d", "m", "1h 30m"])
def test_strings_go_rejects_are_not_durations(text):
    assert arb.parse_go_duration(text) is None


def test_a_negative_keep_alive_means_forever():
    assert arb.keep_alive_seconds(-5) == math.inf


# Configuration ------------------------------------------------------------------------------------------


def config(**app_overrides) -> dict:
    app = {
        "name": "ollama",
        "kind": "ollama",
        "upstream": "http://ollama:11434",
        "listen_port": 11434,
        "envelope": {"idle_gib": 0, "active_min_gib": 8, "active_max_gib": 16},
        "max_wait_seconds": 30,
        **app_overrides,
    }
    return {"card": {"name": "RTX", "vram_gib": 24}, "status_port": 9400, "apps": [app]}


def test_a_valid_config_loads():
    loaded = arb.load_config(config(), {})
    assert (loaded.card_gib, loaded.apps[0].envelope, loaded.apps[0].keep_alive_cap_s) == (24.0, OLLAMA, 300.0)


@pytest.mark.parametrize(
    ("overrides", "field", "fix"),
    [
        ({"kind": "comfyui"}, "apps[0] (ollama).kind", "use one of ollama, automatic1111"),
        ({"upstream": "ollama:11434"}, "apps[0] (ollama).upstream", "use http://host:port"),
        (
            {"envelope": {"idle_gib": 0, "active_min_gib": 8, "active_max_gib": 30}},
            "apps[0] (ollama).envelope.active_max_gib",
            "lower it",
        ),
        ({"envelope": {"idle_gib": 9, "active_min_gib": 8, "active_max_gib": 16}}, "apps[0] (ollama).envelope", "use"),
        ({"listen_port": 9400}, "apps (ollama).listen_port", "give each app and the status endpoint its own port"),
        ({"max_wait_seconds": float("nan")}, "apps[0] (ollama).max_wait_seconds", "set max_wait_seconds to a number"),
        ({"max_wait_seconds": -1}, "apps[0] (ollama).max_wait_seconds", "use a value of at least 0"),
    ],
    ids=["kind", "upstream", "bigger-than-card", "unordered", "port-clash", "nan", "negative-wait"],
)
def test_a_bad_config_names_the_field_and_the_fix(overrides, field, fix):
    with pytest.raises(arb.ConfigError) as error:
        arb.load_config(config(**overrides), {})
    assert str(error.value).startswith(f"{field}: ")
    assert f"Fix: {fix}" in str(error.value)


def test_sd_credentials_missing_from_the_environment_are_a_config_error():
    raw = config(
        name="stable-diffusion",
        kind="automatic1111",
        auth={"user_env": "SD_API_USER", "password_env": "SD_API_PASSWORD"},
    )
    with pytest.raises(arb.ConfigError, match=r"environment variable SD_API_PASSWORD is empty"):
        arb.load_config(raw, {"SD_API_USER": "admin"})


# Edges of the policy ----------------------------------------------------------------------------------------------


def test_a_request_for_an_app_the_arbiter_does_not_know_is_refused():
    decision = arb.decide(CARD, [ollama(), sd()], arb.Request("whisper", 1.0), NOW)
    assert decision == arb.Refuse("whisper is not an app this arbiter knows")


def test_a_request_bigger_than_the_card_is_refused_saying_both_sizes():
    decision = arb.decide(CARD, [ollama(), sd()], chat(need=24.5), NOW)
    assert decision == arb.Refuse("ollama needs 24.5 GiB but the card has 24.0 GiB: it cannot run on this card at all")


def test_a_request_for_exactly_the_card_is_admitted_when_nothing_else_holds_vram():
    assert arb.decide(CARD, [ollama(), sd()], chat(need=24.0), NOW) == arb.Admit()


def test_a_request_that_exactly_fills_the_card_beside_another_app_is_admitted():
    assert arb.decide(CARD, [ollama(), sd(observed_gib=8.0)], chat(need=16.0), NOW) == arb.Admit()


def test_a_request_a_hair_over_the_card_beside_another_app_unloads_it():
    decision = arb.decide(CARD, [ollama(), sd(observed_gib=8.001, loaded=True)], chat(need=16.0), NOW)
    assert decision == arb.Unload(("stable-diffusion",))


def test_several_idle_apps_are_unloaded_when_one_is_not_enough():
    whisper = arb.AppView(name="whisper", envelope=arb.Envelope(0, 2, 6), observed_gib=6.0, loaded=True)
    big = ollama(observed_gib=10.0, loaded=True)
    decision = arb.decide(CARD, [big, whisper, sd()], arb.Request("stable-diffusion", 20.0), NOW)
    assert decision == arb.Unload(("ollama", "whisper"))


def test_an_app_that_would_free_nothing_is_not_unloaded():
    # Loaded, but it holds no more than its idle envelope: unloading it gains nothing.
    resident = arb.AppView(name="embedder", envelope=arb.Envelope(4, 4, 4), observed_gib=4.0, loaded=True)
    big = ollama(observed_gib=10.0, loaded=True)
    decision = arb.decide(CARD, [big, resident, sd()], arb.Request("stable-diffusion", 12.0), NOW)
    assert decision == arb.Unload(("ollama",))


def test_unloading_stops_once_the_request_exactly_fits():
    first = arb.AppView(name="a", envelope=arb.Envelope(0, 1, 8), observed_gib=8.0, loaded=True)
    second = arb.AppView(name="b", envelope=arb.Envelope(0, 1, 4), observed_gib=4.0, loaded=True)
    decision = arb.decide(CARD, [first, second, sd()], arb.Request("stable-diffusion", 16.0), NOW)
    assert decision == arb.Unload(("a",))  # 16 + 4 = 20 after unloading the bigger one: b stays


def test_a_busy_holder_is_named_before_a_bigger_idle_one():
    stuck = arb.AppView(name="big", envelope=arb.Envelope(0, 1, 20), observed_gib=None)
    streaming = ollama(observed_gib=4.0, loaded=True, busy=True, busy_since=NOW - 2, reserved_gib=4.0)
    decision = arb.decide(40.0, [stuck, streaming, sd()], arb.Request("stable-diffusion", 20.0, max_wait_s=60), NOW)
    assert decision == arb.Wait(
        holders=("ollama",), reason="ollama is busy with a job; 44.0 GiB would not fit the 40.0 GiB card"
    )


def test_of_two_idle_holders_the_bigger_is_named():
    small = arb.AppView(name="small", envelope=arb.Envelope(0, 1, 6), observed_gib=None)
    big = arb.AppView(name="big", envelope=arb.Envelope(0, 1, 9), observed_gib=None)
    decision = arb.decide(CARD, [small, big, sd()], arb.Request("stable-diffusion", 12.0, max_wait_s=60), NOW)
    assert decision == arb.Wait(
        holders=("big",),
        reason="big is holding VRAM it cannot give back now; 27.0 GiB would not fit the 24.0 GiB card",
    )


def test_a_wait_names_every_busy_holder():
    a = arb.AppView(name="a", envelope=arb.Envelope(0, 1, 8), observed_gib=8.0, busy=True, reserved_gib=8.0)
    b = arb.AppView(name="b", envelope=arb.Envelope(0, 1, 8), observed_gib=8.0, busy=True, reserved_gib=8.0)
    decision = arb.decide(CARD, [a, b, sd()], arb.Request("stable-diffusion", 12.0, max_wait_s=60), NOW)
    assert isinstance(decision, arb.Wait) and decision.holders == ("a", "b")


def test_a_holder_busy_with_work_from_outside_is_named_so():
    rendering = sd(observed_gib=9.0, loaded=True, busy=True, busy_since=NOW - 3, foreign_busy=True)
    decision = arb.decide(CARD, [ollama(), rendering], chat(waited=5, max_wait=5), NOW)
    assert decision == arb.Refuse(
        "the GPU is busy: stable-diffusion has held 12.0 GiB of the 24.0 GiB card for 3 s (busy with a job that did "
        "not come through the arbiter), and ollama needs 16.0 GiB; waited 5 s (limit 5 s). Try again when "
        "stable-diffusion is done.",
        holder="stable-diffusion",
        held_for_s=3.0,
    )


def test_a_refusal_without_a_known_holding_time_says_no_duration():
    unknown = sd(observed_gib=None)
    decision = arb.decide(CARD, [ollama(), unknown], chat(waited=1.5, max_wait=1.5), NOW)
    assert decision == arb.Refuse(
        "the GPU is busy: stable-diffusion has held 12.0 GiB of the 24.0 GiB card (holding VRAM it cannot give back "
        "now), and ollama needs 16.0 GiB; waited 2 s (limit 1.5 s). Try again when stable-diffusion is done.",
        holder="stable-diffusion",
        held_for_s=None,
    )


def test_a_request_waits_until_its_wait_is_used_up():
    streaming = ollama(observed_gib=16.0, loaded=True, busy=True, reserved_gib=16.0)
    assert isinstance(arb.decide(CARD, [streaming, sd()], image(waited=29.9, max_wait=30.0), NOW), arb.Wait)


def test_holding_time_counts_from_the_start_of_a_job_when_busy():
    app = ollama(busy=True, busy_since=NOW - 4, loaded_since=NOW - 60)
    assert arb._held_for(app, NOW) == 4.0


def test_holding_time_counts_from_the_load_when_idle_or_when_the_job_start_is_unknown():
    assert arb._held_for(ollama(busy=False, busy_since=NOW - 4, loaded_since=NOW - 60), NOW) == 60.0
    assert arb._held_for(ollama(busy=True, busy_since=None, loaded_since=NOW - 60), NOW) == 60.0


def test_holding_time_is_never_negative_and_unknown_without_a_start():
    assert arb._held_for(ollama(loaded_since=NOW + 5), NOW) == 0.0
    assert arb._held_for(ollama(), NOW) is None


def test_an_app_is_freeable_only_when_up_loaded_idle_and_unreserved():
    assert arb._freeable(ollama(loaded=True)) is True
    assert arb._freeable(ollama(loaded=True, reachable=False)) is False
    assert arb._freeable(ollama(loaded=False)) is False
    assert arb._freeable(ollama(loaded=True, busy=True)) is False
    assert arb._freeable(ollama(loaded=True, reserved_gib=0.5)) is False


def test_an_unloaded_app_keeps_its_idle_vram():
    assert arb._after_unload_gib(arb.AppView(name="x", envelope=arb.Envelope(1.5, 2, 3))) == 1.5


def test_a_direct_job_that_exactly_fills_the_card_is_no_overlap():
    direct = sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)
    assert arb.react(CARD, [ollama(observed_gib=12.0, loaded=True), direct]) == arb.Reaction()


def test_a_reaction_unloads_the_biggest_idle_app_first_and_only_as_many_as_needed():
    direct = sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)
    small = arb.AppView(name="small", envelope=arb.Envelope(0, 1, 3), observed_gib=3.0, loaded=True)
    big = ollama(observed_gib=10.0, loaded=True)
    assert arb.react(CARD, [small, big, direct]) == arb.Reaction(unload=("ollama",), overlap=True)


def test_a_reaction_unloads_several_idle_apps_when_one_is_not_enough():
    direct = sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)
    a = arb.AppView(name="a", envelope=arb.Envelope(0, 1, 8), observed_gib=8.0, loaded=True)
    b = arb.AppView(name="b", envelope=arb.Envelope(0, 1, 8), observed_gib=8.0, loaded=True)
    stuck = arb.AppView(name="stuck", envelope=arb.Envelope(0, 1, 6), observed_gib=None)
    assert arb.react(CARD, [a, b, stuck, direct]) == arb.Reaction(unload=("a", "b"), overlap=True)


def test_a_reaction_that_frees_enough_blocks_nothing():
    direct = sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)
    idle = arb.AppView(name="idle", envelope=arb.Envelope(0, 1, 10), observed_gib=10.0, loaded=True)
    busy = arb.AppView(name="busy", envelope=arb.Envelope(0, 1, 4), observed_gib=4.0, loaded=True, busy=True)
    assert arb.react(CARD, [idle, busy, direct]) == arb.Reaction(unload=("idle",), overlap=True, blocked=())


def test_a_busy_app_that_holds_only_its_idle_vram_does_not_block():
    direct = sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)
    busy_small = arb.AppView(name="s", envelope=arb.Envelope(2, 2, 2), observed_gib=2.0, busy=True)
    stuck = arb.AppView(name="stuck", envelope=arb.Envelope(0, 1, 16), observed_gib=None)
    assert arb.react(CARD, [busy_small, stuck, direct]) == arb.Reaction(overlap=True)


def test_a_keep_alive_exactly_at_the_cap_is_not_capped():
    assert arb.cap_keep_alive(300, 300.0) == (300, False)


def test_a_fractional_cap_is_forwarded_as_is():
    assert arb.cap_keep_alive("1h", 90.5) == (90.5, True)


def test_a_whole_cap_is_forwarded_as_an_integer():
    forwarded, capped = arb.cap_keep_alive("1h", 90.0)
    assert (forwarded, type(forwarded), capped) == (90, int, True)


@pytest.mark.parametrize("value", [True, None, [1], {"s": 1}])
def test_a_keep_alive_that_is_neither_number_nor_string_is_unreadable(value):
    assert arb.keep_alive_seconds(value) is None


def test_a_keep_alive_number_is_seconds_and_a_string_a_go_duration():
    assert (arb.keep_alive_seconds(90), arb.keep_alive_seconds(1.5), arb.keep_alive_seconds("2m")) == (90.0, 1.5, 120.0)
    assert arb.keep_alive_seconds(0) == 0.0
    assert arb.keep_alive_seconds("-0s") == 0.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("+5s", 5.0),
        (" 5m ", 300.0),
        ("-0", 0.0),
        (".5s", 0.5),
        ("1us", 1e-6),
        ("1µs", 1e-6),
        ("1μs", 1e-6),
        ("2ns", 2e-9),
    ],
)
def test_go_durations_take_signs_spaces_fractions_and_every_unit(text, seconds):
    assert arb.parse_go_duration(text) == pytest.approx(seconds, rel=1e-9)


@pytest.mark.parametrize("text", ["-", "+", "5s5", "s", "X5s"])
def test_a_sign_or_a_trailing_number_alone_is_no_duration(text):
    assert arb.parse_go_duration(text) is None


# A millionth of a GiB of tolerance (FIT_EPSILON_GIB) absorbs float rounding in the sums; the edges are exact.
EPS = arb.FIT_EPSILON_GIB


def test_a_request_within_the_tolerance_over_the_card_still_fits():
    assert arb.decide(CARD, [ollama(), sd()], chat(need=CARD + EPS), NOW) == arb.Admit()


def idle_app(name: str, gib: float, idle: float = 0.0) -> object:
    return arb.AppView(name=name, envelope=arb.Envelope(idle, idle, max(gib, idle)), observed_gib=gib, loaded=True)


def unknown_app(name: str, gib: float) -> object:
    """An app whose VRAM the arbiter cannot read: it claims its active_max and cannot be unloaded now."""
    return arb.AppView(name=name, envelope=arb.Envelope(0, 0, gib), observed_gib=None)


def test_an_unload_that_leaves_exactly_the_tolerance_over_the_card_is_enough():
    apps = [ollama(), idle_app("a", 4.0), unknown_app("s", 8.0)]
    decision = arb.decide(CARD, apps, chat(need=16 + EPS, max_wait=60), NOW)
    assert decision == arb.Unload(("a",))


def test_unloading_stops_at_exactly_the_tolerance_over_the_card():
    apps = [ollama(), idle_app("a", 4.0), idle_app("b", 2.0), unknown_app("s", 6.0)]
    decision = arb.decide(CARD, apps, chat(need=16 + EPS, max_wait=60), NOW)
    assert decision == arb.Unload(("a",))


def test_unloading_stops_once_the_request_exactly_fills_the_card():
    apps = [ollama(), idle_app("a", 4.0), idle_app("b", 2.0), unknown_app("s", 6.0)]
    assert arb.decide(CARD, apps, chat(need=16.0, max_wait=60), NOW) == arb.Unload(("a",))


def test_an_unload_frees_only_what_the_app_holds_over_its_idle_vram():
    # a holds 8 GiB and keeps 2 when unloaded: 12 + 8 + 11 = 31, minus 6 is 25: still too much.
    apps = [sd(), idle_app("a", 8.0, idle=2.0), unknown_app("s", 11.0)]
    decision = arb.decide(CARD, apps, arb.Request("stable-diffusion", 12.0, max_wait_s=60), NOW)
    assert isinstance(decision, arb.Wait)


def test_an_app_that_would_free_nothing_is_skipped_even_when_it_claims_the_most():
    apps = [sd(), idle_app("resident", 10.0, idle=10.0), idle_app("a", 8.0)]
    decision = arb.decide(CARD, apps, arb.Request("stable-diffusion", 12.0, max_wait_s=60), NOW)
    assert decision == arb.Unload(("a",))


def test_an_app_that_frees_a_single_gib_is_worth_unloading():
    apps = [sd(), idle_app("small", 1.0), unknown_app("s", 11.5)]
    decision = arb.decide(CARD, apps, arb.Request("stable-diffusion", 12.0, max_wait_s=60), NOW)
    assert decision == arb.Unload(("small",))


def foreign_job() -> object:
    return sd(observed_gib=9.0, loaded=True, busy=True, foreign_busy=True)


def test_a_reaction_stops_unloading_once_the_apps_exactly_fill_the_card():
    apps = [foreign_job(), idle_app("x", 8.0), idle_app("y", 4.0), unknown_app("stuck", 8.0)]
    assert arb.react(CARD, apps) == arb.Reaction(unload=("x",), overlap=True)


def test_a_reaction_that_exactly_fills_the_card_blocks_nothing():
    busy = arb.AppView(name="b", envelope=arb.Envelope(0, 1, 4), observed_gib=4.0, loaded=True, busy=True)
    apps = [foreign_job(), idle_app("x", 8.0), busy, unknown_app("stuck", 8.0)]
    assert arb.react(CARD, apps) == arb.Reaction(unload=("x",), overlap=True, blocked=())


def test_a_reaction_counts_only_what_an_unload_frees_over_the_idle_vram():
    # x holds 8 and keeps 2: 12 + 8 + 3 + 8 = 31, minus 6 is 25, so y goes too.
    apps = [foreign_job(), idle_app("x", 8.0, idle=2.0), idle_app("y", 3.0), unknown_app("stuck", 8.0)]
    assert arb.react(CARD, apps) == arb.Reaction(unload=("x", "y"), overlap=True)


def test_a_busy_app_at_its_idle_vram_is_not_named_as_the_holder():
    resident = arb.AppView(name="resident", envelope=arb.Envelope(10, 10, 10), observed_gib=10.0, busy=True)
    apps = [sd(), resident, unknown_app("stuck", 8.0)]
    decision = arb.decide(CARD, apps, arb.Request("stable-diffusion", 12.0, max_wait_s=60), NOW)
    assert isinstance(decision, arb.Wait) and decision.holders == ("stuck",)
