"""Bridge from a Python callable to the constructs ``IValidation`` interface (jsii needs the marker)."""

from __future__ import annotations

from collections.abc import Callable

import constructs
import jsii


@jsii.implements(constructs.IValidation)
class Validation:
    """Wraps ``check() -> list[str]`` so ``node.add_validation`` can run it at synth time."""

    def __init__(self, check: Callable[[], list[str]]) -> None:
        self._check = check

    def validate(self) -> list[str]:
        return list(self._check())
