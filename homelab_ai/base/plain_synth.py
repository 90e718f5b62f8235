"""A plain cdk8s ``app.synth()`` does what `homelab-ai synth` does, or says loudly what it skipped.

cdk8s knows nothing of SOPS files, synth warnings or checks of the written output, so a chart
synthesized the usual cdk8s way would silently lose its encrypted Secrets. Constructs that need
more than cdk8s's validation call :func:`attach`; it wraps ``synth`` on *their* App object (no
global patching) to run, around cdk8s's own synth, the hooks those constructs define:

- ``plain_synth_problems() -> list[str]``: refuse before anything is written;
- ``synth_warnings() -> list[str]``: printed on stderr;
- ``plain_synth_files() -> Mapping[str, bytes]``: added to the output folder byte for byte;
- ``plain_synth_skipped() -> list[str]``: checks only `homelab-ai synth` can run, named on stderr.

Checks of the whole App (e.g. "no plaintext Secret is rendered") are passed to ``attach`` and run
once per synth, however many constructs registered them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from constructs import Construct

from homelab_ai.base.errors import SynthError

_CHECKS = "_homelab_ai_plain_synth_checks"

AppCheck = Callable[[Construct], list[str]]


def attach(construct: Construct, *app_checks: AppCheck) -> None:
    """Make the App that ``construct`` belongs to run the plain-synth hooks, and ``app_checks`` once each."""
    app: Any = construct.node.root
    if not callable(getattr(app, "synth", None)):
        return  # not under a cdk8s App (a bare construct tree in a test): nothing is synthesized
    checks: list[AppCheck] | None = getattr(app, _CHECKS, None)
    if checks is None:
        checks = []
        _wrap(app, checks)
    checks.extend(c for c in app_checks if c not in checks)


def _wrap(app: Any, checks: list[AppCheck]) -> None:
    cdk8s_synth = app.synth

    def synth() -> None:
        tree = app.node.find_all()
        problems = [p for check in checks for p in check(app)] + list(_each(tree, "plain_synth_problems"))
        if problems:
            raise SynthError(problems)
        for message in dict.fromkeys(_each(tree, "synth_warnings")):
            print(f"warning: {message}", file=sys.stderr)
        cdk8s_synth()
        outdir = Path(app.outdir)
        for construct in tree:
            hook = getattr(construct, "plain_synth_files", None)
            for name, content in (hook() if callable(hook) else {}).items():
                (outdir / name).write_bytes(content)
                print(f"wrote {outdir / name} (copied byte for byte)", file=sys.stderr)
        for skipped in sorted(set(_each(tree, "plain_synth_skipped"))):
            print(f"note: a plain cdk8s synth does not check {skipped}; `homelab-ai synth` does", file=sys.stderr)

    app.synth = synth
    setattr(app, _CHECKS, checks)


def _each(tree: Iterable[Construct], hook_name: str) -> Iterable[str]:
    for construct in tree:
        hook = getattr(construct, hook_name, None)
        if callable(hook):
            yield from hook()
