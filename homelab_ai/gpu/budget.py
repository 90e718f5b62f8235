"""The VRAM budget of one shared GPU: its table and its verdicts, in plain Python.

Time-slicing gives every pod the whole card with no memory isolation, so the only guard against
two apps OOM-ing each other is arithmetic done before anything is deployed. SharedGpu turns the
errors into synth refusals and the warnings into synth warnings; ``homelab-ai budget`` and the
docs print the same table from :func:`budget_rows` / :func:`budget_markdown`.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from typing import Protocol

import attrs

from homelab_ai.base.validators import as_tuple, typed_fields
from homelab_ai.gpu.cards import known_card
from homelab_ai.gpu.vram import IdleUnload, VramEnvelope

# Beyond this many apps the "must not be busy together" sets are not enumerated (2**n subsets).
_MAX_APPS_FOR_COMBINATIONS = 16


class Severity(enum.Enum):
    """How bad a verdict is: an ERROR refuses the synth, a WARNING is printed (refused with --strict)."""

    ERROR = "error"
    WARNING = "warning"
    # Printed with the verdicts, never refused: e.g. an over-booking that a VRAM arbiter serializes.
    NOTE = "note"


@attrs.frozen(field_transformer=typed_fields)
class Verdict:
    """One finding about the budget; errors refuse the synth, warnings are printed (or refused with --strict)."""

    severity: Severity
    """ERROR refuses the synth; WARNING is printed (refused with --strict). Required."""
    message: str
    """What is wrong, with the numbers it is about and the fix. Required."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class BudgetApp:
    """What the budget needs to know about one app on the card."""

    name: str
    """Name of the app, as the table shows it. Required."""
    vram: VramEnvelope
    """VRAM the app holds when idle and busy, GiB. Required."""
    idle_unload: IdleUnload | None = None
    """What frees its VRAM when idle. Default None: nothing does."""
    slices: int = 1
    """Time-slicing slices it holds; more than 1 is refused. Default 1."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class BudgetRow:
    """One line of the VRAM table, already formatted (GiB)."""

    app: str
    """Name of the app, or "total", or "card: <name>". Required."""
    idle: str
    """VRAM when idle, e.g. "4 GiB". Required."""
    active: str
    """VRAM range when busy, e.g. "6-12 GiB". Required."""
    unload: str
    """Idle-unload policy; on the card's row, the time-slicing slices used. Required."""


def gib(value: float) -> str:
    """16 -> '16', 12.5 -> '12.5'."""
    return f"{value:g}"


def _sum_expression(apps: Sequence[BudgetApp], attribute: str) -> str:
    return " + ".join(f"{a.name} {gib(getattr(a.vram, attribute))}" for a in apps)


