"""The benchmark scripts stay honest: the baseline renders what homelab-ai renders, the generator builds.

No timing here (benchmarks run with `make bench`); these only keep bench/ from rotting.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cdk8s
import pytest

from bench import arbiter_trace, baseline, compare, run, scale
from homelab_ai.synth.dist import RenderedFile, render
from tests.helpers import objects_by_key


def test_baseline_emits_the_objects_homelab_ai_renders_for_the_ai_namespace(homelab_files):
    assert compare.compare(homelab_files, compare.baseline_files()) == []


# The generated chart of 9 apps, built and rendered once for the generator tests below (they only read it):
# three cards, StatefulSets and Deployments, exposed and ClusterIP Services, client wiring.
GENERATED_APPS = 9


@pytest.fixture(scope="module")
def generated() -> tuple[cdk8s.App, tuple[RenderedFile, ...]]:
    app, folders = scale.build(GENERATED_APPS)
    return app, tuple(render(app, folders))


def test_baseline_emits_the_objects_of_the_generated_chart(generated):
    _, files = generated
    assert compare.compare(list(files), baseline.synth(baseline.scale(GENERATED_APPS))) == []


def test_generator_builds_n_apps_on_as_many_cards_as_the_budget_needs(generated):
    _, files = generated
    objects = objects_by_key(files)
    kinds = [kind for kind, _ in objects]
    assert kinds.count("ConfigMap") == 3 == scale.cards_for(9)
    assert kinds.count("StatefulSet") + kinds.count("Deployment") == 9
    assert kinds.count("PersistentVolumeClaim") == kinds.count("Service") == 9
    assert [s for (kind, s), o in objects.items() if kind == "Service" and o["spec"]["type"] == "LoadBalancer"] == [
        scale.app_name(i) for i in range(9) if scale.is_exposed(i)
    ]


def test_generated_namespace_is_secure_and_closed_and_each_app_has_its_own_policy(generated):
    _, files = generated
    objects = objects_by_key(files)
    assert objects[("Namespace", scale.NAMESPACE)]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )
    policies = sorted(name for kind, name in objects if kind == "NetworkPolicy")
    assert policies == sorted(["allow-dns", "default-deny", *(scale.app_name(i) for i in range(GENERATED_APPS))])


def test_each_exposed_generated_app_is_the_client_of_the_app_before_it(generated):
    _, files = generated
    objects = objects_by_key(files)
    server, client = scale.app_name(0), scale.app_name(1)
    ingress = objects[("NetworkPolicy", server)]["spec"]["ingress"]
    egress = objects[("NetworkPolicy", client)]["spec"]["egress"]
    assert [rule["from"][0]["podSelector"]["matchLabels"] for rule in ingress] == [{"app.kubernetes.io/name": client}]
    assert {"app.kubernetes.io/name": server} in [
        rule["to"][0].get("podSelector", {}).get("matchLabels") for rule in egress
    ]


def test_generated_apps_fit_their_cards(generated):
    from homelab_ai import SharedGpu

    app, _ = generated
    cards = [c for c in app.node.find_all() if isinstance(c, SharedGpu)]
    assert len(cards) == scale.cards_for(GENERATED_APPS)
    for card in cards:
        assert len(card.apps) <= card.replicas
        assert sum(a.vram.active_max_gib for a in card.apps) <= card.props.vram_gib


def _file(path: str, doc: dict) -> RenderedFile:
    import yaml

    return RenderedFile(path, yaml.safe_dump(doc).encode())


def test_compare_names_the_object_and_the_field_that_differ():
    lib = [_file("ai/service-web.yaml", {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [80]}})]
    base = [_file("ai/service-web.yaml", {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [81]}})]
    (report,) = compare.compare(lib, base)
    assert report.startswith("differs: ai/service-web.yaml (Service web)")
    assert "spec.ports[0]: homelab-ai 80 != baseline 81" in report


def test_compare_names_objects_only_one_side_renders():
    policy = _file("ai/networkpolicy-deny.yaml", {"kind": "NetworkPolicy", "metadata": {"name": "deny"}})
    job = _file("ai/job-pull.yaml", {"kind": "Job", "metadata": {"name": "pull"}})
    assert compare.compare([policy], [job]) == [
        "only in baseline: ai/job-pull.yaml (Job pull)",
        "missing from baseline: ai/networkpolicy-deny.yaml (NetworkPolicy deny)",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["lib-scale", "base-scale"])
def test_measure_reports_phases_and_peak_memory_of_python_and_node(repo_root, case):
    done = subprocess.run(
        [sys.executable, "-m", "bench.measure", case, "1"], cwd=repo_root, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    # infrastructure: device-plugin Namespace, time-slicing ConfigMap; ai: Namespace, 2 isolation
    # policies, the app's claim, StatefulSet, Service and NetworkPolicy; a kustomization.yaml each.
    assert result["files"] == 11
    assert result["synth_s"] >= result["build_s"] > 0
    assert result["python_peak_mib"] > 0
    assert result["node_peak_mib"] > 0, "the jsii Node process was not found"


def test_linear_fit_of_points_on_a_line_is_exact():
    slope, intercept, r2 = run.linear_fit([1, 10, 50, 100], [0.5 + 0.02 * n for n in [1, 10, 50, 100]])
    assert slope == pytest.approx(0.02)
    assert intercept == pytest.approx(0.5)
    assert r2 == pytest.approx(1.0)


def test_a_failed_test_run_is_reported_with_the_tests_that_failed():
    out = "....F.\nFAILED tests/test_x.py::test_y - AssertionError\nERROR tests/test_z.py\n1 failed, 5 passed in 1.0s\n"
    assert run._failures(subprocess.CompletedProcess(["make"], 2, out, "")) == [
        "FAILED tests/test_x.py::test_y - AssertionError",
        "ERROR tests/test_z.py",
    ]


def test_a_run_failed_before_pytest_is_reported_with_its_last_lines():
    out = "\n".join(f"line {n}" for n in range(8)) + "\nFound 1 error.\n"
    assert run._failures(subprocess.CompletedProcess(["make"], 2, out, "")) == [
        "line 4",
        "line 5",
        "line 6",
        "line 7",
        "Found 1 error.",
    ]


def test_a_passed_run_has_no_failures():
    assert run._failures(subprocess.CompletedProcess(["make"], 0, "FAILED is only a word here\n", "")) == []


def test_arbiter_trace_is_the_same_for_the_same_seed_and_mixes_chats_and_images():
    first, again = arbiter_trace.make_trace(300, seed=14), arbiter_trace.make_trace(300, seed=14)
    assert first == again
    kinds = {item.kind for item in first}
    assert kinds == {"chat", "image"}
    assert {item.model for item in first if item.kind == "chat"} == set(arbiter_trace.MODELS)
    assert any(item.direct for item in first)


@pytest.mark.slow
def test_arbiter_trace_replay_through_the_arbiter_completes_every_request_without_an_oom():
    run = arbiter_trace.replay(arbiter_trace.make_trace(40, seed=3), with_arbiter=True, use_direct=False)
    assert run["outcomes"] == {"completed": 40}
    assert run["card_ooms"] == 0
