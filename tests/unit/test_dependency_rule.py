"""The dependency rule of the architecture, enforced on every import statement.

``streams`` (the event contract) and ``ops`` (``/health``, ``/metrics``, process tuning) import
nothing of ours; ``logio`` (the log's clients: appending, topic admin) imports ``streams``;
``edge_producer``, ``agents`` and ``projections`` import ``streams``, ``ops`` and ``logio``
(``agents`` may also use ``projections``); ``api`` imports ``streams``, ``ops``, ``logio`` and
``projections``, never ``agents`` or ``edge_producer``. Tools around the product (``stack``,
``simulator``, ``evaluation``, ``modelops``, ``cli``, ``benchmarks``) may import the product's
packages but are never imported by them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"streams", "ops", "logio", "edge_producer", "agents", "projections", "api", "stack",
        "simulator", "cli", "evaluation", "modelops", "benchmarks", "tests"}
ALLOWED: dict[str, set[str]] = {
    "streams": set(),
    "ops": set(),
    "logio": {"streams"},
    "edge_producer": {"streams", "ops", "logio"},
    "projections": {"streams", "ops", "logio"},
    "agents": {"streams", "ops", "logio", "projections"},
    "api": {"streams", "ops", "logio", "projections"},
    "simulator": {"streams"},
    "stack": {"streams", "logio", "projections"},
    "evaluation": {"streams", "agents", "simulator", "modelops"},
    "modelops": {"streams", "logio", "agents", "projections"},
}


def imported_packages(path: Path, root: Path = ROOT) -> set[str]:
    """Top-level packages of ours that a module imports (absolute and relative imports)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    package = path.relative_to(root).parts[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                found.add(package)
            elif node.module:
                found.add(node.module.split(".")[0])
    return found & OURS


def violations(package: str, root: Path = ROOT) -> list[str]:
    problems = []
    allowed = ALLOWED[package] | {package}
    for path in sorted((root / package).rglob("*.py")):
        bad = imported_packages(path, root) - allowed
        if bad:
            problems.append(f"{path.relative_to(root)} imports {sorted(bad)}")
    return problems


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_rule_allows(package: str) -> None:
    if not (ROOT / package).is_dir():
        pytest.skip(f"{package}/ does not exist yet")
    assert violations(package) == []


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    package = tmp_path / "streams"
    package.mkdir()
    (package / "probe.py").write_text("from api.app import create_app\nimport agents\n")
    (package / "fine.py").write_text("from streams.events import ScanRecorded\n")
    assert violations("streams", tmp_path) == ["streams/probe.py imports ['agents', 'api']"]


def third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = {alias.name.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, ast.Import) for alias in node.names}
    return found | {node.module.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module and not node.level}


def test_the_worker_needs_no_training_stack() -> None:
    """Training (scikit-learn, skl2onnx, the ONNX graph builders' fitting) lives in
    ``modelops/export``; the agents only load and score models."""
    training = {"sklearn", "skl2onnx"}
    found = {str(p.relative_to(ROOT)): third_party(p) & training
             for p in sorted((ROOT / "agents").rglob("*.py"))}
    assert {p: bad for p, bad in found.items() if bad} == {}
    assert third_party(ROOT / "modelops" / "export" / "iforest.py") & training  # it is there


def module_imports(path: Path) -> set[str]:
    """Our modules a module imports (``a.b`` of ``from a.b import c`` and of ``import a.b``;
    ``from a import b`` counts ``a.b`` when that is a module), type-checking imports too."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OURS - {"tests"}}


def test_no_two_modules_import_each_other() -> None:
    """Cycles between modules (a type-checking import included) make a room hard to read and
    to split; none is allowed, inside a package or across."""
    modules = {}
    for package in OURS - {"tests", "benchmarks"}:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    graph = {name: {m for m in module_imports(path) if m in modules and m != name}
             for name, path in modules.items()}
    pairs = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps
                    if a in graph.get(b, set())})
    assert pairs == []
