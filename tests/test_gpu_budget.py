"""The shared GPU's VRAM budget as the synth enforces it (the rules on plain data: tests/test_budget_rules.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import attrs
import cdk8s
import pytest
import yaml

from homelab_ai import (
    GpuTimeSlicedApp,
    GpuTimeSlicedAppProps,
    HomelabConfigError,
    IdleUnload,
    SharedGpu,
    SharedGpuProps,
    SynthError,
    VramEnvelope,
)
from homelab_ai.gpu.budget import budget_markdown, budget_rows, budget_text
from homelab_ai.gpu.cards import KNOWN_CARDS, known_card
from homelab_ai.synth.dist import collect_problems, collect_warnings, render, synthesize
from tests.factories import app_props, charts, vram

UNLOAD = IdleUnload(mechanism="test unloader", timeout=timedelta(minutes=5))


def _card(replicas: int = 4, vram_gib: float = 24, card: str = "Test GPU") -> tuple[cdk8s.App, SharedGpu, cdk8s.Chart]:
    app, infra, ai = charts()
    return app, SharedGpu(infra, "Gpu", SharedGpuProps(card=card, vram_gib=vram_gib, replicas=replicas)), ai


def _add(ai: cdk8s.Chart, gpu: SharedGpu, name: str, envelope: VramEnvelope, unload: IdleUnload | None = UNLOAD):
    return GpuTimeSlicedApp(
        ai, name, GpuTimeSlicedAppProps(app=app_props(name), gpu=gpu, vram=envelope, idle_unload=unload)
    )


@attrs.frozen
class Built:
    """A chart built once for the tests that only read it, with what the synth says about it."""

    app: cdk8s.App
    gpu: SharedGpu
    problems: tuple[str, ...]
    warnings: tuple[str, ...]


def _built(app: cdk8s.App, gpu: SharedGpu) -> Built:
    return Built(app, gpu, tuple(collect_problems(app)), tuple(collect_warnings(app)))


@pytest.fixture(scope="module")
def over_sliced() -> Callable[[int], Built]:
    """One more app (a, b, ...; 0-1-2 GiB each) than ``replicas`` slices, built once per slice count."""
    cache: dict[int, Built] = {}

    def build(replicas: int) -> Built:
        if replicas not in cache:
            app, gpu, ai = _card(replicas=replicas)
            for name in "abcd"[: replicas + 1]:
                _add(ai, gpu, name, vram(0, 1, 2))
            cache[replicas] = _built(app, gpu)
        return cache[replicas]

    return build


def _built_on_one_card(apps: dict[str, VramEnvelope]) -> Built:
    """``apps`` (name: envelope), each with the test unloader, on the default 24 GiB card."""
    app, gpu, ai = _card()
    for name, envelope in apps.items():
        _add(ai, gpu, name, envelope)
    return _built(app, gpu)


@pytest.fixture(scope="module")
def over_booked() -> Built:
    """ollama 0-8-16 GiB and stable-diffusion 0-8-12 GiB on a 24 GiB card: 28 GiB at max active."""
    return _built_on_one_card({"ollama": vram(0, 8, 16), "stable-diffusion": vram(0, 8, 12)})


@pytest.fixture(scope="module")
def fits() -> Built:
    """a and b at 0-8-12 GiB on a 24 GiB card: 24 GiB at max active, fits."""
    return _built_on_one_card({"a": vram(0, 8, 12), "b": vram(0, 8, 12)})


# The spec's chart ---------------------------------------------------------------------------------


@pytest.mark.stack
def test_spec_chart_synthesizes_without_a_budget_warning_because_its_arbiter_serializes_the_pair():
    from apps.homelab import build, stack

    app, _ = build()
    assert collect_problems(app) == []
    warnings = collect_warnings(app)
    # Only the out-of-the-box demo-key notice (gone once you use your own key).
    assert all(w.startswith("SopsSecret") and "DEMO age key" in w for w in warnings)
    [note] = [v.message for v in stack().gpu.budget().verdicts() if v.severity.value == "note"]
    assert "ollama 16 + stable-diffusion 12 = 28 GiB on a 24 GiB card" in note
    assert "the VRAM arbiter 'vram-arbiter' serializes ollama + stable-diffusion" in note


@pytest.mark.stack
def test_spec_chart_budget_table_rows():
    from apps.homelab import stack

    rows = {r.app: r for r in budget_rows(stack().gpu)}
    assert (rows["ollama"].idle, rows["ollama"].active) == ("0 GiB", "8-16 GiB")
    assert (rows["stable-diffusion"].idle, rows["stable-diffusion"].active) == ("0 GiB", "8-12 GiB")
    assert rows["ollama"].unload == "OLLAMA_KEEP_ALIVE (Ollama unloads the model), after 5m idle"
    assert rows["stable-diffusion"].unload.startswith("sd-idle-unloader sidecar")
    assert (rows["total"].idle, rows["total"].active) == ("0 GiB", "16-28 GiB")
    assert rows["card: NVIDIA RTX 4000 SFF"].unload == "2 of 4 time-slicing slices used"


# Errors -------------------------------------------------------------------------------------------


def test_more_gpu_apps_than_slices_is_refused_with_both_numbers(over_sliced):
    problems = over_sliced(2).problems
    assert len(problems) == 1
    assert "3 GPU apps (a, b, c) share 'Test GPU' (24 GiB) but its time-slicing makes only 2 slice(s)" in problems[0]
    assert "raise SharedGpuProps.replicas to at least 3" in problems[0]


@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_configmap_replicas_and_the_slice_check_use_the_same_number(over_sliced, replicas):
    built = over_sliced(replicas)
    # The chart refuses to render (that is the point), so read the ConfigMap object as it would be written.
    config_map = cdk8s.ApiObject.of(built.gpu.config_map).to_json()
    config = yaml.safe_load(config_map["data"]["any"])
    assert config["sharing"]["timeSlicing"]["resources"][0]["replicas"] == replicas
    assert f"only {replicas} slice(s) (SharedGpuProps.replicas={replicas})" in " ".join(built.problems)


def test_app_whose_max_active_exceeds_the_card_is_refused():
    app, gpu, ai = _card(vram_gib=12)
    _add(ai, gpu, "big", vram(0, 8, 16))
    assert collect_problems(app) == [
        "GPU budget: big: max active VRAM 16 GiB exceeds the card 'Test GPU' (12 GiB) by 4 GiB, even with the "
        "card to itself. Fix: use a smaller or more quantized model and lower VramEnvelope.active_max_gib to at "
        "most 12, or give it a bigger card"
    ]


def test_idle_vram_of_all_apps_above_the_card_is_refused():
    app, gpu, ai = _card(vram_gib=16)
    _add(ai, gpu, "a", vram(10, 10, 12))
    _add(ai, gpu, "b", vram(8, 8, 8))
    problems = collect_problems(app)
    assert len(problems) == 1
    assert "idle VRAM of all apps together exceeds 'Test GPU' (16 GiB): a 10 + b 8 = 18 GiB, 2 GiB over" in problems[0]


def test_asking_for_two_slices_is_refused_with_the_card_and_its_slices():
    _, gpu, _ = _card(replicas=4)
    with pytest.raises(HomelabConfigError, match=r"gpu_count: asks for 2 slices of 'Test GPU', whose time-slicing"):
        GpuTimeSlicedAppProps(app=app_props(), gpu=gpu, vram=vram(), gpu_count=2)


def test_shared_card_app_without_idle_unloading_is_refused():
    app, gpu, ai = _card()
    _add(ai, gpu, "good", vram(0, 4, 8))
    _add(ai, gpu, "forgetful", vram(0, 4, 8), unload=None)
    problems = collect_problems(app)
    assert len(problems) == 1
    assert "forgetful shares 'Test GPU' (24 GiB) with good but has no idle-unload policy" in problems[0]
    assert "declare idle_gib = active_max_gib = 8" in problems[0]


def test_app_that_admits_it_never_frees_vram_needs_no_unload_policy():
    app, gpu, ai = _card()
    _add(ai, gpu, "good", vram(0, 4, 8))
    _add(ai, gpu, "resident", vram(2, 2, 2), unload=None)
    assert collect_problems(app) == []


def test_an_app_alone_on_its_card_needs_no_unload_policy():
    app, gpu, ai = _card()
    _add(ai, gpu, "alone", vram(0, 4, 8), unload=None)
    assert collect_problems(app) == []
    assert collect_warnings(app) == []


def test_error_verdicts_refuse_the_synth_and_write_nothing(over_sliced, tmp_path):
    def build():
        return over_sliced(1).app, {"infrastructure": "infrastructure", "ai": "ai"}

    with pytest.raises(SynthError, match="only 1 slice"):
        synthesize(build, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# Warnings -----------------------------------------------------------------------------------------


def test_over_booking_is_a_warning_that_still_renders(over_booked):
    assert render(over_booked.app, {"infrastructure": "infra", "ai": "ai"})
    assert list(over_booked.warnings) == [
        "GPU budget: VRAM over-booked on 'Test GPU' (24 GiB): at max active, ollama 16 + stable-diffusion 12 = "
        "28 GiB on a 24 GiB card, 4 GiB over. Must not be busy at max together: ollama + stable-diffusion. "
        "Time-slicing has no memory isolation, so the last to load runs out of memory (and may take the others "
        "down); keep their heavy jobs apart, or lower active_max_gib (smaller models) until the sum fits"
    ]


def test_strict_synth_refuses_over_booking(over_booked, tmp_path):
    def build():
        return over_booked.app, {"infrastructure": "infrastructure", "ai": "ai"}

    with pytest.raises(SynthError, match=r"\(strict\) GPU budget: VRAM over-booked"):
        synthesize(build, tmp_path / "out", strict=True)
    assert not (tmp_path / "out").exists()


def test_a_budget_that_fits_has_no_verdicts(fits):
    assert fits.problems == ()
    assert fits.warnings == ()


def test_known_card_with_a_different_vram_warns():
    app, gpu, ai = _card(card="NVIDIA GeForce RTX 4090", vram_gib=32)
    _add(ai, gpu, "a", vram(0, 4, 8))
    assert collect_warnings(app) == [
        "GPU budget: card 'NVIDIA GeForce RTX 4090' has 24 GiB of VRAM (NVIDIA GeForce RTX 4090), but "
        "SharedGpuProps.vram_gib says 32 GiB: a mistyped VRAM defeats the budget. Fix: set vram_gib=24, or "
        "name the card exactly if it is another model"
    ]


def test_known_card_with_its_real_vram_does_not_warn():
    app, gpu, ai = _card(card="nvidia  geforce RTX 3090", vram_gib=24)
    _add(ai, gpu, "a", vram(0, 4, 8))
    assert collect_warnings(app) == []


def test_card_names_match_exactly_apart_from_case_and_whitespace():
    assert known_card("  NVIDIA rtx 4000 sff ADA generation ").vram_gib == 20
    assert known_card("Tesla T4").vram_gib == 16
    assert known_card("NVIDIA RTX 4000 SFF") is None  # the spec's name: no guessing which card it is
    assert known_card("NVIDIA GeForce RTX 3060") is None  # sold with 8 and 12 GB


def test_known_card_names_are_unique():
    names = [n.casefold() for card in KNOWN_CARDS for n in (card.name, *card.aliases)]
    assert len(names) == len(set(names))


# The table ----------------------------------------------------------------------------------------


def test_markdown_table_has_every_app_totals_and_verdicts(over_booked):
    markdown = budget_markdown(over_booked.gpu)
    lines = markdown.splitlines()
    assert lines[0] == "| App | Idle | Active | Unloads when idle |"
    assert "| ollama | 0 GiB | 8-16 GiB | test unloader, after 5m idle |" in lines
    assert "| **total** | 0 GiB | 16-28 GiB |  |" in lines
    assert [line for line in lines if line.startswith("- **Warning**: VRAM over-booked")]


def test_text_table_says_ok_when_everything_fits(fits):
    text = budget_text(fits.gpu)
    assert text.startswith("GPU Test GPU: 24 GiB VRAM, 4 time-slicing slices\n")
    assert "ok: fits" in text
