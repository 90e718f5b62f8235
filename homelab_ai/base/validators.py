"""attrs validators whose errors name the field and the fix.

Every prop class in homelab-ai uses these, so a bad value is refused when the props object is
built: long before anything is synthesized or written.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import math
import os
import re
import types
import typing
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from homelab_ai.base.errors import HomelabConfigError

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_PLAIN_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# [registry/][namespace/]model[:tag], e.g. llama3.2, qwen2.5:14b, library/x:tag, hf.co/user/repo:Q4_K_M.
_OLLAMA_MODEL = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*){0,2}(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$"
)

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def field_name(instance: Any, attribute: attrs.Attribute[Any]) -> str:
    """`Props.field`, the way an error message names a field."""
    return f"{type(instance).__name__}.{attribute.name}"


def dns1123_label(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """Kubernetes object and port names: lower-case alphanumerics and '-', at most 63 characters."""
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a DNS-1123 label",
            "use lower-case letters, digits and '-', start and end with a letter or digit, "
            "at most 63 characters (e.g. 'open-webui')",
        )


def dns1123_subdomain(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """Names that may contain dots (storage classes, runtime classes), at most 253 characters."""
    if not isinstance(value, str) or len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a DNS-1123 subdomain",
            "use lower-case letters, digits, '-' and '.', at most 253 characters",
        )


def ipv4(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A single IPv4 address such as 10.10.2.25 (no CIDR, no host name)."""
    try:
        ipaddress.IPv4Address(value)
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not an IPv4 address",
            "give a dotted-quad address from your load-balancer pool, e.g. '10.10.2.25'",
        ) from None


def is_number(value: object) -> bool:
    """An int or a float that is finite: not a bool, not NaN, not infinite (every comparison with NaN is false)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def port(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    """A TCP port, 1..65535."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a TCP port",
            "use an integer between 1 and 65535",
        )


def positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """Strictly greater than zero and finite (sizes, counts, CPU)."""
    if not is_number(value) or value <= 0:
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} must be a finite number greater than zero",
            "give a positive number (not NaN or infinity)",
        )


def non_negative(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """Zero or more and finite (idle VRAM may be zero)."""
    if not is_number(value) or value < 0:
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} must be a finite number of zero or more",
            "give 0 or a positive number (not NaN or infinity)",
        )


def positive_duration(instance: Any, attribute: attrs.Attribute[Any], value: timedelta) -> None:
    """A timedelta longer than zero, whole seconds."""
    if not isinstance(value, timedelta) or value <= timedelta(0) or value.microseconds:
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} must be a positive datetime.timedelta of whole seconds",
            "pass e.g. timedelta(minutes=5)",
        )


def duration_between(low: timedelta, high: timedelta) -> Validator:
    """A timedelta of whole seconds from ``low`` to ``high`` (both included)."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: timedelta) -> None:
        if not isinstance(value, timedelta) or not low <= value <= high or value.microseconds:
            raise HomelabConfigError(
                field_name(instance, attribute),
                f"{value!r} is not a timedelta of whole seconds from {low} to {high}",
                f"pass e.g. timedelta(minutes=2), at least {low} and at most {high}",
            )

    return check


def env_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """An environment variable name (C identifier)."""
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a valid environment variable name",
            "use letters, digits and '_', not starting with a digit",
        )


def secret_key(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A key inside a Secret's data."""
    if not isinstance(value, str) or not value or len(value) > 253 or not _SECRET_KEY.match(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a valid Secret key",
            "use letters, digits, '-', '_' and '.'",
        )


def env_mapping(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A mapping whose keys are environment variable names."""
    for key in value:
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise HomelabConfigError(
                field_name(instance, attribute),
                f"{key!r} is not a valid environment variable name",
                "use letters, digits and '_', not starting with a digit",
            )


def absolute_path(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """An absolute path inside a container, without a trailing slash."""
    if not isinstance(value, str) or not value.startswith("/") or (len(value) > 1 and value.endswith("/")):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not an absolute path",
            "start it with '/' and drop any trailing '/', e.g. '/app/backend/data'",
        )


def matches(pattern: str, fix: str) -> Validator:
    """A string matching ``pattern`` in full; the error tells ``fix``."""
    compiled = re.compile(pattern)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise HomelabConfigError(field_name(instance, attribute), f"{value!r} is not allowed here", fix)

    return check


def http_url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """An absolute http:// or https:// URL with a host (downloads, in-cluster services)."""
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not an http(s) URL",
            "give a full URL such as 'https://huggingface.co/<repo>/resolve/main/<file>'",
        )


