"""The curated public API: ``__all__`` is the truth, imports stay light, errors are mapped."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import airlock
from airlock import errors

SRC = Path(__file__).resolve().parents[2] / "src" / "airlock"
# folders with an __init__.py that have no API of their own
NOT_PACKAGES = (
    # Alembic's script folders: their __init__.py files are empty and only make setuptools
    # ship env.py and the revisions with store
    "airlock.store.migrations",
)
# ``if TYPE_CHECKING:`` needs the name; it is a flag for type checkers, not an API
TYPING_FLAGS = {"TYPE_CHECKING"}
HEAVY = ["sqlalchemy", "pandas", "polars", "sklearn", "numpy"]


def _packages() -> list[str]:
    found = []
    for init in sorted(SRC.rglob("__init__.py")):
        name = ".".join(["airlock", *init.parent.relative_to(SRC).parts])
        if not any(name == n or name.startswith(n + ".") for n in NOT_PACKAGES):
            found.append(name)
    return found


PACKAGES = _packages()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _bound_at_top(body: list[ast.stmt]) -> set[str]:
    """Names an ``__init__`` binds at module level (in ``if``/``try``/``with`` blocks too, so
    ``if TYPE_CHECKING:`` imports count): imported with ``from``, defined or assigned.
    ``import x`` binds a module, and a module is never an exported member."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                names |= _bound_at_top(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                names |= _bound_at_top(handler.body)
    return names


def _init_source(package: str) -> str:
    parts = package.split(".")[1:]
    return (SRC.joinpath(*parts) / "__init__.py").read_text(encoding="utf-8")


def test_every_package_is_checked() -> None:
    assert {"airlock", "airlock.store", "airlock.registry", "airlock.registry.flavors",
            "airlock.contracts", "airlock.cli", "airlock.ui", "airlock.serve",
            "airlock.predlog"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_listed_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert names, package
    assert len(names) == len(set(names)), f"{package}.__all__ lists a name twice"
    assert [n for n in names if _private(n)] == [], f"{package}.__all__ lists private names"
    missing = [n for n in names if getattr(module, n, None) is None]
    assert missing == [], f"{package}.__all__ lists names it does not define: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_listed(package: str) -> None:
    """httpx's exported-members test, from both sides: what the ``__init__`` binds (its AST,
    so ``if TYPE_CHECKING:`` imports count) and what the module holds once imported. Modules
    (submodules, ``import typer``) are not members."""
    module = importlib.import_module(package)
    bound = _bound_at_top(ast.parse(_init_source(package)).body)
    held = {n for n, v in vars(module).items() if not isinstance(v, types.ModuleType)
            and type(v).__module__ != "__future__"}  # from __future__ import annotations
    public = {n for n in bound | held if not n.startswith("_")} - TYPING_FLAGS
    public -= {n for n in public if isinstance(getattr(module, n, None), types.ModuleType)}
    unlisted = sorted(public - set(module.__all__))
    assert unlisted == [], (f"{package} has public names missing from __all__ (list them, "
                            f"or make them private): {unlisted}")


def test_the_lazy_root_names_what_it_type_checks() -> None:
    """Every lazy name of ``airlock`` is imported under ``if TYPE_CHECKING:`` from the module
    that ``__getattr__`` loads it from, so mypy and the running code agree."""
    tree = ast.parse(_init_source("airlock"))
    checked = {a.asname or a.name: node.module for block in tree.body
               if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
               for node in block.body if isinstance(node, ast.ImportFrom)
               for a in node.names}
    assert checked == airlock._LAZY


def test_all_names_resolve_and_dir_matches() -> None:
    assert len(airlock.__all__) == len(set(airlock.__all__))
    for name in airlock.__all__:
        value = getattr(airlock, name)
        assert value is not None, name
    assert dir(airlock) == sorted(airlock.__all__)
    assert isinstance(airlock.__version__, str)
    assert airlock.errors is errors


def test_lazy_names_are_the_real_objects() -> None:
    from airlock.data import fingerprint
    from airlock.registry import LoadedModel, load_model, register_model
    from airlock.tracking import Run, start_run

    assert airlock.register_model is register_model
    assert airlock.load_model is load_model
    assert airlock.LoadedModel is LoadedModel
    assert airlock.start_run is start_run
    assert airlock.Run is Run
    assert airlock.fingerprint is fingerprint
    public_callables = [n for n in airlock.__all__ if n not in ("__version__", "errors")]
    for name in public_callables:
        assert callable(getattr(airlock, name)), name
        assert getattr(importlib.import_module(airlock._LAZY[name]), name) is \
            getattr(airlock, name), name


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = airlock.no_such_thing  # type: ignore[attr-defined]
    assert "no_such_thing" not in dir(airlock)


def test_import_airlock_is_light_and_fast() -> None:
    code = textwrap.dedent(f"""
        import json, sys, time
        t0 = time.perf_counter()
        import airlock
        elapsed = time.perf_counter() - t0
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        print(json.dumps({{"elapsed": elapsed, "heavy": heavy, "n": len(airlock.__all__)}}))
    """)
    best = None
    for _ in range(3):  # the fastest of three, so a busy machine does not flake the test
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["heavy"] == [], result
        assert result["n"] == len(airlock.__all__)
        best = result["elapsed"] if best is None else min(best, result["elapsed"])
        if best < 0.5:
            break
    assert best is not None and best < 0.5, f"import airlock took {best:.3f}s"


# -- errors -------------------------------------------------------------------------------
def _error_classes() -> list[type[errors.AirlockError]]:
    return [obj for _, obj in inspect.getmembers(errors, inspect.isclass)
            if obj.__module__ == errors.__name__]


def test_every_error_derives_from_airlock_error() -> None:
    classes = _error_classes()
    assert sorted(c.__name__ for c in classes) == sorted(errors.__all__)
    for cls in classes:
        assert issubclass(cls, errors.AirlockError), cls
        assert issubclass(cls, Exception)
        assert type(cls.exit_code) is int, cls
        assert type(cls.http_status) is int, cls
        assert 400 <= cls.http_status <= 599, cls
        err = cls(f"something about {cls.__name__}")
        assert str(err) == f"something about {cls.__name__}"
        assert err.message == str(err)


def test_exit_codes_and_http_statuses() -> None:
    for cls in _error_classes():
        assert cls.exit_code == (1 if cls is errors.CheckFailed else 2), cls
    assert errors.NotFound.http_status == 404
    assert errors.InvalidInput.http_status == 422
    assert errors.UsageError.http_status == 400
    assert errors.IntegrityError.http_status == 409
    assert errors.UntrustedArtifact.http_status == 403
    assert errors.CheckFailed.http_status == 409
    # InvalidInput and NotFound are usage errors: callers can catch them together
    assert issubclass(errors.NotFound, errors.UsageError)
    assert issubclass(errors.InvalidInput, errors.UsageError)
    assert not issubclass(errors.IntegrityError, errors.UsageError)
