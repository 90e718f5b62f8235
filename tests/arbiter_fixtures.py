"""Fixtures of the arbiter's in-process tests (tests/test_vram_arbiter_{admission,observer,proxy}.py).

Each makes things on demand and stops them when its test ends. tests/conftest.py loads this module as a plugin,
so the test modules use the fixtures by name without importing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.arbiter_inproc import Harness, Scripted


def _harnesses(observe: bool) -> Iterator[Callable[..., Harness]]:
    from tests.arbiter_inproc import Harness  # loads the arbiter program: only for the tests that use it

    made: list[Harness] = []

    def build(**kwargs) -> Harness:
        harness = Harness(**kwargs)
        made.append(harness)
        if observe:
            harness.observe()
        return harness

    yield build
    for harness in made:
        harness.stop()


@pytest.fixture
def harness() -> Iterator[Callable[..., Harness]]:
    """Make a Harness (keyword arguments as Harness takes them) that has read every app once, as after a first poll."""
    yield from _harnesses(observe=True)


@pytest.fixture
def fresh_harness() -> Iterator[Callable[..., Harness]]:
    """Make a Harness whose arbiter has not read any app yet (for the tests of what the first poll sees)."""
    yield from _harnesses(observe=False)


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    """Make a Scripted server from its answers by path."""
    from tests.arbiter_inproc import Scripted

    made: list[Scripted] = []

    def build(answers: dict[str, tuple]) -> Scripted:
        server = Scripted(answers)
        made.append(server)
        return server

    yield build
    for server in made:
        server.stop()
