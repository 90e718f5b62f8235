"""AppWorkload: cdk8s-plus defaults overridden on purpose."""

from __future__ import annotations

import copy

import pytest

from homelab_ai import (
    AppWorkload,
    ComputeResources,
    ContainerImage,
    HealthCheck,
    HomelabConfigError,
    LonghornVolume,
    LonghornVolumeProps,
    SecretKeyRef,
    SopsSecret,
    SopsSecretProps,
    VolumeMount,
    WorkloadKind,
)
from tests.factories import app_props, charts, write_encrypted_like_secret
from tests.helpers import container, env_of, synth


def _deployment(**overrides) -> dict:
    app, _, ai = charts()
    AppWorkload(ai, "W", app_props(**overrides))
    return synth(app)[("Deployment", "demo")]


@pytest.fixture(scope="module")
def _default_objects() -> dict:
    app, _, ai = charts()
    AppWorkload(ai, "W", app_props())
    return synth(app)


@pytest.fixture
def default_objects(_default_objects) -> dict:
    """The objects of an AppWorkload with the factory's props, built once per module; each test gets its own copy."""
    return copy.deepcopy(_default_objects)


def test_one_replica_spec_name_and_no_chart_prefix(default_objects):
    obj = default_objects[("Deployment", "demo")]
    assert obj["metadata"]["name"] == "demo"
    assert obj["spec"]["replicas"] == 1


def test_image_is_pinned_and_pulled_if_not_present(default_objects):
    c = container(default_objects[("Deployment", "demo")])
    assert c["image"] == "example/demo:1.0.0"
    assert c["imagePullPolicy"] == "IfNotPresent"


def test_digest_is_appended_when_given():
    digest = "sha256:" + "a" * 64
    c = container(_deployment(image=ContainerImage(repository="example/demo", tag="1.0.0", digest=digest)))
    assert c["image"] == f"example/demo:1.0.0@{digest}"


def test_resources_are_the_declared_ones_not_cdk8s_plus_defaults():
    c = container(
        _deployment(resources=ComputeResources(cpu_request=2, cpu_limit=8, memory_request_gib=8, memory_limit_gib=32))
    )
    assert c["resources"] == {
        "requests": {"cpu": "2000m", "memory": "8192Mi"},
        "limits": {"cpu": "8000m", "memory": "32768Mi"},
    }


def test_probes_use_health_path_and_startup_budget():
    from datetime import timedelta

    c = container(_deployment(health=HealthCheck(path="/api/version", startup_budget=timedelta(minutes=15))))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/api/version"
        assert c[probe]["httpGet"]["port"] == 8000
    startup = c["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 15 * 60


def test_selector_uses_app_name_label_not_construct_path(default_objects):
    obj = default_objects[("Deployment", "demo")]
    assert obj["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "demo"}}
    assert "cdk8s.io/metadata.addr" not in obj["spec"]["template"]["metadata"]["labels"]


def test_service_selects_the_pods(default_objects):
    svc = default_objects[("Service", "demo")]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "demo"}


def test_statefulset_uses_the_clusterip_service_not_a_headless_one():
    app, _, ai = charts()
    AppWorkload(ai, "W", app_props(kind=WorkloadKind.STATEFUL_SET))
    objects = synth(app)
    assert objects[("StatefulSet", "demo")]["spec"]["serviceName"] == "demo"
    svc = objects[("Service", "demo")]
    assert svc["spec"].get("clusterIP") != "None"
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "demo"}
    assert [k for k in objects if k[0] == "Service"] == [("Service", "demo")]


def test_rwo_volume_makes_deployment_recreate():
    app, _, ai = charts()
    volume = LonghornVolume(ai, "V", LonghornVolumeProps(name="data", size_gib=1))
    AppWorkload(ai, "W", app_props(mounts=[VolumeMount(volume=volume, path="/data")]))
    assert synth(app)[("Deployment", "demo")]["spec"]["strategy"] == {"type": "Recreate"}


def _with_secret(tmp_path, keys: list[str], **overrides) -> dict:
    """A Deployment whose secret_env reads the SopsSecret 's' (the synth refuses a Secret it does not write)."""
    app, _, ai = charts()
    file = write_encrypted_like_secret(tmp_path / "s.sops.yaml", "s", keys)
    SopsSecret(ai, "S", SopsSecretProps(name="s", file=file, keys=keys))
    AppWorkload(ai, "W", app_props(**overrides))
    return synth(app)[("Deployment", "demo")]


def test_secret_env_is_a_secret_key_ref_never_a_literal(tmp_path):
    env = env_of(_with_secret(tmp_path, ["token"], secret_env={"TOKEN": SecretKeyRef(secret_name="s", key="token")}))
    assert env["TOKEN"] == {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}


def test_secret_env_comes_before_plain_env_so_it_can_be_expanded(tmp_path):
    obj = _with_secret(
        tmp_path,
        ["p"],
        secret_env={"PASSWORD": SecretKeyRef(secret_name="s", key="p")},
        env={"AUTH": "user:$(PASSWORD)"},
    )
    names = [e["name"] for e in container(obj)["env"]]
    assert names.index("PASSWORD") < names.index("AUTH")


def test_refuses_latest_tag():
    with pytest.raises(HomelabConfigError, match=r"ContainerImage.tag: 'latest' is not a pinned image tag"):
        ContainerImage(repository="ollama/ollama", tag="latest")


def test_refuses_limit_below_request():
    with pytest.raises(HomelabConfigError, match=r"ComputeResources.memory_limit_gib"):
        ComputeResources(cpu_request=1, cpu_limit=1, memory_request_gib=8, memory_limit_gib=4)


def test_refuses_bad_env_name():
    with pytest.raises(HomelabConfigError, match=r"AppWorkloadProps.env: '1BAD'"):
        app_props(env={"1BAD": "x"})


def test_refuses_relative_health_path():
    with pytest.raises(HomelabConfigError, match=r"HealthCheck.path"):
        HealthCheck(path="health")
