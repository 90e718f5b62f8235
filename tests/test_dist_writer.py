"""Rendering for dist/ on small charts: file names, kustomizations, SOPS copies, refusals, synthesize's warnings.

tests/test_dist.py shows the same on the spec's chart, tests/test_dist_writer_steps.py and tests/test_dist_faults.py
the atomic write; these are small enough for `make mutate`.
"""

from __future__ import annotations

from pathlib import Path

import cdk8s
import constructs
import jsii
import pytest
import yaml
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import OutputError, SynthError
from homelab_ai.base.plus import kplus
from homelab_ai.synth.dist import (
    collect_problems,
    collect_warnings,
    render,
    synthesize,
    to_yaml,
    write_atomically,
)
from tests.factories import charts, write_encrypted_like_secret


def config_map(scope: Construct, name: str) -> cdk8s.ApiObject:
    obj = cdk8s.ApiObject(scope, name, api_version="v1", kind="ConfigMap", metadata={"name": name})
    obj.add_json_patch(cdk8s.JsonPatch.add("/data", {"k": "v"}))
    return obj


def _tree(root: Path) -> dict[str, bytes]:
    """The written files, without the marker the writer leaves (tests/test_dist_faults.py tests the writer)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".homelab-ai-dist"
    }


def test_each_object_is_one_file_named_kind_and_name_with_a_kustomization_per_folder():
    app, infra, ai = charts()
    config_map(ai, "b-settings")
    config_map(ai, "a-settings")
    cdk8s.ApiObject(infra, "Ns", api_version="v1", kind="Namespace", metadata={"name": "ai"})
    files = render(app, {"infrastructure": "infra", "ai": "apps"})
    assert [f.path for f in files] == [
        "apps/configmap-a-settings.yaml",
        "apps/configmap-b-settings.yaml",
        "apps/kustomization.yaml",
        "infra/kustomization.yaml",
        "infra/namespace-ai.yaml",
    ]
    kustomization = yaml.safe_load(next(f.content for f in files if f.path == "apps/kustomization.yaml"))
    assert kustomization == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["configmap-a-settings.yaml", "configmap-b-settings.yaml"],
    }
    manifest = yaml.safe_load(next(f.content for f in files if f.path == "apps/configmap-a-settings.yaml"))
    assert manifest == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a-settings", "namespace": "ai"},
        "data": {"k": "v"},
    }


def test_charts_may_share_a_folder_and_its_kustomization_lists_both():
    app, infra, ai = charts()
    config_map(ai, "one")
    config_map(infra, "two")
    files = render(app, {"infrastructure": "all", "ai": "all"})
    kustomization = yaml.safe_load(next(f.content for f in files if f.path == "all/kustomization.yaml"))
    assert kustomization["resources"] == ["configmap-one.yaml", "configmap-two.yaml"]


def test_a_folder_with_no_objects_gets_no_kustomization():
    app, _infra, ai = charts()
    config_map(ai, "one")
    assert [f.path for f in render(app, {"infrastructure": "empty", "ai": "ai"})] == [
        "ai/configmap-one.yaml",
        "ai/kustomization.yaml",
    ]


def test_a_chart_without_a_folder_is_refused():
    app, _infra, ai = charts()
    config_map(ai, "one")
    with pytest.raises(SynthError) as caught:
        render(app, {"ai": "ai"})
    assert caught.value.problems == ["chart 'infrastructure' has no output folder; add it to the folder map"]


def test_two_objects_for_one_file_are_refused_naming_both_owners():
    app, infra, ai = charts()
    config_map(ai, "same")
    config_map(infra, "same")
    with pytest.raises(SynthError) as caught:
        render(app, {"infrastructure": "x", "ai": "x"})
    assert caught.value.problems == [
        "duplicate object: ConfigMap metadata.name 'same' is written twice to x/configmap-same.yaml (by chart ai "
        "and chart infrastructure); rename one of them"
    ]


def test_an_object_without_a_name_or_kind_still_gets_a_file_name():
    app, _infra, ai = charts()
    odd = cdk8s.ApiObject(ai, "Odd", api_version="v1", kind="Thing", metadata={})
    odd.add_json_patch(cdk8s.JsonPatch.remove("/metadata/name"))
    assert "ai/thing-unnamed.yaml" in [f.path for f in render(app, {"infrastructure": "i", "ai": "ai"})]


def test_a_sops_secret_file_is_copied_byte_for_byte_into_its_charts_folder(tmp_path):
    from homelab_ai import SopsSecret, SopsSecretProps

    app, _infra, ai = charts()
    source = write_encrypted_like_secret(tmp_path / "web.sops.yaml", "web", ["key"])
    SopsSecret(ai, "Secret", SopsSecretProps(name="web", file=source, keys=["key"]))
    files = {f.path: f.content for f in render(app, {"infrastructure": "i", "ai": "ai"})}
    assert files["ai/secret-web.sops.yaml"] == source.read_bytes()
    assert yaml.safe_load(files["ai/kustomization.yaml"])["resources"] == ["secret-web.sops.yaml"]


def test_a_plaintext_secret_is_refused():
    app, _infra, ai = charts()
    cdk8s.ApiObject(ai, "Leak", api_version="v1", kind="Secret", metadata={"name": "leak"})
    with pytest.raises(SynthError) as caught:
        render(app, {"infrastructure": "i", "ai": "ai"})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("ai/Leak: Secret 'leak' would be written to dist/ in plaintext")


class _Checked(Construct):
    """A construct that inspects the output, as FluxKustomization does."""

    seen: dict[str, bytes] | None = None

    def output_problems(self, files: dict[str, bytes]) -> list[str]:
        _Checked.seen = dict(files)
        return ["the output is wrong"] if "ai/configmap-bad.yaml" in files else []


def test_constructs_check_the_output_before_it_is_written():
    app, _infra, ai = charts()
    config_map(ai, "good")
    _Checked(ai, "Check")
    render(app, {"infrastructure": "i", "ai": "ai"})
    assert set(_Checked.seen or {}) == {"ai/configmap-good.yaml"}  # kustomizations come after the check
    config_map(ai, "bad")
    with pytest.raises(SynthError) as caught:
        render(app, {"infrastructure": "i", "ai": "ai"})
    assert caught.value.problems == ["the output is wrong"]


class _Warns(Construct):
    def synth_warnings(self) -> list[str]:
        return ["mind the gap"]


class _Fails(Construct):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.node.add_validation(Validation(lambda: ["broken on purpose"]))


def test_warnings_and_problems_are_collected_from_the_whole_tree():
    app, infra, ai = charts()
    _Warns(ai, "W1")
    _Warns(infra, "W2")
    _Fails(ai, "F")
    assert collect_warnings(app) == ["mind the gap", "mind the gap"]
    assert collect_problems(app) == ["broken on purpose"]


def test_yaml_keeps_multi_line_strings_as_blocks_and_order_as_given():
    text = to_yaml({"b": "line one\nline two\n", "a": ["x"], "c": {"same": "same"}, "d": {"same": "same"}})
    assert text == "b: |\n  line one\n  line two\na:\n- x\nc:\n  same: same\nd:\n  same: same\n"


def test_a_long_line_is_not_folded():
    assert to_yaml({"k": "x" * 300}) == f"k: {'x' * 300}\n"


# Writing --------------------------------------------------------------------------------------------


def _small_build():
    app, _infra, ai = charts()
    config_map(ai, "one")
    _Warns(ai, "W")
    return app, {"infrastructure": "i", "ai": "ai"}


def test_synthesize_writes_and_reports_warnings(tmp_path):
    heard: list[str] = []
    files = synthesize(_small_build, tmp_path / "dist", warn=heard.append)
    assert heard == ["mind the gap"]
    assert [f.path for f in files] == ["ai/configmap-one.yaml", "ai/kustomization.yaml"]
    assert _tree(tmp_path / "dist") == {f.path: f.content for f in files}


def test_synthesize_prints_warnings_to_stderr_by_default(tmp_path, capsys):
    synthesize(_small_build, tmp_path / "dist")
    assert capsys.readouterr().err == "warning: mind the gap\n"


def test_strict_synthesize_refuses_on_a_warning_and_writes_nothing(tmp_path):
    with pytest.raises(SynthError) as caught:
        synthesize(_small_build, tmp_path / "dist", strict=True)
    assert caught.value.problems == ["(strict) mind the gap"]
    assert not (tmp_path / "dist").exists()


def test_a_refused_synth_leaves_the_old_output_as_it_was(tmp_path):
    out = tmp_path / "dist"
    synthesize(_small_build, out, warn=lambda _: None)
    before = _tree(out)

    def broken():
        app, folders = _small_build()
        folders.pop("ai")
        return app, folders

    with pytest.raises(SynthError):
        synthesize(broken, out, warn=lambda _: None)
    assert _tree(out) == before


def test_synthesize_refuses_a_folder_of_other_files_unless_told_to_overwrite(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("<h1>mine</h1>")
    with pytest.raises(OutputError, match="holds files the synth did not write"):
        synthesize(_small_build, out, warn=lambda _: None)
    assert [p.name for p in out.iterdir()] == ["index.html"]
    files = synthesize(_small_build, out, warn=lambda _: None, overwrite=True)
    assert _tree(out) == {f.path: f.content for f in files}


def test_write_atomically_refuses_a_plain_file_unless_told_to_overwrite(tmp_path):
    app, folders = _small_build()
    files = render(app, folders)
    out = tmp_path / "dist"
    out.write_text("notes")
    with pytest.raises(OutputError, match="is a file, not a folder the synth wrote"):
        write_atomically(files, out)
    assert out.read_text() == "notes"
    write_atomically(files, out, overwrite=True)
    assert _tree(out) == {f.path: f.content for f in files}


# Refusals cdk8s raises while rendering --------------------------------------------------------------


@jsii.implements(constructs.IValidation)
class _ForeignCheck:
    """A check written outside homelab-ai (as cdk8s-plus's are): cdk8s itself refuses with it."""

    def validate(self) -> list[str]:
        return ["first problem", "second problem"]


def test_a_check_cdk8s_runs_itself_is_reported_line_by_line_with_its_path():
    app, _infra, ai = charts()
    Construct(ai, "Odd").node.add_validation(_ForeignCheck())
    _Fails(ai, "Ours")
    with pytest.raises(SynthError) as caught:
        render(app, {"infrastructure": "i", "ai": "ai"})
    assert caught.value.problems == ["broken on purpose", "[ai/Odd] first problem", "[ai/Odd] second problem"]


def test_a_render_error_without_a_failed_check_is_raised_as_it_is():
    app, _infra, ai = charts()
    kplus.Deployment(ai, "Empty")  # cdk8s-plus cannot serialize a pod without containers
    with pytest.raises(RuntimeError, match="PodSpec must have at least 1 container"):
        render(app, {"infrastructure": "i", "ai": "ai"})


def test_a_render_error_after_a_failed_check_is_reported_beside_it():
    app, _infra, ai = charts()
    kplus.Deployment(ai, "Empty")
    _Fails(ai, "Ours")
    with pytest.raises(SynthError) as caught:
        render(app, {"infrastructure": "i", "ai": "ai"})
    assert caught.value.problems[0] == "broken on purpose"
    assert caught.value.problems[1].startswith("cdk8s could not render the charts: Failed serializing construct at ")
    assert len(caught.value.problems) == 2


def test_an_app_without_charts_renders_nothing_or_reports_its_checks():
    app = cdk8s.App()
    assert render(app, {}) == []
    _Fails(app, "Loose")
    with pytest.raises(SynthError) as caught:
        render(app, {})
    assert caught.value.problems == ["broken on purpose"]


def test_every_chart_without_a_folder_is_named():
    app, infra, ai = charts()
    config_map(ai, "one")
    config_map(infra, "two")
    extra = cdk8s.Chart(app, "extra", disable_resource_name_hashes=True)
    config_map(extra, "three")
    with pytest.raises(SynthError) as caught:
        render(app, {"extra": "x"})
    assert caught.value.problems == [
        "chart 'infrastructure' has no output folder; add it to the folder map",
        "chart 'ai' has no output folder; add it to the folder map",
    ]


def test_an_object_without_kind_or_metadata_still_gets_a_file():
    app, _infra, ai = charts()
    odd = cdk8s.ApiObject(ai, "Odd", api_version="v1", kind="Thing", metadata={"name": "x"})
    odd.add_json_patch(cdk8s.JsonPatch.remove("/kind"))
    bare = cdk8s.ApiObject(ai, "Bare", api_version="v1", kind="Other", metadata={"name": "y"})
    bare.add_json_patch(cdk8s.JsonPatch.remove("/metadata"))
    paths = [f.path for f in render(app, {"infrastructure": "i", "ai": "ai"})]
    assert paths == ["ai/kustomization.yaml", "ai/object-x.yaml", "ai/other-unnamed.yaml"]


def test_two_sops_secrets_for_one_file_are_refused_naming_both(tmp_path):
    from homelab_ai import SopsSecret, SopsSecretProps

    app, _infra, ai = charts()
    source = write_encrypted_like_secret(tmp_path / "web.sops.yaml", "web", ["key"])
    SopsSecret(ai, "First", SopsSecretProps(name="web", file=source, keys=["key"]))
    SopsSecret(ai, "Second", SopsSecretProps(name="web", file=source, keys=["key"]))
    with pytest.raises(SynthError) as caught:
        render(app, {"infrastructure": "i", "ai": "ai"})
    assert caught.value.problems == [
        "duplicate object: file is written twice to ai/secret-web.sops.yaml (by ai/Second and ai/First); rename one "
        "of them"
    ]


def test_a_long_line_with_spaces_is_not_folded():
    text = " ".join(["word"] * 60)
    assert to_yaml({"k": text}) == f"k: {text}\n"
