"""The upstream contract: every knob the chart turns on an upstream app, and the file that defines it.

An app's contract is one table for one pinned version: each env var, CLI flag, API path, port,
UID/GID and writable path the chart (or an in-pod program) relies on, with the upstream file,
tag and lines where that knob is defined at that version. Tests hold the rendered ``dist/`` to it
(nothing set that the table lacks, no row without a source), so a version bump is a reviewed
change of one table, not a hunt through manifests. The tables live beside their constructs
(``homelab_ai/services/<app>/contract.py``, ``homelab_ai/gpu/device_plugin_contract.py``).
"""

from __future__ import annotations

import enum

import attrs

from homelab_ai.base.validators import as_tuple, typed_fields
from homelab_ai.base.values import ContainerImage


class KnobKind(enum.Enum):
    """What kind of interface a knob is; the contract test finds each kind in a different place."""

    ENV = "env var"
    FLAG = "CLI flag"
    API_PATH = "API path"
    PORT = "port"
    USER = "UID/GID"
    WRITABLE_PATH = "writable path"
    CHART_VALUE = "chart value"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class Source:
    """Where upstream defines a knob: ``repo`` (owner/name) at ``ref`` (a tag), file ``path``, ``lines``.

    ``read_at_ref`` is False when that exact file at that exact tag could not be read (the row
    then says in ``note`` what was read instead); such rows are listed in the docs as unverified.
    """

    repo: str
    """GitHub owner/name of the upstream project, e.g. 'ollama/ollama'."""
    path: str
    """File inside the repository, e.g. 'envconfig/config.go'."""
    ref: str
    """The git tag (or, for a floating build, the branch) the lines refer to, e.g. 'v0.32.15'."""
    lines: str = ""
    """Line or range in that file, e.g. 'L111-124'; empty when the whole file is the definition."""
    read_at_ref: bool = True
    """Whether the file was read at exactly ``ref`` (default True)."""
    note: str = ""
    """What was read instead when ``read_at_ref`` is False, or a remark; default empty."""

    def __str__(self) -> str:
        lines = f"#{self.lines}" if self.lines else ""
        return f"{self.repo}/{self.path}@{self.ref}{lines}"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class Knob:
    """One knob: its kind, its exact name as the chart writes it, what it does, and its source."""

    kind: KnobKind
    """Env var, flag, API path, port, UID/GID, writable path or chart value."""
    name: str
    """The exact spelling: 'OLLAMA_HOST', '--api-auth', 'GET /api/version', '11434', '1000:1000', '/tmp'."""
    meaning: str
    """One line: what the chart uses it for (and the upstream default when it matters)."""
    source: Source | None
    """The upstream definition; a row without one fails the contract test."""
    changed: str = ""
    """What changed about this knob since the previous pin (name, default, shape); empty when nothing did."""
    database_keys: tuple[str, ...] = ()
    """For an Open WebUI env var that seeds database-backed settings: their keys ('image_generation.enable');
    default none (an env var read directly on every start)."""


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class AppContract:
    """The knobs of one app at one pinned version (image tag or chart version)."""

    app: str
    """Display name, e.g. 'Ollama'."""
    version: str
    """The upstream release the table was checked against, e.g. '0.32.15'."""
    image: ContainerImage | None
    """The pinned image (None for a Helm chart, whose version is ``version``)."""
    previous_version: str
    """The release pinned before this table; the ``changed`` notes compare against it."""
    image_source: Source
    """Where upstream publishes the pinned tag (release workflow, official-images entry, Chart.yaml)."""
    knobs: tuple[Knob, ...] = attrs.field(converter=as_tuple)
    """Every knob the chart uses, one row each."""
    pin_gap: str = ""
    """Why the pin is not yet immutable (a floating tag without a digest); empty for a proper pin."""

    def named(self, kind: KnobKind) -> set[str]:
        """The names of the knobs of ``kind``."""
        return {knob.name for knob in self.knobs if knob.kind is kind}

    def knob(self, kind: KnobKind, name: str) -> Knob | None:
        """The row for ``name`` of ``kind``, or None."""
        return next((k for k in self.knobs if k.kind is kind and k.name == name), None)
