"""Every attrs class of homelab_ai checks the type of each field, and every number is finite.

A value of the wrong type, NaN or infinity must be refused as ``Props.field: problem. Fix: how``
(a HomelabConfigError) when the props object is built: NaN passes every ``<`` and ``>`` check
(all comparisons with it are false), so one typo could switch off the GPU budget.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing

import attrs
import pytest

import homelab_ai
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.validators import _hints, is_typed


def _attrs_classes() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(homelab_ai.__path__, "homelab_ai."):
        if info.name.startswith("homelab_ai._crds") or info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and attrs.has(value) and value.__module__ == info.name:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


CLASSES = _attrs_classes()


def _numeric_fields() -> list[tuple[type, attrs.Attribute, type, bool]]:
    """(class, field, int or float, whether None is allowed) for every field annotated int or float (or None)."""
    result = []
    for cls in CLASSES:
        hints = _hints(cls)
        for field in attrs.fields(cls):
            annotation = hints.get(field.name)
            options = (
                set(typing.get_args(annotation)) if typing.get_origin(annotation) is types.UnionType else {annotation}
            )
            optional = type(None) in options
            options.discard(type(None))
            if options in ({int}, {float}):
                result.append((cls, field, options.pop(), optional))
    return result


NUMERIC = _numeric_fields()
NOT_A_NUMBER = [float("nan"), float("inf"), float("-inf"), "4", True, None, [4]]


def test_the_library_has_attrs_classes_and_numeric_fields_to_check():
    # Props of every layer: a walk that found nothing would make the tests below pass vacuously.
    assert len(CLASSES) >= 40
    assert {"SharedGpuProps.vram_gib", "VramEnvelope.active_max_gib", "SharedGpuProps.replicas"} <= {
        f"{cls.__name__}.{field.name}" for cls, field, _, _ in NUMERIC
    }


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_attrs_class_checks_the_type_of_every_field(cls):
    assert is_typed(cls), f"declare {cls.__name__} with @attrs.frozen(..., field_transformer=typed_fields)"


def _refusal(cls: type, field: attrs.Attribute, value: object) -> HomelabConfigError | None:
    instance = object.__new__(cls)  # the validators only name the class; the field's value is what is checked
    try:
        field.validator(instance, field, value)
    except HomelabConfigError as error:
        return error
    return None


@pytest.mark.parametrize(
    ("cls", "field", "kind", "optional"), NUMERIC, ids=[f"{c.__name__}.{f.name}" for c, f, _, _ in NUMERIC]
)
def test_every_numeric_field_refuses_non_finite_and_non_numbers_by_name(cls, field, kind, optional):
    bad = [v for v in NOT_A_NUMBER if not (v is None and optional)]
    if kind is int:
        bad += [2.5, 4.0]
    for value in bad:
        error = _refusal(cls, field, value)
        assert error is not None, f"{cls.__name__}.{field.name} accepted {value!r}"
        assert error.field == f"{cls.__name__}.{field.name}"
        assert "Fix:" in str(error)
