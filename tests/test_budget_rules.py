"""The VRAM budget's rules on plain data (GpuBudget): each verdict at its edges, with its exact message.

No cdk8s here: these are the arithmetic the synth refuses or warns with (tests/test_gpu_budget.py
checks that SharedGpu and the synth use it). Edges are pinned on both sides: an app that needs
exactly the card, and idle VRAM that exactly fills it, are accepted.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from homelab_ai.gpu.budget import (
    BudgetApp,
    GpuBudget,
    Severity,
    Verdict,
    budget_markdown,
    budget_rows,
    budget_text,
    gib,
)
from homelab_ai.gpu.vram import IdleUnload, VramEnvelope

UNLOAD = IdleUnload(mechanism="test unloader", timeout=timedelta(minutes=5))


def app(name: str, idle: float, low: float, high: float, *, unload: IdleUnload | None = UNLOAD, slices: int = 1):
    vram = VramEnvelope(idle_gib=idle, active_min_gib=low, active_max_gib=high)
    return BudgetApp(name=name, vram=vram, idle_unload=unload, slices=slices)


def card(*apps: BudgetApp, vram_gib: float = 24, replicas: int = 4, name: str = "Test GPU") -> GpuBudget:
    return GpuBudget(card=name, vram_gib=vram_gib, replicas=replicas, apps=apps)


# Max active VRAM against the card ------------------------------------------------------------------


def test_an_app_that_needs_exactly_the_card_is_accepted():
    assert card(app("exact", 0, 8, 24)).errors == []


def test_an_app_that_needs_a_quarter_gib_more_than_the_card_is_refused_with_the_overshoot():
    assert card(app("big", 0, 8, 24.25)).errors == [
        "big: max active VRAM 24.25 GiB exceeds the card 'Test GPU' (24 GiB) by 0.25 GiB, even with the card to "
        "itself. Fix: use a smaller or more quantized model and lower VramEnvelope.active_max_gib to at most 24, "
        "or give it a bigger card"
    ]


# Idle VRAM of all apps against the card -----------------------------------------------------------


def test_idle_vram_that_exactly_fills_the_card_is_accepted():
    budget = card(app("a", 14, 14, 14), app("b", 10, 10, 10))
    assert budget.total_idle_gib == 24
    assert budget.errors == []


def test_idle_vram_a_quarter_gib_over_the_card_is_refused_with_the_sum():
    budget = card(app("a", 14, 14, 14), app("b", 10.25, 10.25, 10.25))
    assert budget.errors == [
        "idle VRAM of all apps together exceeds 'Test GPU' (24 GiB): a 14 + b 10.25 = 24.25 GiB, 0.25 GiB over, "
        "before any app does any work. Fix: make the apps unload their models when idle (lower idle_gib) or move "
        "one to another SharedGpu"
    ]


# Slices ------------------------------------------------------------------------------------------


def test_as_many_apps_as_slices_is_accepted():
    assert card(app("a", 0, 1, 2), app("b", 0, 1, 2), replicas=2).errors == []


def test_one_app_more_than_slices_is_refused_naming_every_app_and_the_pending_pods():
    budget = card(app("a", 0, 1, 2), app("b", 0, 1, 2), app("c", 0, 1, 2), replicas=2)
    assert budget.slices_used == 3
    assert budget.errors == [
        "3 GPU apps (a, b, c) share 'Test GPU' (24 GiB) but its time-slicing makes only 2 slice(s) "
        "(SharedGpuProps.replicas=2): 1 pod(s) would stay Pending. Fix: raise SharedGpuProps.replicas to at "
        "least 3 or move an app to another SharedGpu"
    ]


def test_an_app_asking_for_two_slices_is_refused():
    assert card(app("greedy", 0, 4, 8, slices=2)).errors == [
        "greedy asks for 2 slices of 'Test GPU' (24 GiB); time-slicing makes 4 slices of the same whole card, so "
        "a second slice adds no VRAM and no compute. Fix: use gpu_count=1"
    ]


# Idle-unload policy ------------------------------------------------------------------------------


def test_a_shared_app_without_an_unload_policy_is_refused_with_the_numbers():
    budget = card(app("good", 0, 4, 8), app("forgetful", 1, 4, 8, unload=None), app("other", 0, 1, 2))
    assert budget.errors == [
        "forgetful shares 'Test GPU' (24 GiB) with good, other but has no idle-unload policy: its idle 1 GiB is "
        "a promise nothing keeps, it holds up to 8 GiB until restarted. Fix: give it "
        "GpuTimeSlicedAppProps.idle_unload=IdleUnload(mechanism=..., timeout=...), or if it never frees VRAM "
        "declare idle_gib = active_max_gib = 8"
    ]


def test_an_app_that_admits_it_holds_its_max_when_idle_needs_no_unload_policy():
    assert card(app("good", 0, 4, 8), app("resident", 2, 2, 2, unload=None)).errors == []


def test_an_app_alone_on_its_card_needs_no_unload_policy():
    budget = card(app("alone", 0, 4, 8, unload=None))
    assert budget.shared is False
    assert budget.verdicts() == []


# Over-booking (a warning) ------------------------------------------------------------------------


def test_max_active_that_exactly_fills_the_card_is_not_over_booked():
    assert card(app("a", 0, 8, 12), app("b", 0, 8, 12)).warnings == []


def test_over_booking_warns_with_the_sum_and_who_must_not_be_busy_together():
    budget = card(app("ollama", 0, 8, 16), app("stable-diffusion", 0, 8, 12))
    assert budget.errors == []
    assert budget.warnings == [
        "VRAM over-booked on 'Test GPU' (24 GiB): at max active, ollama 16 + stable-diffusion 12 = 28 GiB on a "
        "24 GiB card, 4 GiB over. Must not be busy at max together: ollama + stable-diffusion. Time-slicing has no "
        "memory isolation, so the last to load runs out of memory (and may take the others down); keep their "
        "heavy jobs apart, or lower active_max_gib (smaller models) until the sum fits"
    ]


def test_an_app_alone_on_a_card_too_small_is_refused_not_warned_as_over_booked():
    budget = card(app("big", 0, 8, 30, unload=None))
    assert budget.warnings == []
    assert len(budget.errors) == 1


def test_verdicts_list_errors_before_warnings():
    budget = card(app("a", 0, 8, 16), app("b", 0, 8, 12, slices=2))
    assert [v.severity for v in budget.verdicts()] == [Severity.ERROR, Severity.WARNING]
    assert budget.verdicts()[0] == Verdict(Severity.ERROR, budget.errors[0])


def _names(groups) -> list[list[str]]:
    return [[a.name for a in group] for group in groups]


def test_busy_together_lists_only_the_smallest_overflowing_groups():
    budget = card(app("llm", 0, 1, 16), app("sd", 0, 1, 12), app("stt", 0, 1, 4))
    assert _names(budget.busy_together()) == [["llm", "sd"]]


def test_busy_together_needs_all_three_when_any_two_fit():
    budget = card(app("a", 0, 1, 10), app("b", 0, 1, 10), app("c", 0, 1, 10))
    assert _names(budget.busy_together()) == [["a", "b", "c"]]


def test_busy_together_counts_the_idle_apps_vram():
    budget = card(app("a", 0, 1, 20), app("b", 6, 6, 6))
    assert _names(budget.busy_together()) == [["a"]]  # a at max plus b's resident 6 GiB is 26


def test_busy_together_accepts_a_group_that_exactly_fills_the_card():
    assert card(app("a", 0, 1, 18), app("b", 6, 6, 6)).busy_together() == []  # 18 + 6 = 24


def test_busy_together_lists_every_smallest_group_in_order():
    budget = card(app("a", 0, 1, 13), app("b", 0, 1, 12), app("c", 0, 1, 12.5))
    assert _names(budget.busy_together()) == [["a", "b"], ["a", "c"], ["b", "c"]]
    assert "Must not be busy at max together: a + b; a + c; b + c. Time-slicing" in budget.warnings[0]
    assert _names(card(app("a", 0, 1, 13), app("b", 0, 1, 12), app("c", 0, 1, 12)).busy_together()) == [
        ["a", "b"],
        ["a", "c"],
    ]  # b + c = 24 fits


def test_past_sixteen_apps_busy_together_names_all_of_them_at_once():
    apps = [app(f"app-{i}", 0, 1, 2) for i in range(17)]
    assert _names(card(*apps, replicas=17).busy_together()) == [[a.name for a in apps]]  # 34 GiB > 24
    small = [app(f"app-{i}", 0, 1, 1) for i in range(17)]
    assert card(*small, replicas=17).busy_together() == []  # 17 GiB fits


def test_sixteen_apps_are_still_enumerated():
    apps = [app(f"app-{i}", 0, 0.5, 0.5) for i in range(14)] + [app("big", 0, 1, 13), app("huge", 0, 1, 13)]
    assert _names(card(*apps, replicas=16).busy_together()) == [["big", "huge"]]


def test_when_idle_vram_alone_overflows_every_single_app_is_a_group():
    budget = card(app("a", 14, 14, 14), app("b", 12, 12, 12))
    assert _names(budget.busy_together()) == [["a"], ["b"]]
    assert "Must not be busy at max together: a; b. Time-slicing" in budget.warnings[0]


# Known cards -------------------------------------------------------------------------------------


def test_a_known_card_with_a_mistyped_vram_warns_with_the_real_size():
    budget = card(app("a", 0, 4, 8), name="NVIDIA GeForce RTX 4090", vram_gib=32)
    assert budget.warnings == [
        "card 'NVIDIA GeForce RTX 4090' has 24 GiB of VRAM (NVIDIA GeForce RTX 4090), but SharedGpuProps.vram_gib "
        "says 32 GiB: a mistyped VRAM defeats the budget. Fix: set vram_gib=24, or name the card exactly if it is "
        "another model"
    ]


def test_a_known_card_with_its_real_vram_does_not_warn():
    assert card(app("a", 0, 4, 8), name="nvidia  geforce RTX 3090").warnings == []


# The table ---------------------------------------------------------------------------------------


def test_totals_add_every_app():
    budget = card(app("a", 1, 2, 3), app("b", 0.5, 4, 8))
    assert (budget.total_idle_gib, budget.total_active_min_gib, budget.total_active_max_gib) == (1.5, 6, 11)


@pytest.mark.parametrize(("value", "text"), [(16, "16"), (12.5, "12.5"), (0, "0"), (0.25, "0.25")])
def test_gib_prints_numbers_as_given(value, text):
    assert gib(value) == text


def test_rows_have_each_app_then_the_total_then_the_card():
    rows = budget_rows(card(app("a", 0.5, 2.5, 7.5), app("b", 0, 1, 2, unload=None), replicas=3))
    assert [(r.app, r.idle, r.active, r.unload) for r in rows] == [
        ("a", "0.5 GiB", "2.5-7.5 GiB", "test unloader, after 5m idle"),
        ("b", "0 GiB", "1-2 GiB", "none"),
        ("total", "0.5 GiB", "3.5-9.5 GiB", ""),
        ("card: Test GPU", "24 GiB", "24 GiB", "2 of 3 time-slicing slices used"),
    ]


def test_markdown_has_the_table_then_the_verdicts():
    markdown = budget_markdown(card(app("ollama", 0, 8, 16), app("sd", 0, 8, 12)))
    lines = markdown.splitlines()
    assert lines[:6] == [
        "| App | Idle | Active | Unloads when idle |",
        "|---|---|---|---|",
        "| ollama | 0 GiB | 8-16 GiB | test unloader, after 5m idle |",
        "| sd | 0 GiB | 8-12 GiB | test unloader, after 5m idle |",
        "| **total** | 0 GiB | 16-28 GiB |  |",
        "| **card: Test GPU** | 24 GiB | 24 GiB | 2 of 4 time-slicing slices used |",
    ]
    assert lines[6] == ""
    assert lines[7].startswith("- **Warning**: VRAM over-booked on 'Test GPU' (24 GiB)")
    assert markdown.endswith("\n")
    assert len(lines) == 8


class _Card:
    """Anything with a budget() (a SharedGpu) can be printed."""

    def budget(self) -> GpuBudget:
        return card(app("a", 0, 2, 4))


def test_the_table_takes_anything_with_a_budget():
    assert [r.app for r in budget_rows(_Card())] == ["a", "total", "card: Test GPU"]
    assert budget_text(_Card()).startswith("GPU Test GPU: 24 GiB VRAM")
    assert budget_markdown(_Card()).startswith("| App | Idle |")


def test_markdown_says_ok_in_bold_when_everything_fits():
    assert budget_markdown(card(app("a", 0, 2, 4))).splitlines()[-1] == (
        "- **OK**: fits: every app's max active fits the card at the same time"
    )


def test_markdown_labels_errors():
    lines = budget_markdown(card(app("big", 0, 8, 30))).splitlines()
    assert lines[-1].startswith("- **Error**: big: max active VRAM 30 GiB exceeds")


def test_text_is_an_aligned_table_with_the_verdicts():
    text = budget_text(card(app("ollama", 0, 8, 16), app("sd", 0, 8, 12)))
    lines = text.splitlines()
    assert lines[:7] == [
        "GPU Test GPU: 24 GiB VRAM, 4 time-slicing slices",
        "",
        "App             Idle    Active     Unloads when idle",
        "ollama          0 GiB   8-16 GiB   test unloader, after 5m idle",
        "sd              0 GiB   8-12 GiB   test unloader, after 5m idle",
        "total           0 GiB   16-28 GiB",
        "card: Test GPU  24 GiB  24 GiB     2 of 4 time-slicing slices used",
    ]
    assert lines[7] == ""
    assert lines[8].startswith("warning: VRAM over-booked on 'Test GPU'")
    assert text.endswith("\n")


def test_text_says_ok_when_everything_fits():
    assert budget_text(card(app("a", 0, 2, 4))).splitlines()[-1] == (
        "ok: fits: every app's max active fits the card at the same time"
    )


def test_text_labels_errors():
    assert budget_text(card(app("big", 0, 8, 30))).splitlines()[-1].startswith("error: big: max active VRAM 30 GiB")


# With a VRAM arbiter ---------------------------------------------------------------------------


def arbitrated(*apps: BudgetApp, names: tuple[str, ...] | None = None, vram_gib: float = 24) -> GpuBudget:
    return GpuBudget(
        card="Test GPU",
        vram_gib=vram_gib,
        replicas=4,
        apps=apps,
        arbiter="vram-arbiter",
        arbitrated=names if names is not None else {a.name for a in apps},
    )


def test_an_over_booking_the_arbiter_serializes_is_a_note_not_a_warning():
    budget = arbitrated(app("ollama", 0, 8, 16), app("sd", 0, 8, 12))
    assert [[a.name for a in group] for group in budget.serialized_groups()] == [["ollama", "sd"]]
    assert budget.warnings == []
    assert [(v.severity, v.message) for v in budget.verdicts()] == [
        (
            Severity.NOTE,
            "VRAM over-booked on 'Test GPU' (24 GiB): at max active, ollama 16 + sd 12 = 28 GiB on a 24 GiB card, "
            "and the VRAM arbiter 'vram-arbiter' serializes ollama + sd: a request that would not fit first unloads "
            "idle apps, then waits for the busy one (and is refused with the holder's name when the wait runs out), "
            "never running the card out of memory. Work that bypasses the arbiter (e.g. the Stable Diffusion web "
            "page) is seen only once it runs: the arbiter then unloads the idle models and counts the overlap",
        )
    ]


def test_a_group_with_an_app_the_arbiter_does_not_admit_stays_a_warning():
    budget = arbitrated(app("ollama", 0, 8, 16), app("sd", 0, 8, 12), names=("ollama",))
    assert budget.serialized_groups() == []
    assert [v.severity for v in budget.verdicts()] == [Severity.WARNING]


def test_an_app_too_big_alone_is_never_serialized():
    budget = arbitrated(app("huge", 0, 8, 30), app("sd", 0, 1, 2))
    assert budget.serialized_groups() == []
    assert [v.severity for v in budget.verdicts()] == [Severity.ERROR, Severity.WARNING]


def test_without_an_arbiter_nothing_is_serialized_and_nothing_is_a_note():
    budget = card(app("ollama", 0, 8, 16), app("sd", 0, 8, 12))
    assert budget.serialized_groups() == []
    assert [v.severity for v in budget.verdicts()] == [Severity.WARNING]


def test_a_budget_that_fits_has_no_note_even_with_an_arbiter():
    assert arbitrated(app("a", 0, 8, 12), app("b", 0, 8, 12)).verdicts() == []


def test_a_note_lists_each_serialized_group():
    budget = arbitrated(app("a", 0, 1, 13), app("b", 0, 1, 12), app("c", 0, 1, 12.5))
    assert "serializes a + b; a + c; b + c: a request" in budget.verdicts()[0].message


def test_an_arbitrated_card_filled_exactly_at_max_is_neither_warned_nor_noted():
    budget = arbitrated(app("a", 0, 1, 12), app("b", 0, 1, 12))
    assert budget.verdicts() == []
