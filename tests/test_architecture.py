"""The package's layers: a module imports only from its own layer or the layers below it.

A reader can then tell a file's role from its folder, and nothing low (a validator, a Secret)
ever depends on something high (a service, the CLI). The check reads every import statement,
including those inside functions and ``if TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "homelab_ai"

# Lowest first. homelab_ai/__init__.py re-exports the public API from every layer below the CLI.
LAYERS = ("_crds", "base", "secrets", "cluster", "gpu", "services", "stack", "synth", "ops", "cli")
IN_POD_PROGRAMS = {
    "cluster/longhorn/longhorn_jobs.py",
    "services/ollama/ollama_pull.py",
    "services/stable_diffusion/sd_fetch_models.py",
    "services/stable_diffusion/sd_idle_unloader.py",
    "services/vram_arbiter/vram_arbiter.py",
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_crds" not in p.relative_to(PACKAGE).parts)


@functools.cache
def _imported(path: Path) -> set[str]:
    """Every homelab_ai module or package ``path`` imports, absolute or relative."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(("homelab_ai", *path.relative_to(PACKAGE).parent.parts))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "homelab_ai" or name.startswith("homelab_ai.")}


# The package itself (homelab_ai/__init__.py, the public API) sits just below the CLI.
_PUBLIC_API = LAYERS.index("cli") - 0.5


def _layer(module: str) -> float | None:
    parts = module.split(".")
    if parts == ["homelab_ai"]:
        return _PUBLIC_API
    if len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(("homelab_ai", *parts))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_its_own_layer_or_lower(path):
    own = _layer(_module_name(path))
    assert own is not None, f"{path} is in no layer"
    upward = sorted(m for m in _imported(path) if (layer := _layer(m)) is not None and layer > own)
    assert not upward, f"{path.relative_to(PACKAGE)} imports from a higher layer: {upward}"


def test_every_module_sits_in_a_layer_folder():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert loose == []
    assert folders <= set(LAYERS)


def test_modules_import_each_other_without_cycles():
    graph = {_module_name(p): {m for m in _imported(p) if m != "homelab_ai"} for p in _modules()}
    modules = set(graph)
    graph = {m: {d for d in deps if d in modules and d != m and not m.startswith(d + ".")} for m, deps in graph.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            cycle = (*path[path.index(module) :], module)
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        if module in done:
            return
        for dep in sorted(graph[module]):
            visit(dep, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_cdk8s_plus_is_imported_in_one_place_only():
    importers = sorted(
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if any(
            (isinstance(n, ast.Import) and any(a.name.startswith("cdk8s_plus_27") for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").startswith("cdk8s_plus_27"))
            for n in ast.walk(ast.parse(p.read_text()))
        )
    )
    assert importers == ["base/plus.py"]


@pytest.mark.parametrize("program", sorted(IN_POD_PROGRAMS))
def test_in_pod_programs_import_only_the_standard_library(program):
    tree = ast.parse((PACKAGE / program).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported - {"__future__"} <= sys.stdlib_module_names
