"""The public API a user reads: `__all__`, what public functions return, every props field documented.

docs/api.md is generated from the same code (python -m homelab_ai.cli.api_reference); the committed
page is checked against it like docs/ai-namespace.md.
"""

from __future__ import annotations

import ast
import enum
import inspect
import re
import sys
import types

import attrs
import pytest

import homelab_ai
from homelab_ai.cli.api_reference import field_docs, render_api_reference

PUBLIC = {name: getattr(homelab_ai, name) for name in homelab_ai.__all__}
PROPS = {name: obj for name, obj in PUBLIC.items() if inspect.isclass(obj) and attrs.has(obj)}
# Units a number or duration field must name (a count says so: "number of", "count", "replicas"; a user or
# group ID says UID or GID).
_UNITS = re.compile(
    r"\b(GiB|MiB|cores?|millicores|seconds?|minutes?|hours?|days?|port|percent|number of|count|replicas?|"
    r"slices?|how many|characters|UID|GID)\b",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"\b(int|float|timedelta)\b")


def test_all_holds_only_public_names_that_exist():
    assert sorted(homelab_ai.__all__) == homelab_ai.__all__
    assert [n for n in homelab_ai.__all__ if n.startswith("_")] == []
    assert [n for n, o in PUBLIC.items() if isinstance(o, types.ModuleType)] == []


def test_all_lists_every_public_class_the_package_exports():
    exported = {n for n in dir(homelab_ai) if not n.startswith("_") and inspect.isclass(getattr(homelab_ai, n))}
    assert exported <= set(homelab_ai.__all__)


def _returned_names(obj: object) -> set[str]:
    """Class names in the return annotation of a function, or of a class's public methods and properties."""
    functions = []
    if inspect.isclass(obj):
        for name, member in vars(obj).items():
            if name.startswith("_"):
                continue
            if isinstance(member, property) and member.fget is not None:
                functions.append(member.fget)
            elif inspect.isfunction(member):
                functions.append(member)
    elif inspect.isfunction(obj):
        functions.append(obj)
    names: set[str] = set()
    for function in functions:
        annotation = function.__annotations__.get("return")
        if isinstance(annotation, str):
            tree = ast.parse(annotation, mode="eval")
            names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return names


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_types_that_public_functions_return_are_exported(name):
    obj = PUBLIC[name]
    module = sys.modules[obj.__module__] if hasattr(obj, "__module__") else homelab_ai
    unexported = []
    for returned in _returned_names(obj):
        target = getattr(module, returned, None)
        defined_here = getattr(target, "__module__", "").startswith("homelab_ai")
        if inspect.isclass(target) and defined_here and target not in PUBLIC.values():
            unexported.append(returned)
    assert unexported == [], f"{name} returns {unexported}: add them to homelab_ai.__all__"


@pytest.mark.parametrize("name", sorted(PROPS))
def test_every_props_field_has_a_one_line_doc(name):
    cls = PROPS[name]
    docs = field_docs(cls)
    missing = [f.name for f in attrs.fields(cls) if not docs.get(f.name)]
    multi_line = [f for f, doc in docs.items() if "\n" in doc]
    assert missing == [], f"{name}: fields without a doc under them"
    assert multi_line == []


@pytest.mark.parametrize("name", sorted(PROPS))
def test_every_props_field_doc_states_its_default(name):
    cls = PROPS[name]
    docs = field_docs(cls)
    wrong = []
    for field in attrs.fields(cls):
        doc = docs.get(field.name, "")
        says = "Required" if field.default is attrs.NOTHING else "Default"
        if says.lower() not in doc.lower():
            wrong.append(f"{field.name} (should say {says!r})")
    assert wrong == []


@pytest.mark.parametrize("name", sorted(PROPS))
def test_every_numeric_props_field_doc_names_its_unit(name):
    cls = PROPS[name]
    docs = field_docs(cls)
    # The class body's fields only: a method's annotated local variable is not a field.
    body = ast.parse(inspect.cleandoc(inspect.getsource(cls))).body[0].body
    annotations = {
        n.target.id: ast.unparse(n.annotation)
        for n in body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    without_unit = [
        f for f, kind in annotations.items() if _NUMERIC.search(kind) and not _UNITS.search(docs.get(f, ""))
    ]
    assert without_unit == []


def test_field_docs_reads_the_string_under_each_field():
    @attrs.frozen
    class Example:
        size_gib: int = 1
        """Size of the claim in GiB. Default 1."""
        name: str = "x"

    assert field_docs(Example) == {"size_gib": "Size of the claim in GiB. Default 1."}


def test_enumerations_are_exported_with_their_members_documented_in_the_reference():
    page = render_api_reference()
    for name, obj in PUBLIC.items():
        if inspect.isclass(obj) and issubclass(obj, enum.Enum):
            assert f"### `{name}`" in page
            assert all(f"`{member.name}`" in page for member in obj)


def test_committed_api_reference_is_what_the_code_generates(repo_root):
    """Drift check (a golden copy): docs/api.md must be regenerated when the public API changes."""
    committed = (repo_root / "docs/api.md").read_text()
    assert committed == render_api_reference(), "docs/api.md is stale: run `make synth`"
