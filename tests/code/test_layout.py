"""The library's shape: the method's modules at the top of pdtlib/, packages by stage below, each
importing only from the stages under it, no import cycle; and the README's layout table, which
draws that shape, kept true to the tree."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import pdtlib

ROOT = Path(pdtlib.__file__).resolve().parent
PROJECT = ROOT.parent
# The method (paper §2-3) and the tiny things it needs: the top level of pdtlib/.
METHOD = {"pdtlib", "pdtlib.audio", "pdtlib.features", "pdtlib.models", "pdtlib.pairs", "pdtlib.losses",
          "pdtlib.seeds"}
# Each stage may import the method, its own package and the stages before it in this list, never after.
STAGES = ["system", "corpora", "evaluation", "training", "serving", "report", "study"]


def modules() -> dict[str, Path]:
    """Every module of pdtlib by its dotted name (a package by its own name)."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The pdtlib modules `name` imports, anywhere in it (functions and TYPE_CHECKING blocks too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "pdtlib"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "pdtlib":
                base = node.module
            else:
                continue
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return out - {name}


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def stage(name: str) -> int:
    """-1 for the method's modules, else the index of the module's package in STAGES."""
    if name in METHOD:
        return -1
    return STAGES.index(name.split(".")[1])


def test_the_top_of_pdtlib_is_the_method_and_every_package_is_a_stage():
    top = {name for name in modules() if name.count(".") <= 1}
    assert top - {f"pdtlib.{s}" for s in STAGES} == METHOD
    assert {f"pdtlib.{s}" for s in STAGES} <= top


def test_nothing_imports_upward():
    wrong = [f"{a} imports {b}" for a, targets in graph().items() for b in targets
             if stage(b) > stage(a) or (stage(a) == -1 and b not in METHOD)]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycle():
    edges = graph()
    state, cycles = {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)


def test_no_private_name_is_imported_across_modules():
    private = [f"{name}: {alias.name}" for name, path in modules().items()
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)
               for alias in node.names if alias.name.startswith("_") and alias.name != "__version__"]
    assert not private, "\n".join(private)


def test_no_module_is_over_400_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > 400}
    assert not long, long


# ---------------------------------------------------------------- the README's layout table

def layout_table() -> str:
    text = (PROJECT / "README.md").read_text()
    return text[text.index("## Layout"):].split("\n## ", 1)[0]


def test_the_readme_layout_lists_every_package_and_only_those():
    table = layout_table()
    listed = set(re.findall(r"`(pdtlib/(?:[\w]+/)*)`", table))
    packages = {str(p.parent.relative_to(PROJECT)) + "/" for p in ROOT.rglob("__init__.py")}
    assert listed == packages, (sorted(listed - packages), sorted(packages - listed))
    top_row = next(line for line in table.splitlines() if line.startswith("| `pdtlib/` |"))
    assert set(re.findall(r"`(\w+\.py)`", top_row)) == {p.name for p in ROOT.glob("*.py")}


def test_the_readme_layout_names_the_committed_reports():
    if shutil.which("git") is None or not (PROJECT / ".git").exists():
        pytest.skip("not a git checkout")
    files = subprocess.run(["git", "-c", "filter.nbstripout.clean=cat", "ls-files", "reports"], cwd=PROJECT,
                           capture_output=True, text=True, check=True).stdout.split()
    committed = {f.split("/")[1] for f in files if f.count("/") >= 2}
    row = next(line for line in layout_table().splitlines() if line.startswith("| `reports/` |"))
    assert set(re.findall(r"`([\w-]+)/`", row.split("committed:", 1)[1])) == committed
