"""Errors that name the field at fault and how to fix it."""

from __future__ import annotations


class HomelabConfigError(ValueError):
    """A prop or a combination of props that would synthesize a broken or unsafe cluster."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}: {problem}. Fix: {fix}")


class OutputError(HomelabConfigError):
    """The output folder cannot be written, or is not the synth's to replace; nothing was changed.

    ``field`` is the folder's path, so the message reads like every other refusal.
    """


class SynthError(Exception):
    """Synthesis refused; nothing was written. Carries every problem found, not only the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"synth refused, dist/ left untouched ({len(problems)} problem(s)):\n{lines}")
