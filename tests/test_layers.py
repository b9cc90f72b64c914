"""The package's import graph: no circle anywhere, and no import running up the layers from
matching down (matching → archive → signals → media); the tuning module and a few shared
helpers sit below them all."""

import ast
from pathlib import Path

import firstseen

SRC = Path(firstseen.__file__).parent
LAYERS = ["matching", "archive", "signals", "media"]  # each imports only those after it
BELOW_ALL = {"firstseen", "firstseen.errors", "firstseen.text", "firstseen.config"}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of the package it imports, anywhere in it (TYPE_CHECKING too)."""
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = {other for other in found if other in modules and other != name}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_circle():
    graph = _imports(_modules())
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError(
                "import circle: " + " -> ".join([*path[path.index(module) :], module])
            )
        if module in done:
            return
        for other in sorted(graph[module]):
            visit(other, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_no_import_runs_up_the_layers():
    graph = _imports(_modules())
    upward = []
    for module, imported in sorted(graph.items()):
        layer = _layer(module)
        if layer == "tuning":
            upward += [(module, other) for other in imported if _layer(other) != "tuning"]
        elif layer in LAYERS:
            allowed = set(LAYERS[LAYERS.index(layer) :]) | {"tuning"}
            upward += [
                (module, other)
                for other in sorted(imported)
                if other not in BELOW_ALL and _layer(other) not in allowed
            ]
    assert not upward
