"""YAML parsing for the tests: libyaml's parser when PyYAML has it (the same safe constructor, several times faster).

The tests parse every manifest they render, often many times; the library's own parsing is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    return yaml.load(text, Loader=LOADER)


def load_yaml_all(text: str | bytes) -> Iterator[Any]:
    return yaml.load_all(text, Loader=LOADER)
