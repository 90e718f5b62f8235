"""typed_fields, the attrs field transformer every props class is declared with, on small classes
defined here: a value of the wrong type, NaN or infinity is refused as ``Props.field: problem.
Fix: how`` (a HomelabConfigError), never as attrs' TypeError, and a field's own validator runs first.

tests/test_typed_props.py checks that every class of the library uses it, and tests/test_bad_input.py
shows the refusals through the CLI; these need no cdk8s, so `make mutate` runs them in its fast group.
The classes are declared inside the tests: the transformer runs when a class is declared.
"""

from __future__ import annotations

import enum
import os
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import attrs
import pytest

from homelab_ai.base import validators as v
from homelab_ai.base.errors import HomelabConfigError

NAN, INF = float("nan"), float("inf")


class Color(enum.Enum):
    """An enum field's fix names a member as an example."""

    RED = "red"
    BLUE = "blue"


class Empty(enum.Enum):
    """An enum without members: its fix has no example to give."""


class Endpoint:
    """A class whose name starts with a vowel: the message says 'an Endpoint'."""


class Gpu:
    """A class whose name starts with a consonant: 'a Gpu'."""


class Sized(Protocol):
    """A structural type: what it needs is checked where it is used, not by the field."""

    def size(self) -> int: ...


@typing.runtime_checkable
class Closable(Protocol):
    """A runtime-checkable protocol: isinstance() can check it, so the field does."""

    def close(self) -> None: ...


class _Closes:
    def close(self) -> None:
        """Makes this a Closable."""


class _Path(os.PathLike):
    """An os.PathLike that is not a str."""

    def __fspath__(self) -> str:
        return "/data/models"


T = typing.TypeVar("T")


def declare(annotation: str, **field: Any) -> type:
    """``@attrs.frozen(field_transformer=typed_fields) class Props: knob: <annotation>``."""
    namespace = {"__module__": __name__, "__annotations__": {"knob": annotation}, "knob": attrs.field(**field)}
    return attrs.frozen(type("Props", (), namespace), field_transformer=v.typed_fields)


def refusal(annotation: str, value: object, **field: Any) -> HomelabConfigError:
    with pytest.raises(HomelabConfigError) as caught:
        declare(annotation, **field)(value)
    assert caught.value.field == "Props.knob"
    return caught.value


def accepted(annotation: str, value: object, **field: Any) -> object:
    return declare(annotation, **field)(value).knob


def case_id(annotation: str, value: object) -> str:
    """A test id the same in every pytest-xdist worker: no object addresses."""
    text = repr(value)
    return f"{annotation}={type(value).__name__}" if " at 0x" in text else f"{annotation}={text}"


# What each annotation accepts -------------------------------------------------------------------

ACCEPTED = [
    ("int", 0),
    ("int", -3),
    ("float", 1),  # an int is a number
    ("float", 0.5),
    ("float", -1e300),
    ("bool", True),
    ("bool", False),
    ("str", ""),
    ("Any", NAN),
    ("object", "anything"),
    ("int | None", None),
    ("int | None", 5),
    ("typing.Optional[int]", None),
    ("typing.Union[int, str]", "x"),
    ("int | str", 4),
    ("typing.Literal['a', 'b']", "b"),
    ("None", None),
    ("tuple[int, ...]", ()),
    ("tuple[int, ...]", (1, 2)),
    ("typing.Tuple", ("x", 1.5)),
    ("tuple", ("x", 1.5)),
    ("dict[str, int]", {"a": 1}),
    ("Mapping[str, float]", {"a": 0.5}),
    ("typing.Dict", {1: "x"}),
    ("dict", {1: "x"}),
    ("Callable[[], int]", len),
    ("list[int]", ["not", "checked", "inside"]),
    ("Sized", 42),
    ("Closable", _Closes()),
    ("T", object()),
    ("Gpu", Gpu()),
    ("Color", Color.BLUE),
]


@pytest.mark.parametrize(("annotation", "value"), ACCEPTED, ids=[case_id(a, v) for a, v in ACCEPTED])
def test_a_value_of_the_declared_type_is_accepted_as_it_is(annotation, value):
    assert accepted(annotation, value) is value


