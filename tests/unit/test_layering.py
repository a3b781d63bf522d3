"""Layering: modules depend downward only, and on another package only through its ``__init__``.

An AST walk over every file in ``src/airlock`` (every ``import`` and ``from … import``,
including imports inside functions and under ``if TYPE_CHECKING:``, absolute and relative)
checks DESIGN.md's rules ("Modules depend downward only"):

- **no upward import**: a module imports only packages of its own layer or below (``LAYERS``);
- **no cycle between packages**: peers of one layer may import each other only while the
  package-level import graph stays acyclic;
- **no private import across packages**: ``airlock.x._y`` (in any form, and ``from airlock.x
  import _y``) only from inside ``airlock.x``; other packages use ``airlock.x``'s ``__init__``.

Decisions not spelled out in DESIGN.md, made here:

- The Python API is one of the public surfaces (DESIGN.md: "CLI, Python API, HTTP"), so
  the root package (``airlock/__init__.py``, the curated lazy API), ``airlock/_api.py`` (its
  read-side helpers over the store) and ``airlock/__main__.py`` share the top layer with
  ``cli`` and ``ui``: the CLI may call the API it mirrors (``cli/_runs.py`` →
  ``airlock._api``) while no cycle forms. Below the top layer nothing imports the root
  except ``airlock.__version__``: Python imports the root package before any submodule
  anyway, and ``__version__`` is a constant it defines itself, so that import adds no
  dependency; any other name of the root (the lazy API) would import a higher layer.
- The root-level modules ``_config``, ``_yaml`` and ``_files`` are private to the
  distribution, not to a package: every package uses them (DESIGN.md: "Reuse the one
  mechanism"). Their private names (``from airlock._files import _x``) stay off limits.
- A sub-package is a package of its own for the private rule (``registry.flavors`` imports
  ``airlock.registry``, not ``airlock.registry._signature``), and part of its top-level
  package for layers and cycles.
- A package of DESIGN.md that does not exist yet (``batch``, ``experiments``, ``prompts``,
  ``llm`` while it is being written) is simply empty; a package on disk that is missing from
  ``LAYERS`` fails, so each new package gets a place in the order.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "airlock"

# DESIGN.md's order, top to bottom; each tuple is one layer of peers (the root API on top).
FACADE = "airlock"
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "ui", FACADE, "_api", "__main__"),
    ("serve", "batch", "experiments", "evidence"),
    ("gates", "evaluation", "monitor", "guard", "llm"),
    ("registry", "prompts", "tracking", "contracts", "predlog"),
    ("data",),
    ("store",),
    ("report", "_yaml", "_files", "_config", "errors"),
)
RANK = {unit: depth for depth, layer in enumerate(LAYERS) for unit in layer}
# names the root package defines itself: importing them runs nothing above the importer
ROOT_CONSTANTS = frozenset({"__version__"})

# Folders with an __init__.py that are not packages with an API of their own: for the
# private rule they (and the folders in them) are part of their parent.
SCRIPT_FOLDERS = {
    # Alembic's scripts: env.py needs store's ORM metadata, which never leaves store/
    "airlock.store.migrations": "airlock.store",
}

# (importing file relative to src/airlock, imported module): known, temporary exceptions.
ALLOWED: frozenset[tuple[str, str]] = frozenset({
})


@dataclass(frozen=True)
class Import:
    """One imported module (and name, for ``from m import name``) at one line of one file."""

    file: str       # relative to src/airlock, e.g. "cli/_guard.py"
    line: int
    module: str     # the importing module, e.g. "airlock.cli._guard"
    package: str    # the importing module's package, e.g. "airlock.cli"
    target: str     # the imported module, e.g. "airlock.guard._jsonl"
    name: str | None = None  # the imported name when it is not a module

    def __str__(self) -> str:
        return f"{self.file}:{self.line} → {self.target}"


def unit(module: str) -> str:
    """The layer unit of a dotted airlock module: its top-level package (or root module)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def on_disk(src: Path = SRC) -> dict[str, Path]:
    """Every module and package under ``src`` by dotted name (packages by their __init__)."""
    found: dict[str, Path] = {}
    for path in sorted(src.rglob("*.py")):
        parts = ["airlock", *path.relative_to(src).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(module: str, is_package: bool, source: str, known: set[str],
               file: str) -> list[Import]:
    """Every airlock import in ``source`` (the text of ``module``), wherever it stands."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def add(line: int, target: str, name: str | None = None) -> None:
        if target == "airlock" or target.startswith("airlock."):
            home = next((parent for folder, parent in SCRIPT_FOLDERS.items()
                         if package == folder or package.startswith(folder + ".")), package)
            found.append(Import(file, line, module, home, target, name))

    for node in ast.walk(ast.parse(source, filename=file)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    add(node.lineno, sub)
                else:
                    add(node.lineno, base, None if alias.name == "*" else alias.name)
    return found


def all_imports(src: Path = SRC) -> list[Import]:
    modules = on_disk(src)
    known = set(modules)
    found: list[Import] = []
    for module, path in modules.items():
        found += imports_of(module, path.name == "__init__.py", path.read_text("utf-8"),
                            known, path.relative_to(src).as_posix())
    return found


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def private_violation(imp: Import, known: set[str]) -> str | None:
    """Why ``imp`` reaches into another package's private parts, or None."""
    parts = imp.target.split(".")
    for i, part in enumerate(parts[2:], start=2):  # parts[1] private: a root-level module
        owner = ".".join(parts[:i])
        if _private(part) and owner != imp.package:
            return f"private module of {owner}"
    if imp.name is not None and _private(imp.name):
        owner = imp.target if imp.target in known and _is_package(imp.target, known) \
            else imp.target.rpartition(".")[0]
        if owner != imp.package:
            return f"private name {imp.name} of {owner}"
    return None


def _is_package(module: str, known: set[str]) -> bool:
    return module == "airlock" or any(m.startswith(module + ".") for m in known)


def layer_violation(imp: Import) -> str | None:
    """Why ``imp`` goes up (or outside) DESIGN.md's layer order, or None."""
    source, target = unit(imp.module), unit(imp.target)
    if target == FACADE and imp.name in ROOT_CONSTANTS:
        return None
    for u in (source, target):
        if u not in RANK:
            return f"package {u!r} is not in DESIGN.md's layer order (add it to LAYERS)"
    if RANK[target] < RANK[source]:
        return f"upward: {source} imports {target}"
    return None


def cycles(imports: list[Import]) -> list[list[str]]:
    """The package-level import cycles (strongly connected components of two or more)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        a, b = unit(imp.module), unit(imp.target)
        if a != b and not (b == FACADE and imp.name in ROOT_CONSTANTS):
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph has a few dozen nodes
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(imports: list[Import], known: set[str],
               allowed: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """Every offending import as ``file:line → target (reason)``, then every cycle."""
    checked = [i for i in imports if (i.file, i.target) not in allowed]
    out = [f"{imp} ({why})" for imp in checked
           for why in (layer_violation(imp), private_violation(imp, known)) if why]
    for component in cycles(checked):
        members = set(component)
        edges = dict.fromkeys(str(i) for i in checked
                              if unit(i.module) in members and unit(i.target) in members
                              and unit(i.module) != unit(i.target))
        out.append(f"cycle between {', '.join(component)}: " + "; ".join(edges))
    return list(dict.fromkeys(out))  # one line per file:line → target and reason


# -- the tree ---------------------------------------------------------------------------
def test_every_package_has_a_layer() -> None:
    units = {unit(m) for m in on_disk()}
    assert sorted(units - set(RANK)) == []
    assert {"store", "registry", "cli", "errors"} <= units  # the walk found the tree


def test_no_upward_cycle_or_private_import() -> None:
    imports = all_imports()
    assert len(imports) > 200, "the walk found the imports"
    bad = violations(imports, set(on_disk()), ALLOWED)
    assert not bad, "imports breaking DESIGN.md's layering:\n" + "\n".join(bad)


def test_allow_list_has_no_stale_entries() -> None:
    """Each exception still excuses something: once its import is gone (or fixed), the entry
    has to go too."""
    imports, known = all_imports(), set(on_disk())
    with_all = violations(imports, known, ALLOWED)
    stale = [e for e in sorted(ALLOWED) if violations(imports, known, ALLOWED - {e}) == with_all]
    assert not stale, f"delete these entries from ALLOWED, nothing needs them: {stale}"


# -- the checker itself, on small sources -----------------------------------------------
KNOWN = {"airlock", "airlock.errors", "airlock._files", "airlock.cli", "airlock.cli._guard",
         "airlock.cli._common", "airlock.guard", "airlock.guard._jsonl", "airlock.store",
         "airlock.store._engine", "airlock.registry", "airlock.registry._signature",
         "airlock.registry.flavors", "airlock.registry.flavors._base", "airlock.monitor",
         "airlock.monitor._metrics", "airlock.evaluation", "airlock.gates", "airlock.llm"}


def _check(module: str, source: str, *, is_package: bool = False) -> list[str]:
    file = module.replace(".", "/") + ("/__init__.py" if is_package else ".py")
    return violations(imports_of(module, is_package, source, KNOWN, file), KNOWN)


@pytest.mark.parametrize("source", [
    "from airlock.guard._jsonl import read_jsonl",
    "import airlock.guard._jsonl",
    "import airlock.guard._jsonl as j",
    "from airlock.guard import _jsonl",
    "from ..guard._jsonl import read_jsonl",
    "from ..guard import _jsonl",
    "from airlock.guard import _hidden_helper",
    "def f():\n    from airlock.guard._jsonl import read_jsonl",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from airlock.guard._jsonl import X",
])
def test_a_private_import_across_packages_fails(source: str) -> None:
    bad = _check("airlock.cli._guard", source)
    assert len(bad) == 1 and bad[0].startswith("airlock/cli/_guard.py:"), bad
    assert "private" in bad[0] and "airlock.guard" in bad[0]


@pytest.mark.parametrize("source", [
    "from airlock.cli._common import x",
    "from . import _common",
    "from ._common import x",
    "from airlock.guard import Guard",
    "from airlock import errors",
    "from airlock.errors import UsageError",
    "from airlock._files import write_atomic",
    "from airlock import __version__",
    "import json\nfrom pathlib import Path",
])
def test_allowed_imports_pass(source: str) -> None:
    assert _check("airlock.cli._guard", source) == []


@pytest.mark.parametrize(("module", "source"), [
    ("airlock.store._engine", "from airlock.registry import x"),
    ("airlock.store._engine", "def f():\n    import airlock.cli"),
    ("airlock.monitor._metrics", "from ..cli import app"),
    ("airlock.errors", "from airlock.store import get_store"),
    ("airlock.registry._signature", "from airlock import load_model"),  # the lazy root API
    ("airlock.store._engine", "from airlock._api import get_run"),
])
def test_an_upward_import_fails(module: str, source: str) -> None:
    bad = _check(module, source)
    assert len(bad) == 1 and "upward" in bad[0], bad


def test_a_sub_package_is_a_package_for_the_private_rule() -> None:
    assert _check("airlock.registry.flavors._base", "from .._signature import x") != []
    assert _check("airlock.registry._signature", "from .flavors._base import x") != []
    assert _check("airlock.registry._signature", "from .flavors import Flavor") == []
    assert _check("airlock.registry.flavors", "from ._base import x", is_package=True) == []


def test_peer_imports_pass_until_they_make_a_cycle() -> None:
    one_way = (imports_of("airlock.monitor._metrics", False, "from airlock.evaluation import x",
                          KNOWN, "monitor/_metrics.py"))
    assert violations(one_way, KNOWN) == []
    back = imports_of("airlock.evaluation", True, "def f():\n    import airlock.monitor",
                      KNOWN, "evaluation/__init__.py")
    bad = violations(one_way + back, KNOWN)
    assert bad == ["cycle between evaluation, monitor: monitor/_metrics.py:1 → "
                   "airlock.evaluation; evaluation/__init__.py:2 → airlock.monitor"]


def test_unknown_packages_fail_and_missing_ones_are_fine() -> None:
    bad = _check("airlock.newthing._x", "from airlock.store import get_store")
    assert bad and "'newthing' is not in DESIGN.md's layer order" in bad[0]
    assert _check("airlock.llm._run", "from airlock.guard import Guard") == []
    assert "llm" in RANK and "batch" in RANK and "prompts" in RANK and "experiments" in RANK


def test_the_allow_list_is_exact() -> None:
    imports = imports_of("airlock.cli._guard", False, "from airlock.guard._jsonl import x",
                         KNOWN, "cli/_guard.py")
    assert violations(imports, KNOWN, frozenset({("cli/_guard.py", "airlock.guard._jsonl")})) \
        == []
    assert violations(imports, KNOWN, frozenset({("cli/_llm.py", "airlock.guard._jsonl")}))
