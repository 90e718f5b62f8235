"""The committed dist/ turns only knobs that its apps' contracts list, each row cites its upstream source.

The contracts (homelab_ai/services/*/contract.py, homelab_ai/gpu/device_plugin_contract.py) say,
per pinned release, which env vars, flags, API paths, ports, users and writable paths the chart
relies on and where upstream defines each one. A knob in dist/ that no row names was never checked
against the pinned release: these tests refuse it.
"""

from __future__ import annotations

import copy
import re

import pytest

from homelab_ai.base.contract import KnobKind
from homelab_ai.gpu.device_plugin_contract import DEVICE_PLUGIN_CONTRACT
from homelab_ai.services.contract import CONTRACTS, contract_for_image
from homelab_ai.services.in_pod_contract import IN_POD_CONTRACT, REPO
from homelab_ai.services.ollama.contract import OLLAMA_CONTRACT
from homelab_ai.services.stable_diffusion.contract import SD_CONTRACT
from tests.contract_checks import (
    REPO_ROOT,
    called_paths,
    chart_value_problems,
    container_problems,
    containers,
    dist_objects,
    pin_problems,
    source_problems,
)

CONTAINER_KINDS = [
    KnobKind.ENV,
    KnobKind.FLAG,
    KnobKind.API_PATH,
    KnobKind.PORT,
    KnobKind.USER,
    KnobKind.WRITABLE_PATH,
]


@pytest.fixture(scope="module")
def dist():
    return dist_objects()


def test_every_container_in_dist_runs_an_image_with_a_contract(dist):
    images = sorted({c["image"] for _, _, c in containers(dist)})
    assert images, "dist/ has no containers"
    assert [i for i in images if contract_for_image(i) is None] == []


def test_every_container_runs_exactly_its_contracts_pin(dist):
    assert pin_problems(dist) == []


@pytest.mark.parametrize("kind", CONTAINER_KINDS, ids=lambda k: k.name.lower())
def test_every_knob_of_this_kind_that_dist_sets_is_in_its_apps_contract(dist, kind):
    assert container_problems(dist, kind) == []


def test_an_env_var_the_contract_lacks_is_refused(dist):
    doctored = copy.deepcopy(dist)
    ollama = next(o for o in doctored if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "ollama")
    ollama["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "OLLAMA_FLASH_ATTENTION", "value": "1"})
    assert container_problems(doctored, KnobKind.ENV) == [
        "StatefulSet/ollama container ollama: env var 'OLLAMA_FLASH_ATTENTION' is not in the Ollama 0.32.15 contract"
    ]


def test_a_flag_and_a_probe_path_the_contract_lacks_are_refused(dist):
    doctored = copy.deepcopy(dist)
    sd = next(o for o in doctored if o["kind"] == "Deployment" and o["metadata"]["name"] == "stable-diffusion")
    web_ui = sd["spec"]["template"]["spec"]["containers"][0]
    web_ui["args"].append("--medvram")
    web_ui["readinessProbe"]["httpGet"]["path"] = "/sdapi/v1/cmd-flags"
    where = "Deployment/stable-diffusion container stable-diffusion"
    assert container_problems(doctored, KnobKind.FLAG) == [
        f"{where}: CLI flag '--medvram' is not in the AUTOMATIC1111 (Stable Diffusion web UI) v1.10.1 contract"
    ]
    assert container_problems(doctored, KnobKind.API_PATH) == [
        f"{where}: API path 'GET /sdapi/v1/cmd-flags' is not in the AUTOMATIC1111 (Stable Diffusion web UI) v1.10.1 "
        "contract"
    ]


def test_the_device_plugins_values_and_time_slicing_keys_are_in_the_chart_contract(dist):
    assert chart_value_problems(dist, DEVICE_PLUGIN_CONTRACT) == []


def test_the_device_plugin_release_installs_the_contracts_chart_version(dist):
    release = next(o for o in dist if o["kind"] == "HelmRelease" and o["metadata"]["name"] == "nvidia-device-plugin")
    assert release["spec"]["chart"]["spec"]["version"] == DEVICE_PLUGIN_CONTRACT.version == "0.20.0"


@pytest.mark.parametrize(
    ("script", "prefixes", "contract"),
    [
        ("homelab_ai/services/ollama/ollama_pull.py", ("/api/",), OLLAMA_CONTRACT),
        ("homelab_ai/services/stable_diffusion/sd_idle_unloader.py", ("/sdapi/", "/internal/"), SD_CONTRACT),
        ("homelab_ai/services/vram_arbiter/vram_arbiter.py", ("/api/",), OLLAMA_CONTRACT),
        ("homelab_ai/services/vram_arbiter/vram_arbiter.py", ("/sdapi/", "/internal/"), SD_CONTRACT),
    ],
    ids=["ollama_pull", "sd_idle_unloader", "vram_arbiter_to_ollama", "vram_arbiter_to_sd"],
)
def test_every_api_path_an_in_pod_program_calls_is_in_the_contract_of_the_app_it_calls(script, prefixes, contract):
    calls = called_paths(REPO_ROOT / script, prefixes)
    assert calls, f"{script} names no API path"
    listed = {name.split(" ", 1)[1] for name in contract.named(KnobKind.API_PATH)}
    assert sorted(calls - listed) == []


def test_every_contract_row_names_its_upstream_repository_file_and_tag():
    assert source_problems() == []


def test_a_row_without_a_source_is_refused(monkeypatch):
    import attrs

    from homelab_ai.services import contract as registry

    broken = attrs.evolve(OLLAMA_CONTRACT, knobs=[attrs.evolve(OLLAMA_CONTRACT.knobs[0], source=None)])
    monkeypatch.setattr("tests.contract_checks.CONTRACTS", (broken, *registry.CONTRACTS[1:]))
    assert source_problems() == ["Ollama: env var 'OLLAMA_HOST' has no upstream source"]


@pytest.mark.parametrize(
    "knob",
    [k for k in IN_POD_CONTRACT.knobs if k.source.repo == REPO and k.kind in (KnobKind.ENV, KnobKind.FLAG)],
    ids=lambda k: k.name,
)
def test_our_own_programs_read_the_env_vars_and_flags_their_rows_name(knob):
    assert knob.name in (REPO_ROOT / knob.source.path).read_text()


def test_every_pin_is_a_release_tag_or_a_digest_unless_its_gap_is_declared():
    version_tag = re.compile(r"^v?\d+\.\d+(\.\d+)?([.-][A-Za-z0-9.]+)*$")
    floating = [
        c.app
        for c in CONTRACTS
        if c.image is not None and c.image.digest is None and not version_tag.match(c.image.tag) and not c.pin_gap
    ]
    assert floating == []


def test_the_only_declared_pin_gap_is_the_automatic1111_image_which_has_no_version_tags():
    assert [c.app for c in CONTRACTS if c.pin_gap] == [SD_CONTRACT.app]
    assert SD_CONTRACT.image.reference == "universonic/stable-diffusion-webui:full"


def test_ollama_context_length_is_pinned_because_its_default_now_grows_with_the_cards_vram(dist):
    knob = OLLAMA_CONTRACT.knob(KnobKind.ENV, "OLLAMA_CONTEXT_LENGTH")
    assert "32k from 23 GiB" in knob.changed
    ollama = next(o for o in dist if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "ollama")
    env = {e["name"]: e.get("value") for e in ollama["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["OLLAMA_CONTEXT_LENGTH"] == "4096"
