"""What a healthy cluster shows: the vocabulary of ``homelab-ai doctor`` and of the docs' "When something is wrong".

An :class:`Expectation` is one thing the chart expects of the live cluster (a node's GPU slices,
a Service's IP, a Job that succeeded), of a :class:`CheckKind` that says how it is checked and what
a user sees when it is wrong. They are derived from the construct tree (homelab_ai.synth.expectations);
a construct of any layer may add its own by defining ``doctor_expectations() -> list[Expectation]``
(the doctor then needs a probe for its kind, in homelab_ai.ops.probes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from homelab_ai.base.validators import typed_fields


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class CheckKind:
    """One kind of check: the same for every subject it applies to."""

    id: str
    """Stable id, used in ``--json`` output and by scripts, e.g. ``gpu-slices`` (no default)."""
    title: str
    """A few words for headings, e.g. ``GPU slices`` (no default)."""
    symptom: str
    """What a user sees when it is wrong, in a sentence (no default)."""
    looks_at: str
    """What the doctor reads, in a sentence naming the kubectl calls (no default)."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class Expectation:
    """One subject the chart expects to find in a state, and what usually fixes it when it is not."""

    kind: CheckKind
    """The kind of check (no default)."""
    subject: str
    """What it is about, e.g. ``Service ai/open-webui`` (no default)."""
    expect: str
    """The healthy state in a line, e.g. ``gets 10.10.2.25 from a MetalLB IPAddressPool`` (no default)."""
    fix: str
    """The command or step that usually fixes it (no default); a probe may give a more precise one."""
    data: Mapping[str, Any] = attrs.field(factory=dict)
    """What the probe compares the cluster with: names, numbers (default empty)."""
