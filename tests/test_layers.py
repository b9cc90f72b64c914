"""The tree's shape: imports only go down the layers, and no modules import each other in a
circle (docs/architecture.md). Read from the source with `ast`, so nothing is imported."""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "firstseen"

# Libraries that only the archive's own modules may use: the rest of firstseen reaches the catalog
# and the vector indexes through their interfaces (archive/catalog_api.py), so that another
# database or index can stand in for the embedded ones.
STORAGE_LIBRARIES = {"sqlite3", "faiss", "psycopg", "psycopg_pool", "pymilvus", "milvus_lite"}
# What of FAISS the rest may use: exhaustive k-NN over arrays in memory (keypoint matching), which
# stores nothing, and the calling thread's own OpenMP thread count around it.
FAISS_KERNELS = {"knn_hamming", "omp_get_max_threads", "omp_set_num_threads"}

# Lowest first; a module may import its own layer and those below. The top-level helpers (errors,
# text, config and deployment files, tuning) sit under everything.
LAYERS = [
    (
        "firstseen.errors",
        "firstseen.text",
        "firstseen.config",
        "firstseen.deployment",
        "firstseen.tuning",
    ),
    ("firstseen.media",),
    ("firstseen.signals",),
    ("firstseen.archive",),
    ("firstseen.matching",),
    ("firstseen.evidence",),
    ("firstseen.engine",),
    ("firstseen.cli", "firstseen.server", "firstseen.__main__"),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    if module == "firstseen":  # the package itself: its version
        return 0
    for level, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names):
            return level
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _imports(tree: ast.AST, module: str, package: bool) -> set[str]:
    """The firstseen modules this source imports, anywhere in it (type-checking imports too)."""
    found: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("firstseen"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("firstseen"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _graph() -> dict[str, set[str]]:
    sources = {_module_name(p): p for p in SOURCE.rglob("*.py")}
    graph = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(), str(path))
        imported = _imports(tree, module, path.name == "__init__.py")
        graph[module] = {name for name in imported if name in sources and name != module}
    return graph


def test_no_import_runs_up_the_layers() -> None:
    upward = [
        f"{module} imports {other}"
        for module, others in _graph().items()
        for other in others
        if _layer(other) > _layer(module)
    ]
    assert upward == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its modules is not a circle with them.
    edges = {m: {o for o in others if not m.startswith(o + ".")} for m, others in graph.items()}
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for other in sorted(edges[module]):
            if state.get(other) == 1:
                circles.append(" -> ".join([*path[path.index(other) :], other]))
            elif other not in state:
                visit(other, [*path, other])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def _libraries(tree: ast.AST) -> set[str]:
    """The top-level packages this source imports, anywhere in it; relative imports are its own."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def _storage_uses(tree: ast.AST) -> set[str]:
    """The storage libraries this source uses, FAISS only where it reaches past its kernels."""
    used = _libraries(tree) & STORAGE_LIBRARIES
    reached = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "faiss"
    }
    plain_import = any(
        isinstance(node, ast.Import) and any(a.name == "faiss" and not a.asname for a in node.names)
        for node in ast.walk(tree)
    )
    if "faiss" in used and plain_import and reached <= FAISS_KERNELS:
        used.discard("faiss")
    return used


def test_only_the_archive_uses_storage_libraries() -> None:
    archive = SOURCE / "archive"
    users = [
        f"{path.relative_to(SOURCE.parent)} imports {', '.join(sorted(used))}"
        for path in sorted(SOURCE.rglob("*.py"))
        if archive not in path.parents
        and (used := _storage_uses(ast.parse(path.read_text(), str(path))))
    ]
    assert users == []


def test_outside_the_archive_faiss_is_only_a_kernel() -> None:
    """An index built or read outside archive/ counts as storage; a k-NN over arrays does not."""
    kernel = ast.parse("import faiss\nd, i = faiss.knn_hamming(a, b, 2)\n")
    index = ast.parse("import faiss\nindex = faiss.IndexFlatL2(512)\n")
    renamed = ast.parse("from faiss import IndexFlatL2\n")
    assert _storage_uses(kernel) == set()
    assert _storage_uses(index) == {"faiss"}
    assert _storage_uses(renamed) == {"faiss"}
