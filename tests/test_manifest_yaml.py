"""Manifests are written by libyaml where it writes exactly what PyYAML's own emitter writes, and by PyYAML elsewhere.

The output must not depend on which emitter ran (a PyYAML built without libyaml would otherwise change
dist/ under Flux's feet), so PyYAML's pure-Python emitter (`_Dumper`) is the expectation here.
"""

from __future__ import annotations

import random

import pytest
import yaml

from homelab_ai.synth import dist
from tests.yaml_io import load_yaml


def pyyaml_writes(doc: object) -> str:
    return yaml.dump(doc, Dumper=dist._Dumper, sort_keys=False, default_flow_style=False, width=1_000_000)


def test_pyyaml_here_has_libyaml():
    """PyYAML's wheels ship libyaml; without it every synth falls back to the slow emitter."""
    assert dist._LibyamlDumper is not None


def test_every_manifest_of_the_spec_chart_is_what_pyyamls_emitter_writes(homelab_files):
    manifests = [f for f in homelab_files if f.path.endswith(".yaml") and not f.path.endswith(".sops.yaml")]
    assert len(manifests) > 50
    for item in manifests:
        text = item.content.decode()
        assert pyyaml_writes(load_yaml(text)) == text, item.path


def test_the_spec_charts_manifests_take_the_libyaml_path(homelab_files):
    manifests = [f for f in homelab_files if f.path.endswith(".yaml") and not f.path.endswith(".sops.yaml")]
    assert all(dist._libyaml_writes_the_same(load_yaml(f.content)) for f in manifests)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"": 1}, "? ''\n: 1\n"),
        ({"k" * 128: 1}, f"? {'k' * 128}\n: 1\n"),
        ({"a": {"b\nc": 1}}, "a:\n  ? |-\n    b\n    c\n  : 1\n"),
        ("bare", "bare\n...\n"),
    ],
    ids=["empty key", "128-character key", "multi-line key", "bare scalar document"],
)
def test_what_libyaml_would_write_differently_is_written_by_pyyaml(doc, expected):
    assert not dist._libyaml_writes_the_same(doc)
    assert dist.to_yaml(doc) == expected


@pytest.mark.parametrize(
    "doc",
    [
        {"a\rb": 1},
        {"x": [{"tab\tkey": 1}]},
        {1: "one"},
        {"k" * 101: "v"},
        {"a": "x\n\n", "b": 1},
        {"a": ["\n"], "b": 1},
    ],
    ids=[
        "carriage return in a key",
        "tab in a nested key",
        "a key that is not a string",
        "101-character key",
        "a value that ends in two line breaks",
        "a value that is one line break",
    ],
)
def test_other_unusual_keys_go_to_pyyaml_too(doc):
    assert not dist._libyaml_writes_the_same(doc)
    assert dist.to_yaml(doc) == pyyaml_writes(doc)


def test_a_key_of_100_characters_is_still_written_by_libyaml_the_same_way():
    doc = {"metadata": {"annotations": {"k" * 100: "v"}}}
    assert dist._libyaml_writes_the_same(doc)
    assert dist.to_yaml(doc) == f"metadata:\n  annotations:\n    {'k' * 100}: v\n"


_TRICKY = [
    *"ab -:#'\"\\|>&*!%@`,[]{}?\n\r\t.~0123456789eE+",
    "\x00",
    "\x07",
    "\x1b",
    "\x85",
    "\u2028",
    "\ufeff",
    "é",
    "日",
    "😀",
    "\u00a0",
    "\x7f",
]


def test_values_of_every_shape_are_written_as_pyyaml_writes_them():
    """Scripts, quotes, YAML keywords, control and non-ASCII characters, trailing spaces, as values at any depth."""
    rnd = random.Random(17)
    for _ in range(1000):
        value = "".join(rnd.choice(_TRICKY) for _ in range(rnd.randint(0, 40)))
        if rnd.random() < 0.2:
            value = rnd.choice(["yes", "no", "null", "true", "1.5", "0x1", "2020-01-01", "~", "---", "..."]) + value
        doc = {"data": {"script.sh": value}, "list": [value, {"inner": value}], "n": [[value], 1, 1.5, None, True]}
        assert dist.to_yaml(doc) == pyyaml_writes(doc), repr(value)


def test_a_multi_line_value_ending_in_one_line_break_stays_on_the_libyaml_path():
    """Scripts end in one line break: a `|` block both emitters write alike (two breaks make a `|+` block)."""
    for script in ("ab\n", "a\nb\n", "#!/bin/sh\nset -eu\nexec x\n"):
        doc = {"data": {"run.sh": script}, "a": 1}
        assert dist._libyaml_writes_the_same(doc), repr(script)
        assert dist.to_yaml(doc) == pyyaml_writes(doc)


def test_to_yaml_hands_libyaml_what_it_writes_the_same_and_pyyaml_the_rest(monkeypatch):
    """Which emitter runs is the point (a tenth of the time): a spy on yaml.dump records it."""
    used: list[type] = []
    dump = yaml.dump

    def spy(doc: object, **options: object) -> str:
        used.append(options["Dumper"])  # type: ignore[arg-type]
        return dump(doc, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(dist.yaml, "dump", spy)
    dist.to_yaml({"kind": "ConfigMap", "data": {"k": "v"}})
    dist.to_yaml({"k" * 101: "v"})
    assert used == [dist._LibyamlDumper, dist._Dumper]


@pytest.mark.parametrize("doc", [{"a": 1, "b": 2}, {"k" * 101: 1}], ids=["libyaml path", "pyyaml path"])
def test_an_object_shared_twice_is_written_twice_never_as_an_anchor(doc):
    shared = {"name": "x", "value": "y"}
    out = dist.to_yaml({**doc, "env": [shared, shared]})
    assert "&id" not in out and "*id" not in out
    assert out.count("- name: x\n  value: y\n") == 2
