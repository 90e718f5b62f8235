"""The CLI's last resort: an error raised while the chart is built reaches the user as one line.

Every command loads the chart through ``homelab_ai.synth.project.load_build``, which wraps the
build function with :func:`guarded`, so each command (and any new one) reports the same way.

Props validate themselves (homelab_ai.base.validators), so a bad value is normally a
HomelabConfigError already. Whatever else building the chart raises because of what the user
wrote (a TypeError from a misspelt keyword, a ValueError from a converter or from the standard
library, a RuntimeError from cdk8s such as a construct id used twice) becomes the same
``Props.field: problem. Fix: how`` message, exit code 1, no traceback. The field is named when
the traceback shows an attrs ``__init__`` (the line it failed on names the field), else the
user's own line is named.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import attrs

from homelab_ai.base.errors import HomelabConfigError

T = TypeVar("T")

# What building the chart may raise because of what the user wrote; anything else is a bug and keeps its traceback.
BUILD_ERRORS = (TypeError, ValueError, RuntimeError, AttributeError, KeyError)

_ATTRS_INIT = "<attrs generated"
_FIELD_IN_INIT = re.compile(r"__attr_(?:converter|validator|factory)_(\w+)|_setattr\('(\w+)'|self\.(\w+) = ")
_UNEXPECTED = re.compile(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'")
_MISSING = re.compile(r"(\w+)\.__init__\(\) missing \d+ required (?:keyword-only |positional )?arguments?: (.+)")
_LIBRARY = Path(__file__).resolve().parent.parent  # homelab_ai/
# Set to 1 to get the original traceback instead of the one-line message (for debugging homelab_ai itself).
DEBUG_ENV = "HOMELAB_AI_DEBUG"


def _frames(exc: BaseException) -> list[tuple[types.FrameType, int]]:
    """The traceback's frames, outermost first, with the line each was on."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _attrs_field(exc: BaseException) -> str | None:
    """``Props.field`` when the error came out of an attrs ``__init__`` (its converter or a validator)."""
    for frame, line in reversed(_frames(exc)):
        if not frame.f_code.co_filename.startswith(_ATTRS_INIT) or frame.f_code.co_name != "__init__":
            continue
        instance = frame.f_locals.get("self")
        match = _FIELD_IN_INIT.search(linecache.getline(frame.f_code.co_filename, line))
        if instance is not None and match:
            return f"{type(instance).__name__}.{next(g for g in match.groups() if g)}"
    attribute = exc.args[1] if len(exc.args) > 1 else None  # attrs' instance_of: (message, attribute, type, value)
    if isinstance(attribute, attrs.Attribute):
        return attribute.name
    return None


def _user_line(exc: BaseException) -> str | None:
    """``file:line`` of the innermost frame outside homelab_ai, the standard library and site-packages."""
    for frame, line in reversed(_frames(exc)):
        name = frame.f_code.co_filename
        if name.startswith("<"):
            continue
        path = Path(name).resolve()
        if path.is_relative_to(_LIBRARY) or "site-packages" in path.parts or path.is_relative_to(Path(sys.prefix)):
            continue
        if path.is_relative_to(Path(sys.base_prefix)):
            continue
        try:
            shown = path.relative_to(Path.cwd())
        except ValueError:
            shown = path
        return f"{shown}:{line}"
    return None


def _fields_of(exc: BaseException, class_name: str) -> list[str] | None:
    """The field names of the attrs class ``class_name`` as the user's code sees it, when it can be found."""
    for frame, _ in reversed(_frames(exc)):
        candidate = frame.f_globals.get(class_name) or frame.f_locals.get(class_name)
        if isinstance(candidate, type) and attrs.has(candidate):
            return [f.name for f in attrs.fields(candidate) if f.init]
    return None


def explain(exc: BaseException) -> HomelabConfigError:
    """The one-line form of an error raised while building the chart."""
    if isinstance(exc, HomelabConfigError):
        return exc
    message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    message = message.removeprefix("Error: ")
    where = _user_line(exc)
    at = f" (at {where})" if where else ""
    unexpected = _UNEXPECTED.search(message)
    if unexpected:
        cls, name = unexpected.groups()
        fields = _fields_of(exc, cls)
        fix = f"use one of its fields: {', '.join(fields)}" if fields else f"check the spelling against {cls}'s fields"
        return HomelabConfigError(f"{cls}.{name}", f"{cls} has no field {name!r}{at}", fix)
    missing = _MISSING.search(message)
    if missing:
        cls, names = missing.groups()
        first = re.findall(r"'(\w+)'", names)
        field = f"{cls}.{first[0]}" if first else cls
        return HomelabConfigError(field, f"is required but was not given{at}", f"pass {', '.join(first) or names}")
    field = _attrs_field(exc)
    if field is not None and "." in field:
        return HomelabConfigError(field, f"{message}{at}", "give a value of the type and form the field's doc names")
    return HomelabConfigError(
        where or type(exc).__name__,
        f"building the chart failed with {type(exc).__name__}: {message}",
        "correct the value or the call on that line (every prop is documented on its props class; "
        f"{DEBUG_ENV}=1 shows the traceback)",
    )


def guarded(build: Callable[[], T]) -> Callable[[], T]:
    """``build`` with the errors a user's chart can raise turned into HomelabConfigError."""

    def run() -> T:
        try:
            return build()
        except HomelabConfigError:
            raise
        except BUILD_ERRORS as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            raise explain(exc) from exc

    return run