def _names(apps: Sequence[BudgetApp]) -> str:
    return " + ".join(a.name for a in apps)


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class GpuBudget:
    """A card (name, VRAM, time-slicing replicas) and the apps that share it."""

    card: str
    """Name of the card, as in SharedGpuProps.card. Required."""
    vram_gib: float
    """VRAM of the card, GiB. Required."""
    replicas: int
    """Time-slicing replicas: how many pods may hold a slice at once. Required."""
    apps: tuple[BudgetApp, ...] = attrs.field(default=(), converter=as_tuple)
    """The apps that share the card. Default: none."""
    arbiter: str | None = None
    """Name of the VRAM arbiter in front of the card. Default None: no arbiter."""
    arbitrated: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    """The apps whose work that arbiter admits. Default: none."""

    # Totals -------------------------------------------------------------------------------------

    @property
    def total_idle_gib(self) -> float:
        """Sum of the apps' idle VRAM, GiB."""
        return sum(a.vram.idle_gib for a in self.apps)

    @property
    def total_active_min_gib(self) -> float:
        """Sum of the apps' least active VRAM, GiB."""
        return sum(a.vram.active_min_gib for a in self.apps)

    @property
    def total_active_max_gib(self) -> float:
        """Sum of the apps' most active VRAM, GiB: over the card means over-booked."""
        return sum(a.vram.active_max_gib for a in self.apps)

    @property
    def slices_used(self) -> int:
        """Time-slicing slices the apps hold together."""
        return sum(a.slices for a in self.apps)

    @property
    def shared(self) -> bool:
        """True when more than one app is on the card."""
        return len(self.apps) > 1

    # Verdicts -----------------------------------------------------------------------------------

    def verdicts(self) -> list[Verdict]:
        """Errors first, then warnings; each message carries the numbers it is about."""
        return [
            *(Verdict(Severity.ERROR, m) for m in self._errors()),
            *(Verdict(Severity.WARNING, m) for m in self._warnings()),
            *(Verdict(Severity.NOTE, m) for m in self._notes()),
        ]

    @property
    def errors(self) -> list[str]:
        """Messages of the ERROR verdicts: the synth refuses the chart."""
        return [v.message for v in self.verdicts() if v.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[str]:
        """Messages of the WARNING verdicts: printed, refused by synth --strict."""
        return [v.message for v in self.verdicts() if v.severity is Severity.WARNING]

    def _card(self) -> str:
        return f"{self.card!r} ({gib(self.vram_gib)} GiB)"

    def _errors(self) -> list[str]:
        problems: list[str] = []
        if self.slices_used > self.replicas:
            problems.append(
                f"{self.slices_used} GPU apps ({', '.join(a.name for a in self.apps)}) share {self._card()} but "
                f"its time-slicing makes only {self.replicas} slice(s) (SharedGpuProps.replicas={self.replicas}): "
                f"{self.slices_used - self.replicas} pod(s) would stay Pending. Fix: raise SharedGpuProps.replicas "
                f"to at least {self.slices_used} or move an app to another SharedGpu"
            )
        for a in self.apps:
            if a.slices > 1:
                problems.append(
                    f"{a.name} asks for {a.slices} slices of {self._card()}; time-slicing makes {self.replicas} "
                    f"slices of the same whole card, so a second slice adds no VRAM and no compute. "
                    f"Fix: use gpu_count=1"
                )
        for a in self.apps:
            if a.vram.active_max_gib > self.vram_gib:
                problems.append(
                    f"{a.name}: max active VRAM {gib(a.vram.active_max_gib)} GiB exceeds the card {self._card()} "
                    f"by {gib(a.vram.active_max_gib - self.vram_gib)} GiB, even with the card to itself. "
                    f"Fix: use a smaller or more quantized model and lower VramEnvelope.active_max_gib to at most "
                    f"{gib(self.vram_gib)}, or give it a bigger card"
                )
        if self.total_idle_gib > self.vram_gib:
            problems.append(
                f"idle VRAM of all apps together exceeds {self._card()}: {_sum_expression(self.apps, 'idle_gib')} "
                f"= {gib(self.total_idle_gib)} GiB, {gib(self.total_idle_gib - self.vram_gib)} GiB over, before "
                f"any app does any work. Fix: make the apps unload their models when idle (lower idle_gib) or "
                f"move one to another SharedGpu"
            )
        if self.shared:
            for a in self.apps:
                if a.idle_unload is None and a.vram.idle_gib < a.vram.active_max_gib:
                    others = ", ".join(o.name for o in self.apps if o is not a)
                    problems.append(
                        f"{a.name} shares {self._card()} with {others} but has no idle-unload policy: its idle "
                        f"{gib(a.vram.idle_gib)} GiB is a promise nothing keeps, it holds up to "
                        f"{gib(a.vram.active_max_gib)} GiB until restarted. Fix: give it "
                        f"GpuTimeSlicedAppProps.idle_unload=IdleUnload(mechanism=..., timeout=...), or if it "
                        f"never frees VRAM declare idle_gib = active_max_gib = {gib(a.vram.active_max_gib)}"
                    )
        return problems

    def busy_together(self) -> list[tuple[BudgetApp, ...]]:
        """Smallest sets of apps that overflow the card when busy at max (the others idle)."""
        everyone = range(len(self.apps))
        if len(self.apps) > _MAX_APPS_FOR_COMBINATIONS:
            return [self.apps] if self._overflows(set(everyone)) else []
        found: list[set[int]] = []
        for size in range(1, len(self.apps) + 1):
            for combo in itertools.combinations(everyone, size):
                busy = set(combo)
                if not any(smaller <= busy for smaller in found) and self._overflows(busy):
                    found.append(busy)
        return [tuple(self.apps[i] for i in sorted(group)) for group in found]

    def _overflows(self, busy: set[int]) -> bool:
        active = sum(a.vram.active_max_gib for i, a in enumerate(self.apps) if i in busy)
        idle = sum(a.vram.idle_gib for i, a in enumerate(self.apps) if i not in busy)
        return active + idle > self.vram_gib

    def serialized_groups(self) -> list[tuple[BudgetApp, ...]]:
        """The over-booked groups whose every app the card's VRAM arbiter admits work for."""
        if self.arbiter is None:
            return []
        return [g for g in self.busy_together() if len(g) > 1 and all(a.name in self.arbitrated for a in g)]

    def _unserialized_groups(self) -> list[tuple[BudgetApp, ...]]:
        serialized = self.serialized_groups()
        return [g for g in self.busy_together() if g not in serialized]

    def _notes(self) -> list[str]:
        groups = self.serialized_groups()
        if not groups or self._unserialized_groups():
            return []
        total = self.total_active_max_gib
        return [
            f"VRAM over-booked on {self._card()}: at max active, {_sum_expression(self.apps, 'active_max_gib')} "
            f"= {gib(total)} GiB on a {gib(self.vram_gib)} GiB card, and the VRAM arbiter {self.arbiter!r} "
            f"serializes {'; '.join(_names(g) for g in groups)}: a request that would not fit first unloads idle "
            f"apps, then waits for the busy one (and is refused with the holder's name when the wait runs out), "
            f"never running the card out of memory. Work that bypasses the arbiter (e.g. the Stable Diffusion web "
            f"page) is seen only once it runs: the arbiter then unloads the idle models and counts the overlap"
        ]

    def _warnings(self) -> list[str]:
        warnings: list[str] = []
        total = self.total_active_max_gib
        unserialized = self._unserialized_groups() if self.shared and total > self.vram_gib else []
        if unserialized:
            groups = "; ".join(_names(group) for group in unserialized)
            warnings.append(
                f"VRAM over-booked on {self._card()}: at max active, {_sum_expression(self.apps, 'active_max_gib')} "
                f"= {gib(total)} GiB on a {gib(self.vram_gib)} GiB card, {gib(total - self.vram_gib)} GiB over. "
                f"Must not be busy at max together: {groups}. Time-slicing has no memory isolation, so the last "
                f"to load runs out of memory (and may take the others down); keep their heavy jobs apart, or lower "
                f"active_max_gib (smaller models) until the sum fits"
            )
        card = known_card(self.card)
        if card is not None and card.vram_gib != self.vram_gib:
            warnings.append(
                f"card {self.card!r} has {gib(card.vram_gib)} GiB of VRAM ({card.name}), but "
                f"SharedGpuProps.vram_gib says {gib(self.vram_gib)} GiB: a mistyped VRAM defeats the budget. "
                f"Fix: set vram_gib={gib(card.vram_gib)}, or name the card exactly if it is another model"
            )
        return warnings

    # Table --------------------------------------------------------------------------------------

    def rows(self) -> list[BudgetRow]:
        """One row per app, then the total and the card."""
        rows = [
            BudgetRow(
                app=a.name,
                idle=f"{gib(a.vram.idle_gib)} GiB",
                active=f"{gib(a.vram.active_min_gib)}-{gib(a.vram.active_max_gib)} GiB",
                unload=a.idle_unload.describe() if a.idle_unload else "none",
            )
            for a in self.apps
        ]
        rows.append(
            BudgetRow(
                app="total",
                idle=f"{gib(self.total_idle_gib)} GiB",
                active=f"{gib(self.total_active_min_gib)}-{gib(self.total_active_max_gib)} GiB",
                unload="",
            )
        )
        rows.append(
            BudgetRow(
                app=f"card: {self.card}",
                idle=f"{gib(self.vram_gib)} GiB",
                active=f"{gib(self.vram_gib)} GiB",
                unload=f"{self.slices_used} of {self.replicas} time-slicing slices used",
            )
        )
        return rows


class Budgeted(Protocol):
    """Anything with a VRAM budget (a SharedGpu): budget_rows and budget_markdown take it or a GpuBudget."""

    def budget(self) -> GpuBudget:
        """The card's VRAM table and verdicts."""


def budget_rows(gpu: Budgeted | GpuBudget) -> list[BudgetRow]:
    """The VRAM table of a card: per app idle, active range and unload policy; then total and card."""
    return _budget(gpu).rows()


def _budget(gpu: Budgeted | GpuBudget) -> GpuBudget:
    return gpu if isinstance(gpu, GpuBudget) else gpu.budget()


_HEADERS = ("App", "Idle", "Active", "Unloads when idle")


def budget_markdown(gpu: Budgeted | GpuBudget) -> str:
    """The VRAM table and its verdicts as Markdown, for the docs."""
    budget = _budget(gpu)
    lines = [
        f"| {' | '.join(_HEADERS)} |",
        f"|{'|'.join('---' for _ in _HEADERS)}|",
    ]
    for row in budget.rows():
        app = row.app if row.app in {a.name for a in budget.apps} else f"**{row.app}**"
        lines.append(f"| {app} | {row.idle} | {row.active} | {row.unload} |")
    lines.append("")
    lines.extend(_verdict_lines(budget, bullet="- ", bold=True))
    return "\n".join(lines) + "\n"


def budget_text(gpu: Budgeted | GpuBudget) -> str:
    """The VRAM table and its verdicts as aligned plain text, for the terminal."""
    budget = _budget(gpu)
    table = [_HEADERS, *((r.app, r.idle, r.active, r.unload) for r in budget.rows())]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEADERS))]
    lines = [f"GPU {budget.card}: {gib(budget.vram_gib)} GiB VRAM, {budget.replicas} time-slicing slices", ""]
    for row in table:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    lines.append("")
    lines.extend(_verdict_lines(budget, bullet="", bold=False))
    return "\n".join(lines) + "\n"


def _verdict_lines(budget: GpuBudget, *, bullet: str, bold: bool) -> list[str]:
    verdicts = budget.verdicts()
    if not verdicts:
        ok = "fits: every app's max active fits the card at the same time"
        return [f"{bullet}{'**OK**' if bold else 'ok'}: {ok}"]
    lines = []
    for v in verdicts:
        label = v.severity.value
        lines.append(f"{bullet}{f'**{label.capitalize()}**' if bold else label}: {v.message}")
    return lines
