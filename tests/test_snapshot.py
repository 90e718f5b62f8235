"""The whole synthesized namespace, as a reviewed snapshot (update with `pytest --snapshot-update`)."""

from __future__ import annotations

import pytest


@pytest.mark.golden
def test_synthesized_namespace_matches_snapshot(homelab_files, snapshot):
    """Drift check (golden): the reviewed snapshot; a diff here is read, never the only test of a behaviour."""
    assert {item.path: item.content.decode() for item in homelab_files} == snapshot
