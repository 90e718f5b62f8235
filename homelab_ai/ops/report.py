"""The doctor's findings and their two forms: lines for people, JSON (schema beside this file) for scripts."""

from __future__ import annotations

import enum
import json
from importlib import resources
from typing import Any

import attrs

from homelab_ai.base.expectations import Expectation
from homelab_ai.base.validators import as_tuple, typed_fields

SCHEMA_FILE = "doctor_report.schema.json"
REPORT_VERSION = 1


class Verdict(enum.Enum):
    """ok: as the chart expects; warn: works but needs a look; fail: broken, ``doctor`` exits 1."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class Finding:
    """What the doctor found for one expectation."""

    expectation: Expectation
    """What was checked (no default)."""
    verdict: Verdict
    """ok, warn or fail (no default)."""
    evidence: tuple[str, ...] = attrs.field(converter=as_tuple)
    """What the cluster showed, one line each (no default)."""
    fix: str | None = None
    """How to fix it; the expectation's own fix when None and the verdict is not ok (default None)."""

    @property
    def check(self) -> str:
        return self.expectation.kind.id

    @property
    def fix_text(self) -> str | None:
        if self.verdict is Verdict.OK:
            return None
        return self.fix or self.expectation.fix


def ok(expectation: Expectation, *evidence: str) -> Finding:
    return Finding(expectation=expectation, verdict=Verdict.OK, evidence=evidence)


def warn(expectation: Expectation, *evidence: str, fix: str | None = None) -> Finding:
    return Finding(expectation=expectation, verdict=Verdict.WARN, evidence=evidence, fix=fix)


def fail(expectation: Expectation, *evidence: str, fix: str | None = None) -> Finding:
    return Finding(expectation=expectation, verdict=Verdict.FAIL, evidence=evidence, fix=fix)


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class Report:
    """Every finding of one run, in the order of the expectations."""

    findings: tuple[Finding, ...] = attrs.field(converter=as_tuple)
    """One per expectation (no default)."""
    context: str | None = None
    """The kubeconfig context asked for; None for the current one (default None)."""
    app: str = ""
    """The chart app, ``MODULE:FUNCTION`` (default empty)."""

    @property
    def verdict(self) -> Verdict:
        verdicts = {f.verdict for f in self.findings}
        for worst in (Verdict.FAIL, Verdict.WARN):
            if worst in verdicts:
                return worst
        return Verdict.OK

    def count(self, verdict: Verdict) -> int:
        return sum(1 for f in self.findings if f.verdict is verdict)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document; its schema is ``doctor_report.schema.json``."""
        return {
            "version": REPORT_VERSION,
            "app": self.app,
            "context": self.context,
            "verdict": self.verdict.value,
            "summary": {v.value: self.count(v) for v in Verdict},
            "findings": [
                {
                    "check": f.check,
                    "title": f.expectation.kind.title,
                    "subject": f.expectation.subject,
                    "expect": f.expectation.expect,
                    "verdict": f.verdict.value,
                    "evidence": list(f.evidence),
                    "fix": f.fix_text,
                }
                for f in self.findings
            ],
        }

    def to_text(self) -> str:
        width = max((len(f.check) for f in self.findings), default=10)
        lines = [f"homelab-ai doctor: {self.app or 'chart'} on context {self.context or '(current)'}", ""]
        for f in self.findings:
            label = f.verdict.value.upper() if f.verdict is not Verdict.OK else "ok"
            evidence = "; ".join(f.evidence) or f.expectation.expect
            lines.append(f"{label:<5} {f.check:<{width}}  {f.expectation.subject}: {evidence}")
            if f.fix_text:
                lines.append(f"{'':<5} {'':<{width}}  fix: {f.fix_text}")
        lines += ["", ", ".join(f"{self.count(v)} {v.value}" for v in Verdict)]
        return "\n".join(lines) + "\n"


def schema() -> dict[str, Any]:
    """The JSON schema of :meth:`Report.to_json`."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))
