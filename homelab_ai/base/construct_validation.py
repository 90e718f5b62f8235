"""Bridge from a Python callable to the constructs ``IValidation`` interface (jsii needs the marker)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import constructs
import jsii


class CheckResults:
    """What each Python check said during one synth; a check that already ran is not run again."""

    def __init__(self) -> None:
        self._by_check: dict[int, list[str]] = {}

    def run_once(self, validation: Validation) -> None:
        if id(validation) not in self._by_check:
            self._by_check[id(validation)] = list(validation._check())

    @property
    def problems(self) -> list[str]:
        """Every message, in the order the checks first ran (the construct tree's order)."""
        return [message for messages in self._by_check.values() for message in messages]


_collecting: contextvars.ContextVar[CheckResults | None] = contextvars.ContextVar("collecting", default=None)


@jsii.implements(constructs.IValidation)
class Validation:
    """Wraps ``check() -> list[str]`` so ``node.add_validation`` can run it at synth time."""

    def __init__(self, check: Callable[[], list[str]]) -> None:
        self._check = check

    def validate(self) -> list[str]:
        results = _collecting.get()
        if results is None:
            return list(self._check())
        results.run_once(self)
        return []


@contextlib.contextmanager
def collecting_checks() -> Iterator[CheckResults]:
    """Inside the block, Python checks report to the yielded CheckResults, and to cdk8s nothing.

    cdk8s validates the whole App before it renders each chart. With this, that pass is the
    synth's validation: each Python check runs once, on the first pass, and cdk8s fails only for
    checks written in JavaScript (cdk8s-plus's own). Asking every construct from Python instead
    costs two jsii round trips per construct.
    """
    results = CheckResults()
    token = _collecting.set(results)
    try:
        yield results
    finally:
        _collecting.reset(token)
