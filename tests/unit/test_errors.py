"""The one exception tree: every airlock error lives in airlock.errors and is drawn in its
docstring; one wording for a file that does not exist, used by every reader."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from airlock import errors
from airlock.errors import NO_SUCH_FILE, GuardBlocked, NotFound, NotificationFailed

SRC = Path(errors.__file__).parent


def test_every_airlock_error_is_defined_in_errors() -> None:
    outside = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.asname or alias.name for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module == "airlock.errors"
                    for alias in node.names}
        outside += [f"{path.relative_to(SRC)}: {node.name}" for node in ast.walk(tree)
                    if isinstance(node, ast.ClassDef)
                    and any(isinstance(b, ast.Name) and b.id in imported for b in node.bases)]
    assert outside == []
    assert issubclass(GuardBlocked, errors.AirlockError)
    assert issubclass(NotificationFailed, errors.AirlockError)


def test_the_docstring_draws_every_class() -> None:
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.AirlockError):
            assert re.search(rf"\b{name}\s+exit {cls.exit_code}, HTTP {cls.http_status}\b",
                             errors.__doc__ or ""), name


def test_moved_errors_keep_their_public_names() -> None:
    from airlock import monitor
    from airlock.serve import _guardrails

    assert monitor.NotificationFailed is NotificationFailed
    assert _guardrails.GuardBlocked is GuardBlocked
    blocked = GuardBlocked("blocked", redacted="rows")
    assert (blocked.http_status, blocked.redacted, str(blocked)) == (403, "rows", "blocked")


def test_one_wording_for_a_missing_file(tmp_path: Path) -> None:
    from airlock.contracts import Contract
    from airlock.data import fingerprint
    from airlock.gates import load_policy
    from airlock.guard import load_guard_policy
    from airlock.monitor import Profile

    missing = tmp_path / "missing.yaml"
    cases = [
        (lambda: Contract.from_yaml(missing), "contract file"),
        (lambda: load_guard_policy(missing), "guard policy file"),
        (lambda: load_policy(missing), "policy file"),
        (lambda: Profile.load(missing), "profile file"),
        (lambda: fingerprint(missing), "file or directory"),
    ]
    for call, what in cases:
        with pytest.raises(NotFound) as info:
            call()
        assert str(info.value) == NO_SUCH_FILE.format(what=what, path=missing)


def test_no_other_wording_of_file_not_found_in_src() -> None:
    pattern = re.compile(r"""(not found: \{(path|src|head)|no such (file|\w+ file)|"""
                         r"""does not exist")""")
    hits = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py")
            if p.name != "errors.py" and p.name != "_mlflow.py"  # a file named inside a model
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line) and "NotFound(" in line]
    assert hits == []
