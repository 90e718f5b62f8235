"""Does the baseline emit the objects homelab-ai renders? Names every object and field that differs.

``python -m bench.compare`` checks the ``ai`` namespace, ``python -m bench.compare --scale 5``
the generated chart; exit status 1 when anything differs. Files are compared as parsed YAML,
so a difference is a difference in what Kubernetes would get, not in formatting.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any, Protocol

import yaml

MAX_FIELDS_PER_OBJECT = 8


class _File(Protocol):
    path: str
    content: bytes


def parse(files: Iterable[_File]) -> dict[str, Any]:
    """{dist path: parsed document}."""
    return {item.path: yaml.safe_load(item.content) for item in files}


def describe(path: str, doc: Any) -> str:
    """``ai/deployment-x.yaml (Deployment x)``: where the object lands and what it is."""
    if isinstance(doc, dict) and "kind" in doc:
        name = (doc.get("metadata") or {}).get("name", "?")
        return f"{path} ({doc['kind']} {name})"
    return path


def field_differences(left: Any, right: Any, trail: str = "") -> list[str]:
    """Dotted paths where two parsed documents differ, with both values."""
    if isinstance(left, dict) and isinstance(right, dict):
        found: list[str] = []
        for key in sorted(set(left) | set(right), key=str):
            here = f"{trail}.{key}" if trail else str(key)
            if key not in right:
                found.append(f"{here}: only in homelab-ai ({_short(left[key])})")
            elif key not in left:
                found.append(f"{here}: only in baseline ({_short(right[key])})")
            else:
                found.extend(field_differences(left[key], right[key], here))
        return found
    if isinstance(left, list) and isinstance(right, list):
        found = []
        if len(left) != len(right):
            found.append(f"{trail}: {len(left)} items in homelab-ai, {len(right)} in baseline")
        for index, (a, b) in enumerate(zip(left, right, strict=False)):
            found.extend(field_differences(a, b, f"{trail}[{index}]"))
        return found
    if left != right or type(left) is not type(right):
        return [f"{trail or '(document)'}: homelab-ai {_short(left)} != baseline {_short(right)}"]
    return []


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(library: Iterable[_File], baseline: Iterable[_File]) -> list[str]:
    """One line per object only one side renders, and per differing field (empty: identical)."""
    lib, base = parse(library), parse(baseline)
    report: list[str] = []
    for path in sorted(set(lib) | set(base)):
        if path not in base:
            report.append(f"missing from baseline: {describe(path, lib[path])}")
        elif path not in lib:
            report.append(f"only in baseline: {describe(path, base[path])}")
        else:
            fields = field_differences(lib[path], base[path])
            if fields:
                shown = fields[:MAX_FIELDS_PER_OBJECT]
                more = len(fields) - len(shown)
                report.append(
                    f"differs: {describe(path, lib[path])}\n"
                    + "\n".join(f"    {line}" for line in shown)
                    + (f"\n    ... and {more} more" if more else "")
                )
    return report


def library_files(scale: int | None = None) -> list[_File]:
    """What homelab-ai renders for the ``ai`` namespace (or the generated chart of ``scale`` apps)."""
    from homelab_ai.synth.dist import render

    if scale is None:
        from apps.homelab import build

        app, folders = build()
    else:
        from bench import scale as generated

        app, folders = generated.build(scale)
    return list(render(app, folders))


def baseline_files(scale: int | None = None) -> list[_File]:
    from bench import baseline

    return list(baseline.synth(baseline.ai_namespace() if scale is None else baseline.scale(scale)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=None, help="compare the generated chart of N apps")
    args = parser.parse_args(argv)
    what = "ai namespace" if args.scale is None else f"generated chart of {args.scale} apps"
    lib = library_files(args.scale)
    base = baseline_files(args.scale)
    report = compare(lib, base)
    if report:
        print(f"baseline != homelab-ai for the {what}:", file=sys.stderr)
        for line in report:
            print(f"  {line}", file=sys.stderr)
        return 1
    same_bytes = {f.path: f.content for f in lib} == {f.path: f.content for f in base}
    print(
        f"baseline == homelab-ai for the {what}: {len(lib)} files, same parsed objects"
        + (", byte-identical" if same_bytes else " (formatting differs)")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
