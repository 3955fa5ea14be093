"""The shape of the code: imports run downward with no cycle, functions stay simple, the public
API is small and its docstring examples run."""

from __future__ import annotations

import ast
import doctest
import itertools
import pathlib
import shutil
import subprocess

import pytest

import aezoo

ROOT = pathlib.Path(aezoo.__file__).parent
# DESIGN.md's floors: a module may import its own floor or lower floors, never higher ones.
FLOORS = {
    "aezoo.errors": 0,
    "aezoo._validate": 0,
    "aezoo._files": 0,
    "aezoo._flags": 0,
    "aezoo._registry": 0,
    "aezoo._plugins": 0,
    "aezoo._cores": 0,
    "aezoo._lock": 0,
    "aezoo.losses": 1,
    "aezoo.nn": 1,
    "aezoo.data": 1,
    "aezoo.viz": 1,
    "aezoo.models": 2,
    "aezoo.rundir": 2,  # the record, read and built in one place, below training
    "aezoo.train": 3,
    "aezoo.rundir.run": 4,  # the run folder as one object, above training
    "aezoo.eval": 4,
    "aezoo.samplers": 4,
    "aezoo.tasks": 4,
    "aezoo.bench": 5,
    "aezoo.cli": 6,
    "aezoo._parsers": 6,
    "aezoo.commands": 6,
    "aezoo": 6,  # the package's __init__: the public API re-exports everything
}


def _module_name(path: pathlib.Path) -> str:
    parts = ("aezoo", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _floor(module: str) -> int:
    while module not in FLOORS:
        module = module.rpartition(".")[0]
    return FLOORS[module]


def _imports(path: pathlib.Path, modules: dict[str, pathlib.Path]) -> set[str]:
    """The aezoo modules ``path`` imports, anywhere in the file (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import submodule` depends on the submodule; `from pkg import name`
            # on the package itself.
            names = [f"{node.module}.{a.name}" for a in node.names]
            if any(n not in modules for n in names):
                names.append(node.module)
        else:
            continue
        for name in names:
            if name in modules:
                found.add(name)
            elif name.rpartition(".")[0] in modules and name.startswith("aezoo"):
                found.add(name.rpartition(".")[0])
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {m: _imports(p, modules) - {m} for m, p in modules.items()}
    # `from aezoo.x import y` also runs aezoo.x's package __init__ files; ignore the root's.
    return {m: {t for t in targets if t != "aezoo" or m == "aezoo"} for m, targets in graph.items()}


@pytest.mark.unit
def test_imports_only_run_downward():
    upward = [
        f"{module} (floor {_floor(module)}) imports {target} (floor {_floor(target)})"
        for module, targets in _graph().items()
        for target in targets
        if _floor(target) > _floor(module)
    ]
    assert not upward, upward


@pytest.mark.unit
def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, cycles


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """Import cycles (depth-first search), except a package and its own submodules."""
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return [c for c in cycles if not _package_init_only(c)]


def _package_init_only(cycle: str) -> bool:
    nodes = cycle.split(" -> ")
    return all(b.startswith(a + ".") or a.startswith(b + ".") for a, b in itertools.pairwise(nodes))


def test_the_checks_find_an_upward_import_and_a_cycle(tmp_path):
    """The checks above fail when the property breaks (on a synthetic package)."""
    modules = {"aezoo.models.x": tmp_path / "x.py", "aezoo.train.y": tmp_path / "y.py"}
    modules["aezoo.models.x"].write_text("def f():\n    from aezoo.train.y import g\n")
    modules["aezoo.train.y"].write_text("from aezoo.models import x\n")
    found = _imports(modules["aezoo.models.x"], modules)
    assert found == {"aezoo.train.y"} and _floor("aezoo.train.y") > _floor("aezoo.models.x")
    graph = {m: _imports(p, modules) for m, p in modules.items()}
    assert _cycles(graph) == ["aezoo.models.x -> aezoo.train.y -> aezoo.models.x"]
    assert _cycles({"aezoo.train": {"aezoo.train.a"}, "aezoo.train.a": {"aezoo.train"}}) == []


@pytest.mark.unit
def test_functions_are_simple_by_ruffs_complexity_rules():
    """Complexity, not length: ruff's C901 / PLR0912 / PLR0913 / PLR0915 as configured in
    pyproject.toml (branches, arguments, statements)."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    rules = "C901,PLR0912,PLR0913,PLR0915"
    proc = subprocess.run(
        [ruff, "check", "--select", rules, "--output-format", "concise", str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT.parent,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.unit
def test_the_formatter_lays_out_every_line():
    """No `# fmt: skip`: lines are never joined to get under a limit."""
    skipped = [
        f"{path.relative_to(ROOT)}:{i}"
        for path in sorted(ROOT.rglob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if "fmt: skip" in line
    ]
    assert not skipped, skipped


@pytest.mark.unit
def test_public_api_is_small_and_complete():
    assert set(aezoo.__all__) >= {"fit", "load", "evaluate", "TrainConfig", "get", "MODELS"}
    assert {"AezooError", "ConfigError", "ShapeError", "DataError", "CheckpointError"} <= set(
        aezoo.__all__
    )
    for name in aezoo.__all__:
        assert hasattr(aezoo, name), name
    for name in ("make_train_step", "make_train_epoch", "make_eval_fn", "create_train_state"):
        assert hasattr(aezoo.train, name), name


@pytest.mark.slow  # each example trains a model: in the full suite
@pytest.mark.optax
@pytest.mark.parametrize("module", ["aezoo", "aezoo.train.loop"])
def test_docstring_examples_run(module):
    import importlib

    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