# What each annotation refuses, and the message ------------------------------------------------

REFUSED = [
    # numbers: finite, not bools, whole where int
    ("float", NAN, "nan is not a finite number", "give a finite number"),
    ("float", INF, "inf is not a finite number", "give a finite number"),
    ("float", -INF, "-inf is not a finite number", "give a finite number"),
    ("float", True, "True is a bool, not a number", "give a finite number"),
    ("float", "1.5", "'1.5' is a str, not a number", "give a finite number"),
    ("float", None, "None was given, not a number", "give a finite number"),
    ("int", NAN, "nan is not a finite number", "give a whole number (int)"),
    ("int", -INF, "-inf is not a finite number", "give a whole number (int)"),
    ("int", 4.0, "4.0 is a float, not a whole number", "give a whole number (int)"),
    ("int", 2.5, "2.5 is a float, not a whole number", "give a whole number (int)"),
    ("int", True, "True is a bool, not a whole number", "give a whole number (int)"),
    ("int", "4", "'4' is a str, not a whole number", "give a whole number (int)"),
    ("bool", 1, "1 is an int, not True or False", "give True or False"),
    ("bool", "yes", "'yes' is a str, not True or False", "give True or False"),
    ("str", 5, "5 is an int, not a str", "give a str"),
    ("str", None, "None was given, not a str", "give a str"),
    # classes: the article follows the name
    ("Endpoint", Gpu(), None, "give an Endpoint"),
    ("Gpu", "rtx", "'rtx' is a str, not a Gpu", "give a Gpu"),
    ("Closable", 3, "3 is an int, not a Closable", "give a Closable"),
    ("Callable[[], int]", 3, "3 is an int, not a Callable", "give a Callable"),
    ("list[int]", (1,), "(1,) is a tuple, not a list", "give a list"),
    # optional and unions
    ("int | None", "3", "'3' is a str, not a whole number", "give a whole number (int) or None"),
    ("typing.Optional[float]", NAN, "nan is not a finite number", "give a finite number or None"),
    ("Gpu | None", 0, "0 is an int, not a Gpu", "give a Gpu or None"),
    ("int | str", 2.5, "2.5 is a float, not a whole number (int) or a str", "give a whole number (int) or a str"),
    (
        "typing.Union[int, str]",
        None,
        "None was given, not a whole number (int) or a str",
        "give a whole number (int) or a str",
    ),
    ("int | str | None", 2.5, "2.5 is a float, not a whole number (int) or a str or None", None),
    ("typing.Literal['a', 'b']", "c", "'c' is not one of 'a', 'b'", None),
    ("None", 0, "0 is not None", None),
    # lists and tuples: the item at fault is named
    ("tuple[int, ...]", [1, 2], "[1, 2] is a list, not a list or tuple", "give a list of int"),
    ("tuple[int, ...]", "12", "'12' is a str, not a list or tuple", "give a list of int"),
    ("tuple[int, ...]", (1, NAN), "item 1: nan is not a finite number", "give a list of int"),
    ("tuple[float, ...]", (1.0, 2.0, "3"), "item 2: '3' is a str, not a number", "give a list of number"),
    ("tuple[bool, ...]", (0,), "item 0: 0 is an int, not True or False", "give a list of bool"),
    ("tuple[Gpu, ...]", (Gpu(), None), "item 1: None was given, not a Gpu", "give a list of Gpu"),
    ("tuple[Endpoint | None, ...]", (1,), None, "give a list of Endpoint or None"),
    ("typing.Tuple", 5, "5 is an int, not a list or tuple", "give a list"),
    ("tuple", 5, "5 is an int, not a tuple", "give a tuple"),
    # mappings: the entry at fault is named
    ("dict[str, int]", [("a", 1)], "[('a', 1)] is a list, not a mapping", "give a dict of str to int"),
    ("dict[str, int]", {1: 1}, "entry 1: 1 is an int, not a str", "give a dict of str to int"),
    ("dict[str, int]", {"a": 1, "b": 1.5}, "entry 'b': 1.5 is a float, not a whole number", None),
    ("Mapping[str, float]", {"a": INF}, "entry 'a': inf is not a finite number", "give a dict of str to number"),
    ("typing.Dict", "a=1", "'a=1' is a str, not a mapping", "give a dict"),
    ("dict", "a=1", "'a=1' is a str, not a dict", "give a dict"),
    # enums: the fix gives an example member
    ("Color", "red", "'red' is a str, not a Color", "give a member of Color, e.g. Color.RED"),
    ("Color | None", "red", "'red' is a str, not a Color", "give a Color or None"),
    ("Empty", "x", "'x' is a str, not an Empty", "give a member of Empty"),
]


