"""docs/api.md, generated from the code: every public name, each props field with its type, default and doc.

The field docs are the attribute docstrings written under each attrs field, read from the source;
the reference therefore says what the code says, and a test keeps the committed page in step.
Run ``python -m homelab_ai.cli.api_reference docs/api.md`` (``make synth`` and ``make docs`` do).
"""

from __future__ import annotations

import ast
import enum
import functools
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import attrs
from constructs import Construct

import homelab_ai

_NO_DOC = ""
# Section order of the page; each public name lands in exactly one.
_KINDS = ("Constructs", "Props and values", "Enumerations", "Protocols", "Functions", "Errors")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.cache
def _class_body(cls: type) -> list[ast.stmt]:
    """The statements of ``cls``'s body (parsed once per class: each public class is read by several sections)."""
    source = textwrap.dedent(inspect.getsource(cls))
    return ast.parse(source).body[0].body  # type: ignore[attr-defined]


def field_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}`` of the string literals written right under each annotated field of ``cls``."""
    body = _class_body(cls)
    docs: dict[str, str] = {}
    for field, after in zip(body, [*body[1:], None], strict=True):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[field.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _annotations(cls: type) -> dict[str, str]:
    return {
        node.target.id: ast.unparse(node.annotation)
        for node in _class_body(cls)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }


def _markdown(doc: str) -> str:
    """Docstrings are written in reST (``code``, :func:`name`); the page is Markdown (`code`)."""
    doc = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", doc)
    return doc.replace("``", "`")


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return text.replace("\n", " ").replace("|", "\\|")


def _anchor(name: str) -> str:
    """GitHub's id for the heading ``### `name```: lower case, punctuation dropped."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower())


def _linked_type(annotation: str) -> str:
    """The annotation as code, with each public homelab_ai name a link to its section."""
    parts: list[str] = []
    position = 0
    for match in _IDENTIFIER.finditer(annotation):
        if match.group() in homelab_ai.__all__:
            parts.append(f"`{annotation[position : match.start()]}`" if match.start() > position else "")
            parts.append(f"[`{match.group()}`](#{_anchor(match.group())})")
            position = match.end()
    if position < len(annotation):
        parts.append(f"`{annotation[position:]}`")
    return "".join(parts)


def _value(value: Any) -> str:
    """A default as a reader would write it: ``SecurityProfile()``, ``LbProvider.METALLB``, ``(443,)``."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if attrs.has(type(value)):
        # The fields that differ from their defaults: what a reader would have to write.
        given = [
            f"{field.name}={_value(getattr(value, field.name))}"
            for field in attrs.fields(type(value))
            if not _is_default(field, getattr(value, field.name))
        ]
        return f"{type(value).__name__}({', '.join(given)})"
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, tuple):
        items = [_value(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return repr(value)


def _is_default(field: attrs.Attribute[Any], value: Any) -> bool:
    if field.default is attrs.NOTHING:
        return False
    if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
        return bool(value == field.default.factory())  # type: ignore[union-attr]
    return bool(value == field.default)


def _duration(value: timedelta) -> str:
    """``timedelta(minutes=5)`` rather than ``datetime.timedelta(seconds=300)``."""
    seconds = value.total_seconds()
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds and seconds % size == 0:
            return f"timedelta({unit}={int(seconds // size)})"
    return f"timedelta(seconds={seconds:g})"


def _default(field: attrs.Attribute[Any]) -> str:
    if field.default is attrs.NOTHING:
        return "required"
    if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
        return f"`{_value(field.default.factory())}`"  # type: ignore[union-attr]
    return f"`{_value(field.default)}`"


def _signature(function: Callable[..., Any], name: str) -> str:
    """``name(params) -> returns`` as written (annotations are strings under ``from __future__ import annotations``)."""
    signature = inspect.signature(function)
    params = []
    star_done = False
    for param in signature.parameters.values():
        if param.name == "self":
            continue
        if param.kind is param.KEYWORD_ONLY and not star_done:
            params.append("*")
            star_done = True
        if param.kind is param.VAR_POSITIONAL:
            star_done = True
        text = param.name
        text = f"*{text}" if param.kind is param.VAR_POSITIONAL else text
        text = f"**{text}" if param.kind is param.VAR_KEYWORD else text
        if param.annotation is not param.empty:
            text += f": {param.annotation}"
        if param.default is not param.empty:
            text += f" = {_value(param.default)}"
        params.append(text)
    returns = signature.return_annotation
    arrow = f" -> {returns}" if returns is not signature.empty and returns != "None" else ""
    return f"{name}({', '.join(params)}){arrow}"


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or _NO_DOC
    return _markdown(doc.split("\n\n")[0].replace("\n", " "))


def _kind(obj: object) -> str:
    if inspect.isclass(obj) and issubclass(obj, Construct):
        return "Constructs"
    if inspect.isclass(obj) and attrs.has(obj):
        return "Props and values"
    if inspect.isclass(obj) and issubclass(obj, enum.Enum):
        return "Enumerations"
    if inspect.isclass(obj) and issubclass(obj, Exception):
        return "Errors"
    if inspect.isclass(obj) and Protocol in getattr(obj, "__mro__", ()):
        return "Protocols"
    return "Functions"


def _members(cls: type) -> Iterator[str]:
    """One line per public property and method the class itself defines."""
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            returns = (member.fget.__annotations__.get("return") if member.fget else None) or ""
            kind = f": {returns}" if returns else ""
            yield f"- `{name}{kind}` (property): {_summary(member)}"
        elif inspect.isfunction(member):
            yield f"- `{_signature(member, name)}`: {_summary(member)}"


def _props_class(obj: type) -> str | None:
    """The props class a construct takes, when it is public: linked under the construct's signature."""
    annotation = inspect.signature(obj.__init__).parameters.get("props")
    name = str(annotation.annotation) if annotation is not None else ""
    return name if name in homelab_ai.__all__ else None


