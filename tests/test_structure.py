"""The project's structure: layers import only downwards, no import circle, and it installs.

Layers, lowest first (DESIGN.md section 10): model <- engines <- analysis <- reporting <- cli. A
module may import its own layer or a lower one, never a higher one, and no set of modules may
import each other in a loop.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from experiments import cli

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("model", "experiments")
# Module (or package prefix) -> layer. The longest matching prefix decides. Within a layer a
# module may import another (no circle); analysis never imports the named experiments.
LAYERS = {
    "model": 0,
    "experiments": 1,  # the package's face (__init__, nothing in it)
    "experiments.files": 1,
    "experiments.engines": 1,
    "experiments.analysis": 2,
    "experiments.run": 2,  # the Python API over the engines (+ KPI-only streaming)
    "experiments.definitions": 3,  # named experiments: parameter sets over the analysis
    "experiments.reporting": 3,
    "experiments.explorer": 3,  # the interactive app over the reporting figures
    "experiments.plan": 4,
    "experiments.results": 4,
    "experiments.cli": 4,
    "experiments.__main__": 4,
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def layer(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def project_imports(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports (at any depth: lazy imports count too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name in known:
                out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    graph = {name: project_imports(path, known) - {name} for name, path in found.items()}
    # importing a package's module names the package only as a path, not as a dependency
    return {
        name: {t for t in targets if not (t in PACKAGES_OF(known) and name.startswith(t + "."))}
        for name, targets in graph.items()
    }


def PACKAGES_OF(known: set[str]) -> set[str]:
    return {m for m in known if any(k.startswith(m + ".") for k in known)}


def test_every_module_has_a_layer():
    for name in modules():
        assert layer(name) >= 0, name


def test_no_lower_layer_imports_a_higher_one():
    upward = [
        f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
        for source, targets in import_graph().items()
        for target in targets
        if layer(target) > layer(source)
    ]
    assert upward == []


def test_the_layer_check_catches_an_upward_import(tmp_path):
    # the checker itself: an engines module that imported the CLI would be reported
    source = tmp_path / "bad.py"
    source.write_text("from experiments.cli import main\nimport model\n")
    imports = project_imports(source, set(modules()))
    assert "experiments.cli" in imports
    assert layer("experiments.cli") > layer("experiments.engines.vectorized")


def test_no_import_circle():
    graph = import_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_sys_path_edit_anywhere():
    offenders = []
    for pattern in ("*.py", "*.ipynb"):
        for path in ROOT.rglob(pattern):
            if ".venv" in path.parts or "build" in path.parts or path.name == "test_structure.py":
                continue
            if "sys.path.insert" in path.read_text() or "sys.path.append" in path.read_text():
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_installs_and_imports_every_module_from_outside_the_checkout(tmp_path):
    """A real (non-editable) install into a temporary target, imported from another folder."""
    target = tmp_path / "site"
    done = subprocess.run(
        [
            sys.executable,
            *("-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"),
            *("--no-cache-dir", "--target", str(target), str(ROOT)),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = sorted(modules())
    script = (
        "import importlib, json, sys\n"
        f"names = {names!r}\n"
        "files = {n: importlib.import_module(n).__file__ for n in names if n != 'experiments.__main__'}\n"
        "print(json.dumps(files))\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=elsewhere, capture_output=True, text=True, env=env
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    files = json.loads(ran.stdout)
    assert len(files) == len(names) - 1
    assert all(Path(f).is_relative_to(target) for f in files.values()), files
    # the report templates travel with the package
    assert list((target / "experiments" / "reporting" / "templates").glob("*.j2"))
    # the console script is declared
    assert (target / "bin" / "sesh-experiments").is_file()


def test_params_json_lists_every_parameter_with_its_schema(capsys):
    assert cli.main(["params", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    from model import Parameters

    assert [r["name"] for r in rows] == list(Parameters.names())
    required = {"name", "default", "unit", "min", "max", "meaning", "source"}
    for row in rows:
        assert required <= set(row), row
        assert isinstance(row["meaning"], str) and row["meaning"], row
        assert isinstance(row["source"], str) and row["source"], row
        if isinstance(row["default"], (int, float)) and not isinstance(row["default"], bool):
            assert row["min"] <= row["default"] <= row["max"], row
    fee = next(r for r in rows if r["name"] == "fee_pool_share")
    assert (fee["default"], fee["min"], fee["max"]) == (0.9, 0.0, 1.0)


def test_params_table_shows_the_allowed_range_and_meaning(capsys):
    assert cli.main(["params"]) == 0
    out = capsys.readouterr().out
    line = next(li for li in out.splitlines() if li.startswith("fee_pool_share "))
    assert "0 .. 1" in line and "Staking Reward Pool" in line