@pytest.mark.parametrize(
    ("annotation", "value", "problem", "fix"), REFUSED, ids=[case_id(a, v) for a, v, _p, _f in REFUSED]
)
def test_a_value_of_another_type_is_refused_naming_the_field_the_problem_and_the_fix(annotation, value, problem, fix):
    error = refusal(annotation, value)
    if problem is not None:
        assert error.problem == problem
    if fix is not None:
        assert error.fix == fix
    assert str(error) == f"Props.knob: {error.problem}. Fix: {error.fix}"


def test_a_wrong_object_for_a_class_says_what_was_given_and_what_belongs():
    error = refusal("Endpoint", Gpu())
    assert error.problem.startswith("<tests.test_typed_fields.Gpu object at ")
    assert error.problem.endswith("> is a Gpu, not an Endpoint")


def test_an_optional_list_of_classes_names_the_item_it_refuses_and_both_choices_in_the_fix():
    error = refusal("tuple[Endpoint | None, ...]", (None, 1))
    assert error.problem == "item 1: 1 is an int, not an Endpoint"
    assert error.fix == "give a list of Endpoint or None"


def test_a_union_of_several_types_and_none_names_every_choice_in_the_fix():
    error = refusal("int | str | None", 2.5)
    assert error.fix == "give a whole number (int) or a str or None"


def test_an_enum_fields_example_is_its_default():
    error = refusal("Color", "blue", default=Color.BLUE)
    assert error.fix == "give a member of Color, e.g. Color.BLUE"


def test_an_enum_field_whose_default_is_no_member_gives_the_first_member():
    error = refusal("Color", "blue", default="red")
    assert error.fix == "give a member of Color, e.g. Color.RED"


# Own validators and the type check ---------------------------------------------------------------


def test_the_fields_own_validator_runs_first_and_its_message_is_kept():
    seen: list[object] = []

    def own(instance, attribute, value):
        seen.append(value)
        raise HomelabConfigError("Props.knob", "too small", "give more")

    error = refusal("int", "x", validator=own)
    assert seen == ["x"]
    assert (error.problem, error.fix) == ("too small", "give more")


def test_a_type_error_of_the_own_validator_on_a_wrong_type_becomes_the_type_check_message():
    def own(instance, attribute, value):
        return value + 1  # TypeError for a str

    error = refusal("int", "4", validator=own)
    assert (error.problem, error.fix) == ("'4' is a str, not a whole number", "give a whole number (int)")


@pytest.mark.parametrize("raised", [TypeError, ValueError, AttributeError, KeyError, IndexError])
def test_each_error_a_validator_raises_on_a_wrong_type_becomes_the_type_check_message(raised):
    def own(instance, attribute, value):
        raise raised("the validator tripped over the value")

    assert refusal("float", "1", validator=own).problem == "'1' is a str, not a number"


@pytest.mark.parametrize("raised", [TypeError, ValueError, AttributeError, KeyError, IndexError])
def test_an_error_of_the_own_validator_on_a_value_of_the_right_type_is_raised_as_it_is(raised):
    def own(instance, attribute, value):
        raise raised("a bug in the validator, not bad input")

    with pytest.raises(raised, match="a bug in the validator"):
        declare("int", validator=own)(3)


def test_an_unexpected_error_of_the_own_validator_is_not_turned_into_a_type_message():
    def own(instance, attribute, value):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        declare("int", validator=own)("x")


