"""The whole synthesized namespace, as a reviewed snapshot (update with `pytest --snapshot-update`)."""

from __future__ import annotations


def test_synthesized_namespace_matches_snapshot(homelab_files, snapshot):
    assert {item.path: item.content.decode() for item in homelab_files} == snapshot
