"""GpuTimeSlicedApp: exactly one slice, the runtime class, the toleration, the VRAM envelope."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from homelab_ai import (
    GpuTimeSlicedApp,
    GpuTimeSlicedAppProps,
    HomelabConfigError,
    SharedGpu,
    SharedGpuProps,
    VramEnvelope,
    WorkloadKind,
)
from tests.factories import app_props, charts, gpu, vram
from tests.helpers import container, synth


def _gpu_app(kind: WorkloadKind = WorkloadKind.DEPLOYMENT, **overrides) -> dict:
    app, infra, ai = charts()
    card = gpu(infra)
    GpuTimeSlicedApp(ai, "G", GpuTimeSlicedAppProps(app=app_props(kind=kind), gpu=card, vram=vram(), **overrides))
    return synth(app)[(kind.value, "demo")]


@pytest.fixture(scope="module")
def _default_gpu_apps() -> dict[WorkloadKind, dict]:
    """The workload of a GpuTimeSlicedApp with the factory's props, per kind, built on first use."""
    return {}


@pytest.fixture
def default_gpu_app(_default_gpu_apps) -> Callable[[WorkloadKind], dict]:
    """Each test gets its own copy of the module's build (the tests only read it)."""

    def get(kind: WorkloadKind = WorkloadKind.DEPLOYMENT) -> dict:
        if kind not in _default_gpu_apps:
            _default_gpu_apps[kind] = _gpu_app(kind)
        return copy.deepcopy(_default_gpu_apps[kind])

    return get


@pytest.mark.parametrize("kind", list(WorkloadKind))
def test_gpu_limit_and_request_reach_yaml_as_integer_one(default_gpu_app, kind):
    resources = container(default_gpu_app(kind))["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == 1
    assert resources["requests"]["nvidia.com/gpu"] == 1
    assert resources["limits"]["memory"] == "2048Mi"  # the declared CPU/memory survive the patch


def test_runtime_class_defaults_to_nvidia(default_gpu_app):
    assert default_gpu_app()["spec"]["template"]["spec"]["runtimeClassName"] == "nvidia"


def test_runtime_class_is_settable():
    obj = _gpu_app(runtime_class_name="nvidia-cdi")
    assert obj["spec"]["template"]["spec"]["runtimeClassName"] == "nvidia-cdi"


def test_tolerates_the_gpu_taint(default_gpu_app):
    tolerations = default_gpu_app()["spec"]["template"]["spec"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations


def test_gpu_deployment_recreates_so_two_copies_never_share_the_card(default_gpu_app):
    assert default_gpu_app()["spec"]["strategy"] == {"type": "Recreate"}


def test_renamed_resource_is_requested_when_rename_by_default():
    app, infra, ai = charts()
    card = SharedGpu(infra, "Gpu", SharedGpuProps(card="X", vram_gib=24, rename_by_default=True))
    GpuTimeSlicedApp(ai, "G", GpuTimeSlicedAppProps(app=app_props(), gpu=card, vram=vram()))
    limits = container(synth(app)[("Deployment", "demo")])["resources"]["limits"]
    assert limits["nvidia.com/gpu.shared"] == 1
    assert "nvidia.com/gpu" not in limits


def test_app_registers_with_its_card():
    _, infra, ai = charts()
    card = gpu(infra)
    a = GpuTimeSlicedApp(ai, "G", GpuTimeSlicedAppProps(app=app_props(), gpu=card, vram=vram()))
    assert card.apps == (a,)
    assert a.vram == vram()


def test_refuses_idle_above_active():
    with pytest.raises(HomelabConfigError, match=r"VramEnvelope.idle_gib: idle 6 GiB is more than active_min 4 GiB"):
        VramEnvelope(idle_gib=6, active_min_gib=4, active_max_gib=8)


def test_refuses_min_above_max():
    with pytest.raises(HomelabConfigError, match=r"VramEnvelope.active_min_gib: active_min 16 GiB .* active_max 8"):
        VramEnvelope(idle_gib=0, active_min_gib=16, active_max_gib=8)


def test_refuses_negative_vram():
    with pytest.raises(HomelabConfigError, match=r"VramEnvelope.idle_gib"):
        VramEnvelope(idle_gib=-1, active_min_gib=4, active_max_gib=8)


def test_refuses_more_than_one_slice():
    _, infra, _ = charts()
    with pytest.raises(HomelabConfigError, match=r"GpuTimeSlicedAppProps.gpu_count: asks for 2 slices"):
        GpuTimeSlicedAppProps(app=app_props(), gpu=gpu(infra), vram=vram(), gpu_count=2)


def test_idle_unload_is_typed_and_described():
    from datetime import timedelta

    from homelab_ai import IdleUnload

    unload = IdleUnload(mechanism="OLLAMA_KEEP_ALIVE", timeout=timedelta(minutes=5))
    _, infra, _ = charts()
    props = GpuTimeSlicedAppProps(app=app_props(), gpu=gpu(infra), vram=vram(), idle_unload=unload)
    assert props.idle_timeout == timedelta(minutes=5)
    assert unload.describe() == "OLLAMA_KEEP_ALIVE, after 5m idle"


@pytest.mark.parametrize(
    ("field", "mechanism", "seconds"), [("mechanism", "", 60), ("mechanism", "  ", 60), ("timeout", "x", 0)]
)
def test_idle_unload_refuses_an_empty_mechanism_or_timeout(field, mechanism, seconds):
    from datetime import timedelta

    from homelab_ai import IdleUnload

    with pytest.raises(HomelabConfigError, match=rf"IdleUnload.{field}"):
        IdleUnload(mechanism=mechanism, timeout=timedelta(seconds=seconds))


def test_idle_unload_must_be_typed_not_free_text():
    _, infra, _ = charts()
    with pytest.raises(
        HomelabConfigError, match=r"GpuTimeSlicedAppProps\.idle_unload: 'OLLAMA_KEEP_ALIVE=5m' is a str"
    ):
        GpuTimeSlicedAppProps(app=app_props(), gpu=gpu(infra), vram=vram(), idle_unload="OLLAMA_KEEP_ALIVE=5m")


@pytest.mark.parametrize("env", ["OLLAMA_KEEP_ALIVE", "OLLAMA_MAX_LOADED_MODELS"])
def test_ollama_budget_settings_cannot_be_overridden_through_extra_env(env):
    from homelab_ai import LlmBackendProps

    _, infra, _ = charts()
    with pytest.raises(HomelabConfigError, match=rf"LlmBackendProps.extra_env: sets {env}"):
        LlmBackendProps(gpu=gpu(infra), vram=vram(), extra_env={env: "1"})
