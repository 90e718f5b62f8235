"""Synthesize a cdk8s App into a GitOps folder tree, all or nothing.

Validation runs first and refuses with every problem at once. Manifests are rendered to a
staging folder beside the target and swapped in by one atomic rename when complete
(homelab_ai.synth.dist_writer), so a failed or killed synth leaves an existing ``dist/`` exactly
as it was. SOPS files are copied byte for byte.

Output is deterministic: one file per object named ``<kind>-<name>.yaml``, files and
kustomization resources in sorted order, no timestamps. Constructs that check the output itself
(e.g. a Flux Kustomization whose folder must exist) define ``output_problems(files) -> list[str]``
over the ``{path: content}`` about to be written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs
import cdk8s
import yaml

from homelab_ai.base.construct_validation import collecting_checks
from homelab_ai.base.errors import SynthError
from homelab_ai.base.validators import typed_fields
from homelab_ai.secrets.sops_secret import SopsSecret, plaintext_secret_problems
from homelab_ai.synth.dist_writer import recover_output, write_tree
from homelab_ai.synth.reachability import DeclaredSecret, reachability_problems


@attrs.frozen(field_transformer=typed_fields)
class RenderedFile:
    """One file of the output tree, relative to the output root."""

    path: str
    content: bytes


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks, no anchors."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)

# libyaml's emitter (PyYAML's C extension, in every PyYAML wheel): the same document in a tenth of the time; the
# pure-Python emitter spent most of a synth weighing each character of the in-pod programs the ConfigMaps carry.
_LibyamlDumper: type | None = None
if hasattr(yaml, "CSafeDumper"):

    class _LibyamlDumper(yaml.CSafeDumper):  # type: ignore[no-redef]
        """_Dumper, emitted by libyaml."""

        def ignore_aliases(self, data: object) -> bool:
            return True

    _LibyamlDumper.add_representer(str, _str_presenter)

# A longer key is written as an explicit `? key` entry by PyYAML (from 128 characters) but not by libyaml.
_SIMPLE_KEY_MAX = 100
# The line breaks of YAML 1.1 (PyYAML's emitter): a string ending in two of them is a `|+` block.
_BREAKS = ("\n", "\x85", "\u2028", "\u2029")


def _libyaml_writes_the_same(obj: object) -> bool:
    """Whether libyaml writes ``obj`` byte for byte as PyYAML's own emitter does, so the output never depends on
    which one ran: a mapping whose keys are non-empty, single-line, printable strings of at most 100 characters,
    and whose strings do not end in two line breaks. The two differ on empty, long or multi-line keys (`? key`), on
    a bare scalar document, and after a `|+` block (where libyaml ends the document with `...`)."""
    if not isinstance(obj, dict):
        return False
    pending: list[object] = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if not (isinstance(key, str) and 0 < len(key) <= _SIMPLE_KEY_MAX and key.isprintable()):
                    return False
                pending.append(value)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and item[-1:] in _BREAKS and (len(item) == 1 or item[-2] in _BREAKS):
            return False
    return True


def to_yaml(obj: object) -> str:
    """Block style, multi-line strings as literal blocks; libyaml when it writes the same bytes as PyYAML."""
    dumper = _LibyamlDumper if _LibyamlDumper is not None and _libyaml_writes_the_same(obj) else _Dumper
    return yaml.dump(obj, Dumper=dumper, sort_keys=False, default_flow_style=False, width=1_000_000)


def collect_warnings(app: cdk8s.App) -> list[str]:
    """Warnings from every construct that has a ``synth_warnings() -> list[str]`` method."""
    warnings: list[str] = []
    for construct in app.node.find_all():
        method = getattr(construct, "synth_warnings", None)
        if callable(method):
            warnings.extend(method())
    return warnings


def collect_problems(app: cdk8s.App) -> list[str]:
    """Every validation error in the construct tree, with the path of the construct that raised it."""
    problems: list[str] = []
    for construct in app.node.find_all():
        for message in construct.node.validate():
            problems.append(message)
    return problems


_NODE_VALIDATION_FAILED = "Validation failed with the following errors:"


def _render_charts(app: cdk8s.App) -> tuple[list[tuple[str, list]], list[str]]:
    """Each chart's id and manifests, or every validation problem.

    The validation is the pass cdk8s runs inside ``Chart.to_json()`` (see collecting_checks):
    walking the tree from Python (:func:`collect_problems`) costs two jsii round trips per
    construct: 30 ms of the ``ai`` namespace's 175 ms synth (bench/README.md). Problems from
    checks written in JavaScript keep cdk8s's construct path prefix (``[ai/Web/Hpa] message``).
    """
    charts = app.charts
    if not charts:
        return [], collect_problems(app)
    problems: list[str] = []
    rendered: list[tuple[str, list]] = []
    with collecting_checks() as checks:
        try:
            for chart in charts:
                rendered.append((chart.node.id, chart.to_json()))
        except RuntimeError as exc:
            message = str(exc).removeprefix("Error: ")
            if message.startswith(_NODE_VALIDATION_FAILED):
                problems = [line.strip() for line in message.removeprefix(_NODE_VALIDATION_FAILED).split("\n  ")]
                problems = [p for p in problems if p]
            elif not checks.problems:
                raise
            else:  # likely a consequence of the problems the checks found: report them all
                problems = [f"cdk8s could not render the charts: {message}"]
    return rendered, checks.problems + problems


def _file_name(manifest: Mapping) -> str:
    kind = str(manifest.get("kind", "object")).lower()
    name = manifest.get("metadata", {}).get("name", "unnamed")
    return f"{kind}-{name}.yaml"


def render(app: cdk8s.App, folders: Mapping[str, str]) -> list[RenderedFile]:
    """Render each chart into its folder: one file per object, a kustomization.yaml per folder.

    ``folders`` maps a chart's id to the folder it goes to; several charts may share a folder
    (a folder's cluster-scoped objects live in a chart without a namespace).
    """
    charts, problems = _render_charts(app)
    # Asking every object its kind costs a jsii round trip each (119 ms of a 100-app synth,
    # bench/README.md): look at the rendered manifests, and walk the tree for the messages (with
    # construct paths) only when there is a Secret, or when validation failed and nothing rendered.
    if problems or any(m.get("kind") == "Secret" for _, manifests in charts for m in manifests):
        problems += plaintext_secret_problems(app)
    if problems:
        raise SynthError(problems)
    tree = app.node.find_all()  # one walk (each hands every construct across jsii) for both loops below
    files: dict[str, bytes] = {}
    owners: dict[str, str] = {}

    def add(path: str, content: bytes, owner: str, what: str = "file") -> None:
        if path in files:
            problems.append(
                f"duplicate object: {what} is written twice to {path} (by {owner} and {owners[path]}); "
                "rename one of them"
            )
            return
        files[path] = content
        owners[path] = owner

    for chart_id, manifests in charts:
        if chart_id not in folders:
            problems.append(f"chart {chart_id!r} has no output folder; add it to the folder map")
            continue
        folder = folders[chart_id]
        for manifest in manifests:
            what = f"{manifest.get('kind')} metadata.name {manifest.get('metadata', {}).get('name')!r}"
            add(f"{folder}/{_file_name(manifest)}", to_yaml(manifest).encode(), f"chart {chart_id}", what)
    for construct in tree:
        if isinstance(construct, SopsSecret):
            folder = folders.get(cdk8s.Chart.of(construct).node.id)
            if folder is not None and construct.file.is_file():
                add(f"{folder}/{construct.output_name}", construct.file.read_bytes(), construct.node.path)
    if problems:
        raise SynthError(problems)
    for construct in tree:
        check = getattr(construct, "output_problems", None)
        if callable(check):
            problems.extend(check(files))
    declared = [
        DeclaredSecret(namespace=c.namespace or "default", name=c.name, keys=c.keys)
        for c in tree
        if isinstance(c, SopsSecret)
    ]
    problems.extend(reachability_problems([m for _, manifests in charts for m in manifests], declared))
    if problems:
        raise SynthError(problems)
    for folder in sorted(set(folders.values())):
        resources = sorted(Path(p).name for p in files if Path(p).parent == Path(folder))
        if resources:
            kustomization = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            }
            files[f"{folder}/kustomization.yaml"] = to_yaml(kustomization).encode()
    return [RenderedFile(path, content) for path, content in sorted(files.items())]


def write_atomically(files: list[RenderedFile], outdir: Path, *, overwrite: bool = False) -> None:
    """Make ``files`` the whole content of ``outdir`` in one atomic swap (homelab_ai.synth.dist_writer).

    Refuses (OutputError) a target the synth did not write unless ``overwrite``, and turns every
    file-system error into an OutputError that names the path and the fix, leaving nothing behind.
    """
    write_tree(files, outdir, overwrite=overwrite)


def synthesize(
    build: Callable[[], tuple[cdk8s.App, Mapping[str, str]]],
    outdir: Path,
    *,
    strict: bool = False,
    warn: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> list[RenderedFile]:
    """Build the app, validate and render it, then replace ``outdir`` with the result.

    Warnings go to ``warn`` (stderr by default); ``strict`` refuses on any warning instead.
    ``overwrite`` replaces an ``outdir`` the synth did not write (see write_atomically).
    """
    recover_output(outdir)
    app, folders = build()
    warnings = collect_warnings(app)
    if strict and warnings:
        raise SynthError([f"(strict) {w}" for w in warnings])
    files = render(app, folders)
    for message in warnings:
        (warn or _stderr_warning)(message)
    write_atomically(files, outdir, overwrite=overwrite)
    return files


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
