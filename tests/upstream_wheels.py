"""Upstream releases that ship on PyPI, downloaded once per machine and read straight from the wheel.

The wheel goes to ``.cache/upstream/`` in the repository (gitignored) the first time a test asks
for it; later runs reuse it. Only single files are read out of the zip, nothing is unpacked. With
PyPI out of reach the test fails and says so: a contract that could not be checked is not a pass.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "upstream"
DOWNLOAD_TIMEOUT = 900  # seconds: the open-webui wheel is about 100 MB


def wheel(project: str, version: str) -> Path:
    """The path of ``project==version``'s wheel in the cache, downloaded with pip when absent."""
    stem = project.replace("-", "_")
    found = sorted(CACHE.glob(f"{stem}-{version}-*.whl"))
    if found:
        return found[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--dest", str(CACHE), f"{project}=={version}"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip download {project}=={version} took over {DOWNLOAD_TIMEOUT}s: is PyPI reachable?")
    found = sorted(CACHE.glob(f"{stem}-{version}-*.whl"))
    if result.returncode != 0 or not found:
        pytest.fail(
            f"could not download {project}=={version} from PyPI into {CACHE} to check the contract against its "
            f"source (pip exited {result.returncode}):\n{result.stderr.strip()[-2000:]}\n"
            "Fix: give this machine access to PyPI (or put the wheel in that folder) and run the tests again."
        )
    return found[0]


def read(wheel_path: Path, member: str) -> str:
    """One file of the wheel, as text."""
    with zipfile.ZipFile(wheel_path) as archive:
        return archive.read(member).decode()


_ENV_CALLS = {("os", "getenv"), ("environ", "get")}


def _env_literal(node: ast.AST) -> str | None:
    """'NAME' for os.getenv('NAME', ...), os.environ.get('NAME', ...) and os.environ['NAME']."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        owner = node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
        first = node.args[0]
        if (owner_name, node.func.attr) in _ENV_CALLS and isinstance(first, ast.Constant):
            return first.value if isinstance(first.value, str) else None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
    return None


def env_reads(source: str) -> dict[str, list[int]]:
    """Every env var the module reads by a literal name, with the lines it reads it on."""
    reads: dict[str, list[int]] = defaultdict(list)
    for node in ast.walk(ast.parse(source)):
        name = _env_literal(node)
        if name is not None:
            reads[name].append(node.lineno)
    return dict(reads)


def env_sources_of_names(sources: list[str]) -> dict[str, set[str]]:
    """For each module-level name: the env vars its value is derived from (through other names, transitively).

    Modules are read in order, so names a later module imports from an earlier one keep what they
    derive from (config.py imports DATA_DIR and the rest from env.py).
    """
    derived: dict[str, set[str]] = defaultdict(set)
    for source in sources:
        for statement in ast.parse(source).body:
            targets: list[ast.expr] = []
            if isinstance(statement, ast.Assign):
                targets, value = statement.targets, statement.value
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                targets, value = [statement.target], statement.value
            else:
                continue
            found: set[str] = set()
            for node in ast.walk(value):
                if (name := _env_literal(node)) is not None:
                    found.add(name)
                elif isinstance(node, ast.Name) and node.id in derived:
                    found |= derived[node.id]
            for target in targets:
                if isinstance(target, ast.Name):
                    derived[target.id] |= found
    return dict(derived)


def default_config_keys(source: str, mapping_name: str = "DEFAULT_CONFIG") -> dict[str, str]:
    """The database-backed settings: key -> the module-level name its default comes from."""
    for statement in ast.parse(source).body:
        if (
            isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == mapping_name for t in statement.targets)
            and isinstance(statement.value, ast.Dict)
        ):
            return {
                key.value: value.id
                for key, value in zip(statement.value.keys, statement.value.values, strict=True)
                if isinstance(key, ast.Constant) and isinstance(value, ast.Name)
            }
    raise AssertionError(f"{mapping_name} = {{...}} not found")


def method_source(source: str, class_name: str, method: str) -> str:
    """``class_name.method``'s body, unparsed (comments and formatting gone), for shape checks."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == method:
                    body = item.body
                    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                        body = body[1:]  # the docstring
                    return "\n".join(ast.unparse(s) for s in body)
    raise AssertionError(f"{class_name}.{method} not found")


def cited_lines(lines: str) -> list[int]:
    """'L247, L298-306, L2924' -> every line number it names."""
    numbers: list[int] = []
    for start, end in re.findall(r"L(\d+)(?:-(\d+))?", lines):
        numbers.extend(range(int(start), int(end or start) + 1))
    return numbers