def test_a_value_the_own_validator_lets_through_is_still_type_checked():
    passed: list[object] = []
    error = refusal("int", NAN, validator=lambda i, a, value: passed.append(value))
    assert len(passed) == 1
    assert passed[0] is NAN
    assert error.problem == "nan is not a finite number"


def test_a_field_without_an_own_validator_is_type_checked():
    Props = declare("int")
    assert repr(attrs.fields(Props).knob.validator) == "<typed None>"
    assert refusal("int", "x").problem == "'x' is a str, not a whole number"


def test_the_wrapped_validator_shows_the_own_one_in_its_repr():
    def own(instance, attribute, value):
        """Accepts everything."""

    Props = declare("int", validator=own)
    assert repr(attrs.fields(Props).knob.validator) == f"<typed {own!r}>"


def test_every_field_of_a_class_is_wrapped_and_keeps_its_own_validator():
    @attrs.frozen(kw_only=True, field_transformer=v.typed_fields)
    class Props:
        name: str = attrs.field(validator=v.dns1123_label)
        size: float = attrs.field(default=1.0, validator=v.positive)
        tags: tuple[str, ...] = attrs.field(default=(), converter=v.as_tuple)

    fields = attrs.fields(Props)
    assert [type(f.validator) for f in fields] == [v._Typed] * 3
    assert fields.name.validator.own is v.dns1123_label
    assert fields.size.validator.own is v.positive
    assert fields.tags.validator.own is None
    assert [f.name for f in fields] == ["name", "size", "tags"]
    assert Props(name="ok", size=2, tags=["a"]).tags == ("a",)
    with pytest.raises(HomelabConfigError, match=r"^Props\.size: 0 must be a finite number greater than zero"):
        Props(name="ok", size=0)
    with pytest.raises(HomelabConfigError, match=r"^Props\.name: 'Bad' is not a DNS-1123 label"):
        Props(name="Bad")


def test_is_typed_needs_every_field_to_check_its_type():
    @attrs.frozen(field_transformer=v.typed_fields)
    class Typed:
        a: int
        b: str

    @attrs.frozen
    class Plain:
        a: int

    def first_only(cls, fields):
        return [fields[0].evolve(validator=v._Typed(None)), *fields[1:]]

    @attrs.frozen(field_transformer=first_only)
    class Half:
        a: int
        b: str

    assert [v.is_typed(Typed), v.is_typed(Plain), v.is_typed(Half)] == [True, False, False]


def test_a_class_whose_annotations_cannot_be_resolved_is_not_type_checked():
    """A name imported only for type checking: no check rather than a crash at declaration."""
    Props = declare("NotImportedHere")
    assert Props(3).knob == 3
    assert v._hints(Props) == {}


def test_a_class_with_an_annotation_that_is_no_type_is_not_type_checked():
    Props = declare("3 + 'x'")  # evaluating it raises TypeError
    assert Props("anything").knob == "anything"
    assert v._hints(Props) == {}


def test_a_field_without_an_annotation_is_not_type_checked():
    Props = attrs.make_class("Props", {"knob": attrs.field()}, frozen=True, field_transformer=v.typed_fields)
    assert v.is_typed(Props)
    assert Props(NAN).knob is NAN


def test_check_type_names_the_field_of_the_instance_class():
    @attrs.frozen(field_transformer=v.typed_fields)
    class GpuProps:
        vram_gib: float

    with pytest.raises(HomelabConfigError) as caught:
        GpuProps(vram_gib=NAN)
    assert str(caught.value) == "GpuProps.vram_gib: nan is not a finite number. Fix: give a finite number"


# is_number -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(0, True), (-2, True), (0.5, True), (1e308, True)],
        *[(True, False), (False, False), (NAN, False), (INF, False), (-INF, False), ("1", False), (None, False)],
    ],
)
def test_is_number_means_a_finite_int_or_float_and_not_a_bool(value, expected):
    assert v.is_number(value) is expected


# Converters ----------------------------------------------------------------------------------------


