"""Helpers for reading what a chart synthesizes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import cdk8s
import yaml

from homelab_ai.synth.dist import RenderedFile, render


def objects_by_key(files: Iterable[RenderedFile]) -> dict[tuple[str, str], dict]:
    """Parse rendered manifests (not kustomizations) into {(kind, name): object}."""
    result: dict[tuple[str, str], dict] = {}
    for item in files:
        if item.path.endswith("kustomization.yaml"):
            continue
        doc = yaml.safe_load(item.content)
        result[(doc["kind"], doc["metadata"]["name"])] = doc
    return result


def synth(app: cdk8s.App, folders: Mapping[str, str] | None = None) -> dict[tuple[str, str], dict]:
    """Render ``app`` (every chart into folder 'out' unless told) and return its objects."""
    folders = folders or {chart.node.id: "out" for chart in app.charts}
    return objects_by_key(render(app, folders))


def container(obj: dict, index: int = 0) -> dict:
    return obj["spec"]["template"]["spec"]["containers"][index]


def env_of(obj: dict) -> dict[str, dict]:
    """The main container's env as {name: entry}."""
    return {e["name"]: e for e in container(obj).get("env", [])}