def sha256_hex(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A sha256 digest as 64 hexadecimal characters (what `sha256sum` prints)."""
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a sha256 digest",
            "give the file's 64 hex character sha256 (e.g. from `sha256sum FILE` or the download page)",
        )


def plain_file_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A file name without folders: no '/', no leading '.', no spaces, at most 200 characters."""
    if not isinstance(value, str) or len(value) > 200 or not _PLAIN_FILE_NAME.fullmatch(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a plain file name",
            "use letters, digits, '.', '_', '+' and '-', starting with a letter or digit and without "
            "'/' (e.g. 'sd_xl_base_1.0.safetensors')",
        )


def ollama_model_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """An Ollama model reference: ``[registry/][namespace/]model[:tag]``."""
    if not isinstance(value, str) or len(value) > 250 or not _OLLAMA_MODEL.fullmatch(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not an Ollama model name",
            "use the name `ollama pull` takes, e.g. 'llama3.2', 'qwen2.5:14b' or 'library/llama3.2:3b'",
        )


_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_CRON_FIELD = re.compile(r"^(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?)*$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def label_problem(key: object, value: object) -> str | None:
    """Why ``key: value`` is not a valid Kubernetes label, or None when it is."""
    if not isinstance(key, str) or not isinstance(value, str):
        return f"{key!r}: {value!r} is not a pair of strings"
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return f"label key {key!r} has a prefix that is not a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return f"label key {key!r} is not a valid label name"
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return f"label value {value!r} (of {key!r}) is not a valid label value"
    return None


def label_mapping(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A non-empty mapping of Kubernetes labels (a selector that selects nothing in particular is refused)."""
    if not value:
        raise HomelabConfigError(
            field_name(instance, attribute),
            "no labels given: an empty selector would select every pod",
            "give the labels of the pods you mean, e.g. {'app.kubernetes.io/name': 'open-webui'}",
        )
    for key, label_value in value.items():
        problem = label_problem(key, label_value)
        if problem:
            raise HomelabConfigError(
                field_name(instance, attribute),
                problem,
                "keys are [prefix/]name with name <= 63 of letters, digits, '-', '_', '.'; values likewise",
            )


def whole_number(minimum: int, maximum: int | None = None) -> Validator:
    """An int (not a bool, not a float) between ``minimum`` and ``maximum``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        too_big = maximum is not None and isinstance(value, int) and value > maximum
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or too_big:
            span = f"between {minimum} and {maximum}" if maximum is not None else f"of {minimum} or more"
            raise HomelabConfigError(
                field_name(instance, attribute),
                f"{value!r} is not a whole number {span}",
                f"give an integer {span}",
            )

    return check


def cron(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A five-field cron schedule (minute hour day-of-month month day-of-week), numbers only."""
    fields = value.split() if isinstance(value, str) else []
    ok = len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)
    if ok:
        for text, (low, high) in zip(fields, _CRON_RANGES, strict=True):
            numbers = [int(n) for n in re.findall(r"[0-9]+", text.split("/")[0])]
            if any(not low <= n <= high for n in numbers):
                ok = False
    if not ok:
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a five-field cron schedule",
            "use 'minute hour day-of-month month day-of-week' with numbers, '*', ranges, lists and steps, "
            "e.g. '0 3 * * *' for daily at 03:00",
        )


def cidr(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """An IPv4 network in CIDR form, e.g. 10.0.0.0/8."""
    try:
        ipaddress.IPv4Network(value)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError, TypeError):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not an IPv4 network in CIDR form",
            "give a network address with its prefix length, e.g. '10.0.0.0/8' (host bits zero)",
        ) from None


def ports(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A tuple of TCP ports, each 1..65535, no duplicates."""
    for item in value:
        port(instance, attribute, item)
    if len(set(value)) != len(value):
        raise HomelabConfigError(field_name(instance, attribute), f"{value!r} lists a port twice", "list each once")


# Typed fields --------------------------------------------------------------------------------------
# Every attrs class in homelab_ai is declared with ``field_transformer=typed_fields``: each field
# first checks its value against the field's annotation, then runs its own validators. A string
# where an int belongs, NaN where a size belongs, or a list of the wrong things is refused as
# ``Props.field: problem. Fix: how`` (a HomelabConfigError), never as attrs' TypeError, and a
# field's own validator only ever sees a value of the declared type.


def as_tuple(value: Any) -> Any:
    """Converter: a list, set or generator becomes a tuple; anything else (a lone string, a number)
    is left as it is, so the field's type check refuses it by name instead of ``tuple()`` raising."""
    if isinstance(value, tuple):
        return value
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return tuple(value)
    return value


def as_dict(value: Any) -> Any:
    """Converter: a mapping becomes a plain dict; anything else is left for the type check to refuse."""
    return dict(value) if isinstance(value, Mapping) else value


def as_path(value: Any) -> Any:
    """Converter: a string or os.PathLike becomes a Path; anything else is left for the type check."""
    return Path(value) if isinstance(value, str | os.PathLike) else value


def _type_name(annotation: Any, *, bare: bool = False) -> str:
    """How a message names a type: 'a whole number (int)', 'a list of str', 'a SharedGpu or None'."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _type_name(a, bare=bare) for a in args)
    if origin is tuple:
        return f"a list of {_type_name(args[0], bare=True)}" if args else "a list"
    if origin in (dict, Mapping):
        return f"a dict of {_type_name(args[0], bare=True)} to {_type_name(args[1], bare=True)}" if args else "a dict"
    if annotation is float:
        return "number" if bare else "a finite number"
    if annotation is int:
        return "int" if bare else "a whole number (int)"
    if annotation is bool:
        return "bool" if bare else "True or False"
    name = getattr(annotation, "__name__", str(annotation))
    return name if bare else _article(name)


def _fix(annotation: Any, default: Any) -> str:
    """The fix for a value of the wrong type; an enum field's example is its default (or its first member)."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        example = default if isinstance(default, annotation) else next(iter(annotation), None)
        return f"give a member of {annotation.__name__}" + (f", e.g. {example}" if example is not None else "")
    return f"give {_type_name(annotation)}"


def _article(name: str) -> str:
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _got(value: object) -> str:
    """'4 is an int', 'None was given': what the user passed, for a message."""
    return "None was given" if value is None else f"{value!r} is {_article(type(value).__name__)}"


def _type_problem(value: Any, annotation: Any) -> str | None:
    """Why ``value`` is not of ``annotation`` (a resolved type hint), or None when it is."""
    if annotation is Any or annotation is object:
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return None
        problems = [_type_problem(value, a) for a in options]
        if any(p is None for p in problems):
            return None
        return problems[0] if len(options) == 1 else f"{_got(value)}, not {_type_name(annotation)}"
    if origin is typing.Literal:
        return None if value in args else f"{value!r} is not one of {', '.join(repr(a) for a in args)}"
    if annotation is type(None):
        return None if value is None else f"{value!r} is not None"
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{_got(value)}, not a number"
        return None if math.isfinite(value) else f"{value!r} is not a finite number"
    if annotation is int:
        if isinstance(value, float) and not math.isfinite(value):
            return f"{value!r} is not a finite number"
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{_got(value)}, not a whole number"
        return None
    if origin is tuple:
        if not isinstance(value, tuple):
            return f"{_got(value)}, not a list or tuple"
        item_type = args[0] if args else Any
        for index, item in enumerate(value):
            problem = _type_problem(item, item_type)
            if problem:
                return f"item {index}: {problem}"
        return None
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            return f"{_got(value)}, not a mapping"
        key_type, value_type = args or (Any, Any)
        for key, item in value.items():
            problem = _type_problem(key, key_type) or _type_problem(item, value_type)
            if problem:
                return f"entry {key!r}: {problem}"
        return None
    if origin is not None:  # another generic (Callable[...], ...): its origin is what can be checked
        annotation = origin
    if not isinstance(annotation, type):
        return None
    if getattr(annotation, "_is_protocol", False) and not getattr(annotation, "_is_runtime_protocol", False):
        return None  # a structural type: what it needs is checked where it is used
    if annotation is bool and not isinstance(value, bool):
        return f"{_got(value)}, not True or False"
    if not isinstance(value, annotation):
        return f"{_got(value)}, not {_type_name(annotation)}"
    return None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The class's resolved annotations (the modules use ``from __future__ import annotations``)."""
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):  # a name only imported for type checking: no check for that class
        return {}


def check_type(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Validator: ``value`` has the type the field is annotated with (floats finite, ints not bools)."""
    annotation = _hints(type(instance)).get(attribute.name)
    if annotation is None:
        return
    problem = _type_problem(value, annotation)
    if problem:
        raise HomelabConfigError(field_name(instance, attribute), problem, _fix(annotation, attribute.default))


class _Typed:
    """A field's own validator, then its type check; whatever the own validator raises on a value of
    the wrong type (TypeError, AttributeError, ...) becomes the type check's HomelabConfigError."""

    def __init__(self, own: Validator | None) -> None:
        self.own = own

    def __call__(self, instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if self.own is not None:
            try:
                self.own(instance, attribute, value)
            except HomelabConfigError:
                raise
            except (TypeError, ValueError, AttributeError, KeyError, IndexError):
                check_type(instance, attribute, value)
                raise
        check_type(instance, attribute, value)

    def __repr__(self) -> str:
        return f"<typed {self.own!r}>"


def typed_fields(cls: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    """attrs ``field_transformer``: every field runs its own validators (their messages are the most
    specific), then checks its type, so no field of the wrong type gets through unnamed."""
    return [field.evolve(validator=_Typed(field.validator)) for field in fields]


def is_typed(cls: type) -> bool:
    """Whether every field of the attrs class ``cls`` checks its type (it was built with typed_fields)."""
    return all(isinstance(field.validator, _Typed) for field in attrs.fields(cls))


def _dns_name_problem(value: object) -> str | None:
    """Why ``value`` is not a fully qualified DNS name (DNS-1123 subdomain of two labels or more)."""
    if not isinstance(value, str) or not value:
        return f"{value!r} is not a host name"
    if value.startswith("*"):
        return f"{value!r} is a wildcard, not one host"
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        return f"{value!r} is not a DNS-1123 name (lower-case letters, digits, '-' and '.', at most 253 characters)"
    if any(len(label) > 63 for label in value.split(".")):
        return f"{value!r} has a label longer than 63 characters"
    if "." not in value:
        return f"{value!r} is a single label; certificates and DNS records need a fully qualified name"
    return None


def host_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """One app's fully qualified host name, e.g. chat.home.example.com: no wildcard, no port, no scheme."""
    problem = _dns_name_problem(value)
    if problem:
        raise HomelabConfigError(
            field_name(instance, attribute),
            problem,
            "give the one name people type, in lower case with its domain, e.g. 'chat.home.example.com' "
            "(an app has one host name; a wildcard would send every name to it)",
        )


def certificate_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A name a TLS certificate can hold: a host name, or a wildcard in the leftmost label only (``*.example.com``).

    A wildcard covers exactly one label (RFC 6125 section 6.4.3; public CAs issue no other form), so
    ``a.*.example.com``, ``*.*.example.com`` and ``*.com`` are refused: no certificate can hold them.
    """
    if not isinstance(value, str):
        problem = _dns_name_problem(value)
    elif "*" in value.removeprefix("*."):
        problem = f"{value!r} has a wildcard that is not the whole leftmost label of a domain"
    elif value.startswith("*.") and value.count(".") == 1:
        problem = f"{value!r} would cover a whole top-level domain"
    else:
        problem = _dns_name_problem(value.removeprefix("*."))
    if problem is not None:
        raise HomelabConfigError(
            field_name(instance, attribute),
            problem,
            "list the names the certificate holds: host names, or '*.' followed by a domain of two labels or "
            "more (e.g. '*.home.example.com', which covers 'chat.home.example.com' but not 'home.example.com')",
        )


def certificate_covers(names: tuple[str, ...], host: str) -> bool:
    """Whether a certificate holding ``names`` is valid for ``host`` (a wildcard matches one leftmost label)."""
    for name in names:
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def host_names(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """At least one host name (see :func:`host_name`), each listed once."""
    if not value:
        raise HomelabConfigError(field_name(instance, attribute), "no host name given", "give at least one")
    for item in value:
        host_name(instance, attribute, item)
    if len(set(value)) != len(value):
        raise HomelabConfigError(field_name(instance, attribute), f"{value!r} lists a name twice", "list each once")


def https_site(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """Where people open a site: ``https://`` and a fully qualified host name, nothing after it."""
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    ok = parts is not None and parts.scheme == "https" and parts.path in ("", "/") and not parts.query
    ok = ok and not parts.fragment and not parts.port and _dns_name_problem(parts.hostname or "") is None  # type: ignore[union-attr]
    if not ok or value != value.strip() or (parts and parts.netloc != parts.hostname):  # type: ignore[union-attr]
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not an https:// address of one host",
            "give the address people open, e.g. 'https://chat.home.example.com' (no path, no port)",
        )


_WORD = re.compile(r"^[^\s,;\"'=]+$")


def string_tuple(value: object) -> tuple[str, ...]:
    """Converter: one string is one item (not its letters); any other iterable becomes a tuple."""
    return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]


def word(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """One name written into a comma-, semicolon- or space-separated setting: a client id, claim, role, group."""
    if not isinstance(value, str) or not _WORD.match(value):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{value!r} is not a single name",
            "use a name without spaces, commas, semicolons, quotes or '=' (it is written into a list setting)",
        )


def words(at_least: int = 0) -> Validator:
    """A tuple of :func:`word` names, each once, at least ``at_least`` of them."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if len(value) < at_least:
            raise HomelabConfigError(
                field_name(instance, attribute), f"{value!r} lists fewer than {at_least}", "list at least one"
            )
        for item in value:
            word(instance, attribute, item)
        if len(set(value)) != len(value):
            raise HomelabConfigError(field_name(instance, attribute), f"{value!r} lists a name twice", "list each once")

    return check


def short_label(maximum: int, why: str) -> Validator:
    """A DNS-1123 label of at most ``maximum`` characters: a name that something appends to (``why``)."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
        dns1123_label(instance, attribute, value)
        if len(value) > maximum:
            raise HomelabConfigError(
                field_name(instance, attribute),
                f"{value!r} is {len(value)} characters, too long {why}",
                f"use at most {maximum} characters",
            )

    return check