def _generator() -> Iterator[int]:
    yield from (1, 2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[([1, 2], (1, 2)), ({3}, (3,)), (range(2), (0, 1)), (frozenset(), ())],
        *[("ab", "ab"), (b"ab", b"ab"), ({"a": 1}, {"a": 1}), (7, 7), (None, None)],
    ],
)
def test_as_tuple_turns_collections_into_tuples_and_leaves_the_rest_for_the_type_check(value, expected):
    assert v.as_tuple(value) == expected
    assert type(v.as_tuple(value)) is type(expected)


def test_as_tuple_keeps_a_tuple_and_drains_a_generator():
    same = (1, 2)
    assert v.as_tuple(same) is same
    assert v.as_tuple(_generator()) == (1, 2)


def test_a_lone_string_for_a_list_is_refused_by_name_not_split_into_letters():
    error = refusal("tuple[str, ...]", "abc", converter=v.as_tuple)
    assert error.problem == "'abc' is a str, not a list or tuple"


def test_as_dict_copies_any_mapping_into_a_dict_and_leaves_the_rest():
    proxy = MappingProxyType({"a": 1})
    assert type(v.as_dict(proxy)) is dict
    assert v.as_dict(proxy) == {"a": 1}
    pairs = [("a", 1)]
    assert v.as_dict(pairs) is pairs
    assert v.as_dict(None) is None


def test_as_path_makes_a_path_of_a_string_or_a_path_like_and_leaves_the_rest():
    assert v.as_path("models/x") == Path("models/x")
    assert isinstance(v.as_path("models/x"), Path)
    assert v.as_path(_Path()) == Path("/data/models")
    assert v.as_path(3) == 3
    assert v.as_path(None) is None


def test_string_tuple_keeps_one_string_whole():
    assert v.string_tuple("admin") == ("admin",)
    assert v.string_tuple(["a", "b"]) == ("a", "b")
    assert v.string_tuple(x for x in "ab") == ("a", "b")


# How a message names a type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "name", "bare"),
    [
        (int, "a whole number (int)", "int"),
        (float, "a finite number", "number"),
        (bool, "True or False", "bool"),
        (str, "a str", "str"),
        (Endpoint, "an Endpoint", "Endpoint"),
        (Gpu, "a Gpu", "Gpu"),
        (typing.Optional[int], "a whole number (int) or None", "int or None"),  # noqa: UP045 - typing.Union on purpose
        (typing.Union[Gpu, str], "a Gpu or a str", "Gpu or str"),  # noqa: UP007 - typing.Union on purpose
        (int | None, "a whole number (int) or None", "int or None"),
        (tuple[int, ...], "a list of int", "a list of int"),
        (typing.Tuple, "a list", "a list"),  # noqa: UP006 - the bare typing form on purpose
        (tuple, "a tuple", "tuple"),
        (tuple[float, ...], "a list of number", "a list of number"),
        (dict[str, bool], "a dict of str to bool", "a dict of str to bool"),
        (Mapping[str, Gpu], "a dict of str to Gpu", "a dict of str to Gpu"),
        (typing.Dict, "a dict", "a dict"),  # noqa: UP006 - the bare typing form on purpose
        (dict, "a dict", "dict"),
        (Callable, "a Callable", "Callable"),
    ],
)
def test_a_type_is_named_in_words(annotation, name, bare):
    assert v._type_name(annotation) == name
    assert v._type_name(annotation, bare=True) == bare


def test_a_type_without_a_name_is_named_by_its_text():
    assert v._type_name(typing.ForwardRef("Later")) == "a ForwardRef('Later')"


@pytest.mark.parametrize(
    ("value", "said"),
    [(None, "None was given"), (4, "4 is an int"), ("x", "'x' is a str"), (1.5, "1.5 is a float")],
)
def test_what_was_given_is_said_with_its_type(value, said):
    assert v._got(value) == said


@pytest.mark.parametrize(
    ("name", "with_article"),
    [("int", "an int"), ("Endpoint", "an Endpoint"), ("str", "a str"), ("Upstream", "an Upstream"), ("Gpu", "a Gpu")],
)
def test_the_article_follows_the_first_letter(name, with_article):
    assert v._article(name) == with_article