def _enum_value(member: enum.Enum) -> Any:
    """The value written to YAML: a member that wraps a binding's enum shows that enum's value."""
    value = member.value
    return value.value if isinstance(value, enum.Enum) else value


def _section(name: str, obj: Any) -> list[str]:
    lines = [f"### `{name}`", "", _markdown(inspect.getdoc(obj) or _NO_DOC), "", f"Module: `{obj.__module__}`", ""]
    if inspect.isclass(obj) and attrs.has(obj):
        docs, types = field_docs(obj), _annotations(obj)
        lines += ["| Field | Type | Default | Meaning |", "|---|---|---|---|"]
        for field in attrs.fields(obj):
            doc = _cell(_markdown(docs.get(field.name, _NO_DOC)))
            kind = _cell(_linked_type(types.get(field.name, "")))
            lines.append(f"| `{field.name}` | {kind} | {_cell(_default(field))} | {doc} |")
        lines.append("")
    elif inspect.isclass(obj) and issubclass(obj, enum.Enum):
        lines += [*(f"- `{m.name}` (`{_enum_value(m)!r}`)" for m in obj), ""]
    elif inspect.isclass(obj) and issubclass(obj, Construct | Exception):
        lines += [f"`{_signature(obj.__init__, name)}`", ""]
        props = _props_class(obj)
        lines += [f"Props: [`{props}`](#{_anchor(props)})", ""] if props else []
    elif callable(obj) and not inspect.isclass(obj):
        lines += [f"`{_signature(obj, name)}`", ""]
    if inspect.isclass(obj) and not issubclass(obj, enum.Enum | Exception):
        members = list(_members(obj))
        lines += [*members, ""] if members else []
    return lines


def render_api_reference() -> str:
    """The Markdown page: a contents list, then one section per kind of public name, each name once."""
    groups: dict[str, list[str]] = {}
    for name in sorted(homelab_ai.__all__):
        groups.setdefault(_kind(getattr(homelab_ai, name)), []).append(name)
    lines = [
        "<!-- Generated by `python -m homelab_ai.cli.api_reference docs/api.md` (`make synth`): do not edit. -->",
        "# homelab_ai API reference",
        "",
        "Everything below is importable as `from homelab_ai import NAME`. A construct takes "
        "`(scope, id, props)`; its props are a frozen `attrs` class with keyword arguments, and a bad "
        "value is refused when the props object is built, with the field and the fix in the message. "
        "Each field's doc states its default and, for numbers and durations, its unit.",
        "",
        "## Contents",
        "",
    ]
    kinds = [kind for kind in _KINDS if kind in groups]
    for kind in kinds:
        links = ", ".join(f"[`{name}`](#{_anchor(name)})" for name in groups[kind])
        lines.append(f"- **{kind}**: {links}")
    lines.append("")
    for kind in kinds:
        lines += [f"## {kind}", ""]
        for name in groups[kind]:
            lines += _section(name, getattr(homelab_ai, name))
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str], write: Callable[[Path, str], object] = Path.write_text) -> int:
    """Write the page to ``argv[0]`` (default docs/api.md)."""
    target = Path(argv[0]) if argv else Path("docs/api.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    write(target, render_api_reference())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
